"""Asking a broker: when the matching has nothing likely for a listing, its owner asks the brokers to
find a counterpart by hand. Brokers see the open requests, one takes it, and the owner learns who."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from matchmaker.core import audit, permissions
from matchmaker.core.errors import NotAllowed, NotFound, ValidationFailed
from matchmaker.core.notifications import notify
from models import HelpRequest, HelpRequestStatus, ListingStatus, Role, Session, User, utcnow

MAX_MESSAGE = 2000


def open_request_for(listing: Any) -> HelpRequest | None:
    column = HelpRequest.result_id if listing.kind == "result" else HelpRequest.need_id
    return Session.scalar(sa.select(HelpRequest).where(
        column == listing.id, HelpRequest.status != HelpRequestStatus.CLOSED))


def ask(user: Any, listing: Any, message: str = "") -> tuple[HelpRequest, bool]:
    """Open a request for `listing` (its owner or staff); (request, False) when one is already open."""
    permissions.require(user, "listing.edit", _("Only the listing's owner can ask a broker about it."), listing)
    if listing.status != ListingStatus.PUBLISHED:
        raise ValidationFailed({"listing": [_("Publish the listing first: brokers look for counterparts of "
                                              "published listings.")]})
    message = (message or "").strip()
    if len(message) > MAX_MESSAGE:
        raise ValidationFailed({"message": [_("Keep the message under %(n)s characters.", n=MAX_MESSAGE)]})
    existing = open_request_for(listing)
    if existing is not None:
        return existing, False
    request = HelpRequest(organization_id=listing.organization_id, requested_by_id=user.id, message=message,
                          **({"result_id": listing.id} if listing.kind == "result" else {"need_id": listing.id}))
    Session.add(request)
    Session.flush()
    brokers = Session.scalars(sa.select(User.id).where(User.role == Role.BROKER, User.active.is_(True)))
    notify(brokers, "help.requested", {"title": listing.title}, link="/deals/help")
    audit.record(user.id, "help_request.create", request)
    Session.commit()
    return request, True


def open_requests(user: Any) -> list[HelpRequest]:
    """What a broker works from: open requests first (oldest first), then the ones this broker took."""
    _require_broker(user)
    mine = HelpRequest.broker_id == user.id
    rows = Session.scalars(sa.select(HelpRequest).where(
        sa.or_(HelpRequest.status == HelpRequestStatus.OPEN,
               sa.and_(HelpRequest.status == HelpRequestStatus.TAKEN, mine)))
        .order_by(HelpRequest.status.desc(), HelpRequest.created_at))
    # A listing unpublished since (expired, withdrawn for edits) is not shown until it is back.
    return [row for row in rows if row.listing.status in permissions.PUBLIC_STATUSES]


def take(user: Any, request_id: int) -> HelpRequest:
    """The broker takes the request: it leaves the other brokers' list and the owner is told who."""
    _require_broker(user)
    request = Session.get(HelpRequest, request_id)
    if request is None:
        raise NotFound(_("No such request."))
    if request.status != HelpRequestStatus.OPEN:
        raise ValidationFailed({"request": [_("Another broker has already taken this request.")]})
    request.status, request.broker_id, request.taken_at = HelpRequestStatus.TAKEN, user.id, utcnow()
    if request.requested_by_id:
        notify([request.requested_by_id], "help.taken", {"title": request.listing.title, "broker": user.name},
               link=f"/{request.kind}/{request.listing.id}")
    audit.record(user.id, "help_request.take", request)
    Session.commit()
    return request


def close(user: Any, request_id: int) -> HelpRequest:
    """The broker who took it, the owner or staff closes a request (found a counterpart, or gave up)."""
    request = Session.get(HelpRequest, request_id)
    if request is None:
        raise NotFound(_("No such request."))
    allowed = (permissions.is_staff(user) or request.broker_id == getattr(user, "id", None)
               or permissions.can(user, "listing.edit", request.listing))
    if not allowed:
        raise NotAllowed(_("Only the broker who took the request or the listing's owner can close it."))
    request.status = HelpRequestStatus.CLOSED
    audit.record(user.id, "help_request.close", request)
    Session.commit()
    return request


def _require_broker(user: Any) -> None:
    permissions.require(user, "deal.manage", _("Only brokers and staff see requests for help."))
