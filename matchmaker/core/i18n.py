"""Locale choice and locale-aware formatting of money and dates (¥, 万元)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, jobs: the default unless wrapped in force_locale
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = request.args.get("lang")
    if lang in supported:
        session["lang"] = lang
        return lang
    if session.get("lang") in supported:
        return session["lang"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_lang() -> str:
    locale = get_locale()
    return locale.language if locale else "zh"


def yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100


def format_money(fen: int | None, lang: str | None = None, negotiable_label: str | None = None) -> str:
    """¥ amounts: 万元/亿元 in Chinese (how bureaus and listings state them), grouped yuan in English."""
    if fen is None:
        return negotiable_label or ""
    lang = lang or current_lang()
    amount = Decimal(fen) / 100
    if lang == "zh":
        if amount >= Decimal(100_000_000):
            return f"¥{_trim(amount / Decimal(100_000_000))}亿元"
        if amount >= Decimal(10_000):
            return f"¥{_trim(amount / Decimal(10_000))}万元"
        return f"¥{_trim(amount)}元"
    if amount == amount.to_integral():
        return f"¥{amount:,.0f}"
    return f"¥{amount:,.2f}"


def _trim(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, "yyyy-MM-dd HH:mm")
    return format_date(value, "yyyy-MM-dd") if current_lang() == "zh" else format_date(value, "medium")
