"""Pickers: choosing a listing, organization, deal or fair by name instead of typing its number.

One server-side search (`find`) serves both the type-ahead (`GET /pick/<kind>?q=`, JSON, static/js/picker.js)
and the plain form that works without JavaScript: a search box beside the field posts the form back with
`_pick=<field>`, and the view shows the matches as choices (`from_request`) without saving anything.
The typed words are matched literally (quotes, % and _ included: LIKE wildcards are escaped); a number
also finds the record of that number. At most SHOWN matches are listed; more means "refine your search".
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core import permissions
from matchmaker.core.form_fields import form_id
from models import Deal, Fair, Organization, ResearchResult, Session, TechNeed

KINDS = ("result", "need", "organization", "deal", "fair")
SHOWN = 20
MAX_TEXT = 100

bp = Blueprint("pickers", __name__)


@dataclass(frozen=True)
class Pick:
    id: int
    label: str
    detail: str = ""


@dataclass
class Picks:
    """What a search for `text` found: the first SHOWN matches; `more` when there were others."""

    kind: str
    text: str
    items: list[Pick] = field(default_factory=list)
    more: bool = False

    @property
    def message(self) -> str:
        if not self.text:
            return _("Type a few letters of the name first.")
        if not self.items:
            return _("Nothing matches “%(text)s”.", text=self.text)
        if self.more:
            return _("Only the first %(n)s matches are shown: refine your search.", n=SHOWN)
        return ""

    def as_json(self) -> dict[str, Any]:
        return {"items": [{"id": p.id, "label": p.label, "detail": p.detail} for p in self.items],
                "more": self.more, "message": self.message}


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match with LIKE's wildcards (% and _) taken literally."""
    return column.icontains(text, autoescape=True)


def _listing_query(model: Any, viewer: Any, text: str) -> Any:
    stmt = sa.select(model).where(_contains(model.title, text))
    if not permissions.is_staff(viewer):
        visible = model.status.in_(permissions.PUBLIC_STATUSES)
        if getattr(viewer, "organization_id", None):
            visible = sa.or_(visible, model.organization_id == viewer.organization_id)
        stmt = stmt.where(visible)
    return stmt.order_by(model.title, model.id)


def _label_listing(row: Any) -> Pick:
    return Pick(row.id, row.title, f"#{row.id}")


def _org_query(_viewer: Any, text: str) -> Any:
    return (sa.select(Organization).where(sa.or_(_contains(Organization.name, text),
                                                 _contains(sa.func.coalesce(Organization.name_en, ""), text)))
            .order_by(Organization.name, Organization.id))


def _label_org(row: Organization) -> Pick:
    return Pick(row.id, row.name, row.name_en or "")


def _deal_query(viewer: Any, text: str) -> Any:
    if not (permissions.can(viewer, "deal.manage") or permissions.can(viewer, "contract.manage")):
        return None
    seller = sa.orm.aliased(Organization)
    buyer = sa.orm.aliased(Organization)
    stmt = (sa.select(Deal).join(ResearchResult, ResearchResult.id == Deal.result_id)
            .outerjoin(TechNeed, TechNeed.id == Deal.need_id)
            .join(seller, seller.id == Deal.seller_org_id).join(buyer, buyer.id == Deal.buyer_org_id)
            .where(sa.or_(_contains(ResearchResult.title, text), _contains(sa.func.coalesce(TechNeed.title, ""), text),
                          _contains(seller.name, text), _contains(buyer.name, text)))
            .order_by(Deal.id.desc())
            .options(sa.orm.selectinload(Deal.result), sa.orm.selectinload(Deal.buyer_org)))
    if not permissions.is_staff(viewer):
        # A broker picks the deals of their board only: their own and the unassigned queue.
        stmt = stmt.where(sa.or_(Deal.broker_id == viewer.id, Deal.broker_id.is_(None)))
    return stmt


def _label_deal(row: Deal) -> Pick:
    return Pick(row.id, row.result.title, f"#{row.id} · {row.buyer_org.name if row.buyer_org else ''}")


def _fair_query(_viewer: Any, text: str) -> Any:
    return sa.select(Fair).where(_contains(Fair.name, text)).order_by(Fair.start_date.desc(), Fair.id.desc())


def _label_fair(row: Fair) -> Pick:
    return Pick(row.id, row.name, row.start_date.isoformat())


def _query(kind: str, viewer: Any, text: str) -> Any:
    if kind in ("result", "need"):
        return _listing_query(ResearchResult if kind == "result" else TechNeed, viewer, text)
    return {"organization": _org_query, "deal": _deal_query, "fair": _fair_query}[kind](viewer, text)


_LABELS = {"result": _label_listing, "need": _label_listing, "organization": _label_org, "deal": _label_deal,
           "fair": _label_fair}
_MODELS = {"result": ResearchResult, "need": TechNeed, "organization": Organization, "deal": Deal, "fair": Fair}


def find(kind: str, viewer: Any, text: str | None) -> Picks:
    """The records of `kind` whose name contains the text (and the one numbered so), as the viewer may
    see them."""
    if kind not in KINDS:
        raise KeyError(kind)
    text = " ".join((text or "").split())[:MAX_TEXT]
    picks = Picks(kind, text)
    if not text:
        return picks
    stmt = _query(kind, viewer, text)
    if stmt is None:
        return picks
    rows = list(Session.scalars(stmt.limit(SHOWN + 1)))
    number = form_id(text.lstrip("#"))
    if number is not None:
        exact = chosen(kind, viewer, number)
        if exact is not None and all(r.id != number for r in rows):
            picks.items.append(exact)
    picks.items += [_LABELS[kind](row) for row in rows[:SHOWN]]
    picks.more = len(rows) > SHOWN
    return picks


def chosen(kind: str, viewer: Any, record_id: Any) -> Pick | None:
    """The label of the record a field holds, if the viewer may see it."""
    number = form_id(record_id)  # a number no table can hold (a hand-made post) names nothing
    if number is None:
        return None
    stmt = _query(kind, viewer, "")
    if stmt is None:
        return None
    row = Session.scalar(stmt.where(_MODELS[kind].id == number))
    return _LABELS[kind](row) if row is not None else None


def from_request(form: Mapping[str, Any], fields: Mapping[str, str], viewer: Any) -> dict[str, Picks] | None:
    """The search a "find" button of a form asked for ({field: Picks}), or None when the form was
    submitted to be saved. `fields` maps each picker field's name to the kind it chooses."""
    name = form.get("_pick")
    if not name:
        return None
    if name not in fields:
        return {}
    return {name: find(fields[name], viewer, form.get(f"{name}__q"))}


def labels(fields: Mapping[str, str], values: Mapping[str, Any], viewer: Any) -> dict[str, Pick | None]:
    """What each picker field currently holds, by name."""
    return {name: chosen(kind, viewer, values.get(name)) for name, kind in fields.items()}


@bp.get("/pick/<any(result,need,organization,deal,fair):kind>")
@login_required
def pick(kind: str):
    """Type-ahead: the same search as the plain form, as JSON."""
    if kind in ("deal",) and not permissions.can(current_user, "deal.manage") \
            and not permissions.can(current_user, "contract.manage"):
        abort(403)
    return jsonify(find(kind, current_user, request.args.get("q")).as_json())
