"""Introductions: a member (or a broker for either side) asks a listing's owner to meet; accepting
releases the confidential details to that counterpart alone; unanswered requests expire."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, permissions, webhooks
from matchmaker.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from matchmaker.deals.deals import can_view as can_view_deal
from matchmaker.deals.deals import notify_owners, notify_user, open_deal
from models import (
    Deal,
    DealOrigin,
    DeclineReason,
    Introduction,
    IntroductionStatus,
    ListingStatus,
    Organization,
    ResearchResult,
    Role,
    Session,
    TechNeed,
    User,
    listing_model,
    utcnow,
)

DECLINE_REASON_LABELS = {
    DeclineReason.TOO_EARLY: _l("Too early stage"),
    DeclineReason.BENEFIT_UNCLEAR: _l("Benefit over existing technology unclear"),
    DeclineReason.ROUTE_TO_MARKET_UNCLEAR: _l("Route to market unclear"),
    DeclineReason.DESCRIPTION_UNCLEAR: _l("Description unclear"),
    DeclineReason.OTHER: _l("Other"),
}

STATUS_LABELS = {
    IntroductionStatus.PENDING: _l("Waiting for an answer"),
    IntroductionStatus.ACCEPTED: _l("Accepted"),
    IntroductionStatus.DECLINED: _l("Declined"),
    IntroductionStatus.EXPIRED: _l("Expired"),
    IntroductionStatus.WITHDRAWN: _l("Withdrawn"),
}

ORIGINS = tuple(DealOrigin)
OPEN_STATUSES = (IntroductionStatus.PENDING, IntroductionStatus.ACCEPTED)
MAX_MESSAGE = 2000


# The owner of the listing declines. A result's owner is the research side turning down an
# enterprise (or its broker); a need's owner is the enterprise turning down a research side (Inpart's
# categories). Each reason: (as the decliner chooses it, as the requester reads it).
DECLINE_REASONS: dict[str, dict[str, tuple[Any, Any]]] = {
    "result": {
        DeclineReason.NOT_A_FIT: (_l("Our result does not fit this need"),
                                  _l("The research team thinks its result does not fit your need.")),
        DeclineReason.TOO_EARLY: (_l("Our result is not ready for this use yet"),
                                  _l("The research team says its result is not yet mature enough for your use.")),
        DeclineReason.NOT_AVAILABLE: (_l("The result is licensed or committed elsewhere"),
                                      _l("The result is no longer available: it is licensed or committed "
                                         "elsewhere.")),
        DeclineReason.NO_CAPACITY: (_l("We cannot take on the work now"),
                                    _l("The research team cannot take on the work at present.")),
        DeclineReason.DESCRIPTION_UNCLEAR: (_l("The request does not say enough about the need"),
                                            _l("The research team needs to know more about your need: "
                                               "describe it and ask again.")),
        DeclineReason.OTHER: (_l("Other"), _l("Another reason, given in the note.")),
    },
    "need": {
        DeclineReason.TOO_EARLY: (_l("Too early stage for us"),
                                  _l("The company needs a more mature technology than this stage.")),
        DeclineReason.BENEFIT_UNCLEAR: (_l("Benefit over what we use now unclear"),
                                        _l("The company did not see the benefit over what it uses now; "
                                           "a comparison may help.")),
        DeclineReason.ROUTE_TO_MARKET_UNCLEAR: (_l("Unclear how we would put it into production"),
                                                _l("The company did not see how it would put this into "
                                                   "production or on the market.")),
        DeclineReason.DESCRIPTION_UNCLEAR: (_l("Description unclear"),
                                            _l("The company found the description unclear; more detail "
                                               "may help.")),
        DeclineReason.OTHER: (_l("Other"), _l("Another reason, given in the note.")),
    },
}


def decline_reason_choices(kind: str) -> list[tuple[str, str]]:
    """The reasons the owner of a `kind` listing can give."""
    return [(str(code), str(labels[0])) for code, labels in DECLINE_REASONS.get(kind, {}).items()]


def decline_reason_text(intro: Introduction, for_owner: bool) -> str:
    """The reason as the owner's side chose it, or worded for the requester's side that reads it."""
    labels = DECLINE_REASONS[intro.kind].get(intro.decline_reason or "")
    if labels is None:  # a reason the other side's list holds (declined before reasons were per side)
        return str(DECLINE_REASON_LABELS.get(intro.decline_reason, intro.decline_reason or ""))
    return str(labels[0] if for_owner else labels[1])


def _listing(kind: str, listing_id: int) -> ResearchResult | TechNeed:
    try:
        model = listing_model(kind)
    except ValueError:
        raise NotFound(_("This listing does not exist.")) from None
    listing = Session.get(model, listing_id)
    if listing is None:
        raise NotFound(_("This listing does not exist."))
    return listing


def _listing_filter(listing: Any) -> Any:
    if listing.kind == "result":
        return Introduction.result_id == listing.id
    return Introduction.need_id == listing.id


def _get(intro_id: int) -> Introduction:
    intro = Session.get(Introduction, intro_id)
    if intro is None:
        raise NotFound(_("This introduction does not exist."))
    return intro


# --- who may do what ------------------------------------------------------------------------

def is_owner_side(user: Any, intro: Introduction) -> bool:
    return permissions.owns(user, intro.listing)


def can_view(user: Any, intro: Introduction) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if permissions.is_staff(user) or user.id in (intro.requested_by_id, intro.broker_id):
        return True
    if user.organization_id and user.organization_id in (intro.owner_org_id, intro.counterpart_org_id):
        return True
    # The broker of the deal the acceptance opened follows the conversation too.
    return user.role == Role.BROKER and Session.scalar(sa.select(Deal.id).where(
        Deal.introduction_id == intro.id, Deal.broker_id == user.id)) is not None


def can_answer(user: Any, intro: Introduction) -> bool:
    return is_owner_side(user, intro) or permissions.is_staff(user)


def has_accepted_introduction(user: Any, listing: Any) -> bool:
    """Detail-access check (added by matchmaker.deals.init_app): the user's organization has an accepted
    introduction to `listing`."""
    if not getattr(user, "organization_id", None) or getattr(listing, "id", None) is None:
        return False
    stmt = sa.select(Introduction.id).where(
        _listing_filter(listing),
        Introduction.counterpart_org_id == user.organization_id,
        Introduction.status == IntroductionStatus.ACCEPTED,
    ).limit(1)
    return Session.scalar(stmt) is not None


# --- requesting ---------------------------------------------------------------------------------

@dataclass
class RequestInput:
    kind: str
    listing_id: int
    message: str
    origin: str = DealOrigin.SEARCH
    # A broker names the side they act for; members always act for their own organization.
    counterpart_org_id: int | None = None
    counterpart_listing_id: int | None = None


def request(user: User, data: RequestInput) -> Introduction:
    """Create a pending introduction and notify the listing's owners."""
    permissions.require(user, "introduction.request", _("Your role cannot request introductions."))
    listing = _listing(data.kind, data.listing_id)
    if listing.status != ListingStatus.PUBLISHED:
        raise Conflict(_("Introductions can only be requested for published listings."))
    counterpart_org_id = _counterpart_org(user, data)
    if counterpart_org_id == listing.organization_id:
        raise ValidationFailed({"counterpart_org_id": [_("A listing's owner cannot be introduced to itself.")]})
    message = (data.message or "").strip()
    errors: dict[str, list[str]] = {}
    if not message:
        errors["message"] = [_("Say briefly why you want to be introduced.")]
    elif len(message) > MAX_MESSAGE:
        errors["message"] = [_("At most %(n)s characters.", n=MAX_MESSAGE)]
    origin = data.origin if data.origin in ORIGINS else DealOrigin.SEARCH
    if errors:
        raise ValidationFailed(errors)
    existing = Session.scalar(sa.select(Introduction).where(
        _listing_filter(listing), Introduction.counterpart_org_id == counterpart_org_id,
        Introduction.status.in_(OPEN_STATUSES)))
    if existing is not None:
        raise Conflict(_("An introduction to this listing is already %(state)s.",
                         state=str(STATUS_LABELS[IntroductionStatus(existing.status)]).lower()))
    counterpart_result_id, counterpart_need_id = _counterpart_listing(listing, data.counterpart_listing_id,
                                                                      counterpart_org_id)
    intro = Introduction(
        result_id=listing.id if listing.kind == "result" else None,
        need_id=listing.id if listing.kind == "need" else None,
        owner_org_id=listing.organization_id, counterpart_org_id=counterpart_org_id,
        counterpart_result_id=counterpart_result_id, counterpart_need_id=counterpart_need_id,
        origin=origin, requested_by_id=user.id, broker_id=user.id if user.role == Role.BROKER else None,
        message=message, status=IntroductionStatus.PENDING,
    )
    Session.add(intro)
    Session.flush()
    audit.record(user.id, "introduction.request", intro,
                 {"listing": f"{listing.kind}:{listing.id}", "counterpart_org_id": counterpart_org_id})
    notify_owners(listing, "introduction.requested", {"title": listing.title, "intro_id": intro.id},
                  link=f"/introductions/{intro.id}")
    _emit(intro, "introduction.requested")
    Session.commit()
    return intro


def _emit(intro: Introduction, event: str) -> None:
    """Tell both organizations' webhooks (the listing is named by id and title only: its details stay
    with the rules of the site)."""
    webhooks.emit(event, (intro.owner_org_id, intro.counterpart_org_id), {
        "introduction_id": intro.id, "status": str(intro.status), "listing": {"kind": intro.kind,
        "id": intro.listing.id, "title": intro.listing.title}, "owner_org_id": intro.owner_org_id,
        "counterpart_org_id": intro.counterpart_org_id})


def _counterpart_org(user: User, data: RequestInput) -> int:
    acting_for_others = user.role == Role.BROKER or permissions.is_staff(user)
    if acting_for_others and data.counterpart_org_id:
        if Session.get(Organization, data.counterpart_org_id) is None:
            raise ValidationFailed({"counterpart_org_id": [_("Choose an organization from the list.")]})
        return data.counterpart_org_id
    if acting_for_others:
        raise ValidationFailed({"counterpart_org_id": [_("Choose the organization you act for.")]})
    if not user.organization_id:
        raise NotAllowed(_("Join an organization before requesting introductions."))
    return user.organization_id


def _counterpart_listing(listing: Any, other_id: int | None, org_id: int) -> tuple[int | None, int | None]:
    """The counterpart's own listing of the other kind (from a match), if it is really theirs."""
    if not other_id:
        return None, None
    other_kind = "need" if listing.kind == "result" else "result"
    other = Session.get(listing_model(other_kind), other_id)
    if other is None or other.organization_id != org_id:
        return None, None
    return (other.id, None) if other_kind == "result" else (None, other.id)


# --- answering ---------------------------------------------------------------------------------

def accept(user: User, intro_id: int, note: str = "") -> Introduction:
    """Accept: the counterpart now sees the listing's details and contact; a deal opens when a
    result is involved, so the pipeline starts from the introduction."""
    intro = _pending_for_answer(user, intro_id)
    intro.status = IntroductionStatus.ACCEPTED
    intro.answered_by_id, intro.answered_at = user.id, utcnow()
    intro.decline_note = (note or "").strip() or None
    audit.record(user.id, "introduction.accept", intro, {"status": [IntroductionStatus.PENDING, intro.status]})
    _notify_requester(intro, "introduction.accepted")
    _open_deal_for(intro, user.id)
    _emit(intro, "introduction.accepted")
    Session.commit()
    return intro


def decline(user: User, intro_id: int, reason: str, note: str = "") -> Introduction:
    intro = _pending_for_answer(user, intro_id)
    if reason not in DECLINE_REASONS[intro.kind]:
        raise ValidationFailed({"reason": [_("Choose a reason.")]})
    note = (note or "").strip()
    if reason == DeclineReason.OTHER and not note:
        raise ValidationFailed({"note": [_("Explain the reason in a few words.")]})
    intro.status = IntroductionStatus.DECLINED
    intro.decline_reason, intro.decline_note = reason, note or None
    intro.answered_by_id, intro.answered_at = user.id, utcnow()
    audit.record(user.id, "introduction.decline", intro,
                 {"status": [IntroductionStatus.PENDING, intro.status], "reason": reason})
    _notify_requester(intro, "introduction.declined", reason=reason)
    _emit(intro, "introduction.declined")
    Session.commit()
    return intro


def withdraw(user: User, intro_id: int) -> Introduction:
    intro = _get(intro_id)
    if not (user.id == intro.requested_by_id or permissions.is_staff(user)
            or (user.organization_id == intro.counterpart_org_id and user.role != Role.BROKER)):
        raise NotAllowed(_("Only the requester can withdraw this introduction."))
    if intro.status != IntroductionStatus.PENDING:
        raise Conflict(_("This introduction has already been answered."))
    intro.status = IntroductionStatus.WITHDRAWN
    audit.record(user.id, "introduction.withdraw", intro, {"status": [IntroductionStatus.PENDING, intro.status]})
    Session.commit()
    return intro


def _pending_for_answer(user: User, intro_id: int) -> Introduction:
    intro = _get(intro_id)
    if not can_answer(user, intro):
        raise NotAllowed(_("Only the listing's owner can answer this introduction."))
    if intro.status != IntroductionStatus.PENDING:
        raise Conflict(_("This introduction has already been answered."))
    return intro


def _notify_requester(intro: Introduction, kind: str, **params: Any) -> None:
    user_ids = {uid for uid in (intro.requested_by_id, intro.broker_id) if uid}
    for user_id in user_ids:
        notify_user(user_id, kind, {"title": intro.listing.title, "intro_id": intro.id, **params},
                    link=f"/introductions/{intro.id}")


def _open_deal_for(intro: Introduction, actor_id: int) -> None:
    if intro.result_id is not None:
        result_id, need_id = intro.result_id, intro.counterpart_need_id
        seller, buyer = intro.owner_org_id, intro.counterpart_org_id
    elif intro.counterpart_result_id is not None:
        result_id, need_id = intro.counterpart_result_id, intro.need_id
        seller, buyer = intro.counterpart_org_id, intro.owner_org_id
    else:
        return  # a need with no result on the table: nothing to follow as a deal yet
    origin = intro.origin if intro.origin in (DealOrigin.MATCH, DealOrigin.SEARCH) else DealOrigin.SEARCH
    open_deal(result_id, need_id, seller, buyer, intro.broker_id, origin, stage="introduced",
                    actor_id=actor_id, introduction_id=intro.id, commit=False)


# --- reading ---------------------------------------------------------------------------------

def for_viewer(user: Any, listing: Any) -> Introduction | None:
    """The viewer's organization's latest introduction to `listing` (for the listing page)."""
    if not getattr(user, "is_authenticated", False) or not user.organization_id:
        return None
    stmt = (sa.select(Introduction).where(_listing_filter(listing),
                                          Introduction.counterpart_org_id == user.organization_id)
            .order_by(Introduction.id.desc()).limit(1))
    return Session.scalar(stmt)


def pending_count_for(listing: Any) -> int:
    stmt = sa.select(sa.func.count()).select_from(Introduction).where(
        _listing_filter(listing), Introduction.status == IntroductionStatus.PENDING)
    return Session.scalar(stmt) or 0


def listing_state(user: Any, listing: Any) -> dict[str, Any]:
    """What the listing page shows the viewer: the owner's pending count, or the viewer's request."""
    state: dict[str, Any] = {"mine": None, "owner": False, "pending": 0, "can_request": False,
                             "acts_for_others": False}
    if not getattr(user, "is_authenticated", False):
        return state
    if permissions.same_org(user, listing):
        state["owner"] = True
        state["pending"] = pending_count_for(listing)
        return state
    state["mine"] = for_viewer(user, listing)
    state["acts_for_others"] = user.role == Role.BROKER or permissions.is_staff(user)
    open_one = state["mine"] is not None and state["mine"].status in OPEN_STATUSES
    state["can_request"] = (listing.status == ListingStatus.PUBLISHED and not open_one
                            and permissions.can(user, "introduction.request"))
    return state


def sent(user: Any) -> list[Introduction]:
    """Requests the user's organization (or the broker) made."""
    conds = [Introduction.requested_by_id == user.id]
    if user.organization_id and user.role != Role.BROKER:
        conds.append(Introduction.counterpart_org_id == user.organization_id)
    stmt = sa.select(Introduction).where(sa.or_(*conds)).order_by(Introduction.id.desc()).limit(200)
    return list(Session.scalars(stmt))


def received(user: Any) -> list[Introduction]:
    """Requests waiting on (or answered by) the user's organization as a listing owner."""
    if not user.organization_id:
        return []
    stmt = (sa.select(Introduction).where(Introduction.owner_org_id == user.organization_id)
            .order_by((Introduction.status == IntroductionStatus.PENDING).desc(), Introduction.id.desc())
            .limit(200))
    return list(Session.scalars(stmt))


@dataclass
class Contact:
    """How to reach one side of an accepted introduction."""
    side: str  # "owner", "requester" or "broker"
    organization: str
    name: str
    phone: str | None
    email: str | None


@dataclass
class AfterAcceptance:
    """What an accepted introduction shows a party: both sides' contacts, who to write to, the deal."""
    contacts: list[Contact]
    write_to: Contact | None
    deal: Deal | None


def after_acceptance(user: Any, intro: Introduction) -> AfterAcceptance | None:
    """The contact block and next steps once the owner accepted (None before): the listing's contact
    for the owner's side (acceptance released it), the requester (or their broker) for the other,
    the deal the acceptance opened if the user may see it."""
    if intro.status != IntroductionStatus.ACCEPTED or not can_view(user, intro):
        return None
    listing = intro.listing
    answerer = Session.get(User, intro.answered_by_id) if intro.answered_by_id else None
    owner = Contact("owner", intro.owner_org.name, listing.contact_name or (answerer.name if answerer else ""),
                    listing.contact_phone or (answerer.phone if answerer else None),
                    listing.contact_email or (answerer.email if answerer else None))
    contacts = [owner]
    requester = intro.requested_by
    if requester is not None:
        side = "broker" if intro.broker_id == requester.id else "requester"
        contacts.append(Contact(side, intro.counterpart_org.name, requester.name, requester.phone, requester.email))
    if is_owner_side(user, intro):
        write_to = next((c for c in contacts if c.side != "owner"), None)
    else:
        write_to = owner
    deal = Session.scalar(sa.select(Deal).where(Deal.introduction_id == intro.id))
    return AfterAcceptance(contacts, write_to, deal if deal is not None and can_view_deal(user, deal) else None)


def reply_by(intro: Introduction) -> datetime | None:
    """When a pending request expires unless the owner answers (remind_and_expire's rule); None
    once answered."""
    if intro.status != IntroductionStatus.PENDING or intro.created_at is None:
        return None
    return intro.created_at + timedelta(days=current_app.config["INTRODUCTION_EXPIRY_DAYS"])


def get_for(user: Any, intro_id: int) -> Introduction:
    intro = _get(intro_id)
    if not can_view(user, intro):
        raise NotFound(_("This introduction does not exist."))
    return intro


def request_target(user: Any, kind: str, listing_id: int) -> ResearchResult | TechNeed:
    """The listing the user is filling in a request for (the form shown again while a broker looks up
    the organization they act for); NotFound unless the user may request an introduction to it."""
    listing = _listing(kind, listing_id)
    if not listing_state(user, listing)["can_request"]:
        raise NotFound(_("This listing does not exist."))
    return listing


# --- reminders and expiry ---------------------------------------------------------------------

def remind_and_expire() -> dict[str, int]:
    """Remind owners of requests unanswered for INTRODUCTION_REMINDER_DAYS; expire them after
    INTRODUCTION_EXPIRY_DAYS so requesters are not left waiting."""
    now = utcnow()
    expire_before = now - timedelta(days=current_app.config["INTRODUCTION_EXPIRY_DAYS"])
    remind_before = now - timedelta(days=current_app.config["INTRODUCTION_REMINDER_DAYS"])
    expired = list(Session.scalars(sa.select(Introduction).where(
        Introduction.status == IntroductionStatus.PENDING, Introduction.created_at < expire_before)))
    for intro in expired:
        intro.status = IntroductionStatus.EXPIRED
        audit.record(None, "introduction.expire", intro, {"status": [IntroductionStatus.PENDING, intro.status]})
        _notify_requester(intro, "introduction.expired")
    to_remind = list(Session.scalars(sa.select(Introduction).where(
        Introduction.status == IntroductionStatus.PENDING, Introduction.created_at < remind_before,
        Introduction.reminded_at.is_(None))))
    for intro in to_remind:
        intro.reminded_at = now
        notify_owners(intro.listing, "introduction.reminder", {"title": intro.listing.title, "intro_id": intro.id},
                      link=f"/introductions/{intro.id}", dedupe=f"intro:{intro.id}:reminder")
    Session.commit()
    return {"expired": len(expired), "reminded": len(to_remind)}
