"""Owners taking a suggestion off their own listing's matches, with a reason ("not relevant" teaches the
calibration that the pair was wrong, matching/learning.py)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, permissions
from matchmaker.core.errors import NotFound, ValidationFailed
from matchmaker.listings import lifecycle
from models import DismissReason, MatchDismissal, Session, listing_model, utcnow

OTHER_SIDE = {"need": "result", "result": "need"}
REASON_LABELS = {
    DismissReason.NOT_RELEVANT: _l("Not relevant"),
    DismissReason.ALREADY_KNOWN: _l("We know them already"),
    DismissReason.NOT_NOW: _l("Not now"),
}


def dismiss(user: Any, kind: str, listing_id: int, other_id: int, reason: str) -> MatchDismissal:
    """Take listing `other_id` off the matches of the user's own listing, for the given reason."""
    if kind not in OTHER_SIDE:
        raise NotFound(_("No such listing."))
    listing = Session.get(listing_model(kind), listing_id)
    other = Session.get(listing_model(OTHER_SIDE[kind]), other_id)
    if listing is None or other is None:
        raise NotFound(_("No such listing."))
    permissions.require(user, "listing.edit", _("Only the owner of a listing can dismiss its suggestions."), listing)
    if reason not in set(DismissReason):
        raise ValidationFailed({"reason": [_("Choose a reason from the list.")]})
    need_id, result_id = (listing.id, other.id) if kind == "need" else (other.id, listing.id)
    row = Session.scalar(sa.select(MatchDismissal).where(
        MatchDismissal.need_id == need_id, MatchDismissal.result_id == result_id, MatchDismissal.side == kind))
    if row is None:
        row = MatchDismissal(need_id=need_id, result_id=result_id, side=kind, user_id=user.id, reason=reason)
        Session.add(row)
        changes: dict[str, Any] = {"reason": [None, reason]}
    else:
        changes = audit.apply(row, {"reason": reason, "user_id": user.id, "created_at": utcnow()})
        changes.pop("created_at", None)
    audit.record(user.id, "match.dismiss", row, changes)
    Session.commit()
    return row


def dismissed_ids(listing: Any) -> set[int]:
    """Ids of the other side that the listing's owners took off its matches."""
    if listing.kind == "need":
        column, own = MatchDismissal.result_id, MatchDismissal.need_id
    else:
        column, own = MatchDismissal.need_id, MatchDismissal.result_id
    return set(Session.scalars(sa.select(column).where(own == listing.id, MatchDismissal.side == listing.kind)))


def removed(user: Any, listing: Any) -> list[tuple[Any, MatchDismissal]]:
    """For the listing's owners: the suggestions they removed, as (listing view, dismissal), newest first;
    listings the user may no longer see are left out."""
    if not permissions.can(user, "listing.edit", listing):
        return []
    other = listing_model(OTHER_SIDE[listing.kind])
    other_id = MatchDismissal.result_id if listing.kind == "need" else MatchDismissal.need_id
    own_id = MatchDismissal.need_id if listing.kind == "need" else MatchDismissal.result_id
    rows = Session.execute(sa.select(other, MatchDismissal).join(MatchDismissal, other_id == other.id)
                           .where(own_id == listing.id, MatchDismissal.side == listing.kind)
                           .order_by(MatchDismissal.created_at.desc(), MatchDismissal.id.desc()))
    return [(lifecycle.view_for(row, user), dismissal) for row, dismissal in rows
            if permissions.can(user, "listing.view", row)]


def restore(user: Any, kind: str, listing_id: int, other_id: int) -> None:
    """Put a removed suggestion back on the listing's matches (its "not relevant" label goes with it)."""
    if kind not in OTHER_SIDE:
        raise NotFound(_("No such listing."))
    listing = Session.get(listing_model(kind), listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    permissions.require(user, "listing.edit", _("Only the owner of a listing can dismiss its suggestions."), listing)
    need_id, result_id = (listing_id, other_id) if kind == "need" else (other_id, listing_id)
    row = Session.scalar(sa.select(MatchDismissal).where(
        MatchDismissal.need_id == need_id, MatchDismissal.result_id == result_id, MatchDismissal.side == kind))
    if row is None:
        raise NotFound(_("No such listing."))
    audit.record(user.id, "match.restore", row, {"reason": [row.reason, None]})
    Session.delete(row)
    Session.commit()
