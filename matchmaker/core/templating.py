"""Jinja filters and globals: money and dates for the locale, code labels, permissions."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from matchmaker.core import i18n, permissions

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


def translation_dirs() -> list[str]:
    """One catalog folder per feature (translations/<feature>/<lang>/LC_MESSAGES); Flask-Babel merges them."""
    if not TRANSLATIONS.exists():
        return [str(TRANSLATIONS)]
    return sorted(str(p) for p in TRANSLATIONS.iterdir() if p.is_dir()) or [str(TRANSLATIONS)]


def _switch_lang_url(lang: str) -> str:
    args = dict(request.args)
    args["lang"] = lang
    return url_for(request.endpoint or "main.index", **(request.view_args or {}), **args)


# (endpoint, label, who sees it): shown only when the endpoint exists and the rule allows.
NAV = (
    ("listings.results", _l("Research results"), None),
    ("listings.needs", _l("Technical needs"), None),
    ("matching.search", _l("Smart search"), None),
    ("fairs.index", _l("Fairs"), None),
    ("stats.public", _l("Market statistics"), None),
    ("listings.mine", _l("My listings"), "user"),
    ("introductions.index", _l("Introductions"), "user"),
    ("deals.board", _l("Deals"), "deal.manage"),
    ("contracts.index", _l("Contracts"), "contract.manage"),
    ("stats.dashboard", _l("Statistics"), "stats.view"),
    ("admin.index", _l("Administration"), "listing.review"),
)


def nav_items() -> list[tuple[str, str, bool]]:
    items = []
    for endpoint, label, rule in NAV:
        if rule is None:
            visible = True
        elif rule == "user":
            visible = current_user.is_authenticated
        else:
            visible = permissions.can(current_user, rule)
        items.append((endpoint, str(label), visible))
    return items


def unread_count() -> int:
    if not current_user.is_authenticated:
        return 0
    import sqlalchemy as sa

    from models import Notification, Session

    stmt = sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))
    return Session.scalar(stmt) or 0


def org_name(org: object | None) -> str:
    """An organization's name in the page's language: the English name on English pages when it has one."""
    if org is None:
        return ""
    name_en = getattr(org, "name_en", None)
    return name_en if name_en and i18n.current_lang() == "en" else getattr(org, "name", "")


def init_app(app: Flask) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["money"] = lambda fen, negotiable=None: i18n.format_money(
        fen, negotiable_label=negotiable if negotiable is not None else _("Negotiable")
    )
    app.jinja_env.filters["day"] = i18n.format_day
    app.jinja_env.filters["org_name"] = org_name

    @app.context_processor
    def _globals() -> dict[str, object]:
        return {
            "current_lang": i18n.current_lang(),
            "switch_lang_url": _switch_lang_url,
            "can": permissions.can,
            "is_staff": permissions.is_staff,
            "nav_items": nav_items,
            "unread_count": unread_count,
        }
