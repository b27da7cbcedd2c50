"""Meetings at a fair: suggested counterparts with reasons, meeting requests that expire, meetings
created by staff, on-site check-in, held/no-show marks and outcomes that open deals."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import audit, i18n, permissions
from matchmaker.core.errors import Conflict, DomainError, NotAllowed, NotFound, ValidationFailed
from matchmaker.fairs import notices
from matchmaker.fairs.fairs import (
    MEETING_TYPES,
    available_slot_ids,
    can_act_for,
    get_participant,
    participant_meetings,
    require_act_for,
    require_staff,
)
from matchmaker.matching import matches
from matchmaker.reference import INDUSTRY_DIVISIONS, INDUSTRY_SECTIONS, TECH_FIELDS
from models import (
    FairCheckIn,
    FairMeeting,
    FairParticipant,
    ListingStatus,
    MeetingRequest,
    ResearchResult,
    Session,
    TechNeed,
    User,
    aware,
    utcnow,
)
from models.fairs import (
    FairStatus,
    MeetingOutcome,
    MeetingStatus,
    ParticipantType,
    RegistrationStatus,
    RequestStatus,
)

# Who meets whom: the research side meets enterprises, brokers meet both sides and each other.
COUNTERPART_TYPES = {
    ParticipantType.RESEARCH: {ParticipantType.ENTERPRISE, ParticipantType.BROKER},
    ParticipantType.ENTERPRISE: {ParticipantType.RESEARCH, ParticipantType.BROKER},
    ParticipantType.BROKER: {ParticipantType.RESEARCH, ParticipantType.ENTERPRISE, ParticipantType.BROKER},
}


def request_status_label(code: str) -> str:
    return {
        RequestStatus.PENDING: _("Waiting for an answer"), RequestStatus.ACCEPTED: _("Accepted"),
        RequestStatus.DECLINED: _("Declined"), RequestStatus.EXPIRED: _("Expired"),
        RequestStatus.CANCELLED: _("Withdrawn"),
    }.get(code, code)


def meeting_status_label(code: str) -> str:
    return {
        MeetingStatus.PLANNED: _("Planned"), MeetingStatus.HELD: _("Held"),
        MeetingStatus.NO_SHOW: _("No-show"), MeetingStatus.CANCELLED: _("Cancelled"),
    }.get(code, code)


def outcome_label(code: str) -> str:
    return {
        MeetingOutcome.NONE: _("No outcome yet"), MeetingOutcome.FOLLOW_UP: _("Follow-up planned"),
        MeetingOutcome.INTENTION: _("Intention signed"), MeetingOutcome.CONTRACT: _("Contract signed"),
    }.get(code, code)


# --- suggestions ------------------------------------------------------------------------------

@dataclass
class Suggestion:
    participant: FairParticipant
    score: float
    reasons: list[str] = field(default_factory=list)
    result_id: int | None = None
    need_id: int | None = None
    # The existing request or meeting between the two, if any, so the page shows its state.
    request: MeetingRequest | None = None
    meeting: FairMeeting | None = None
    # The site's calibrated estimate for the best pair (the figure the listing pages show), when the
    # pair is among the site's suggestions for the participant's listing; None otherwise.
    relevance: float | None = None


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"\s+", "", text or "")
    return {chars[i:i + 2] for i in range(len(chars) - 1)}


def _terms(listing: Any) -> set[str]:
    return {k.strip().lower() for k in (listing.keywords or []) if k and k.strip()}


def pair_score(result: Any, need: Any, lang: str = "zh", quote_terms: bool = True) -> tuple[float, list[str]]:
    """A transparent score for a result against a need, with the reasons a person would give (the
    shared keywords only when `quote_terms`: a confidential listing's keywords are not quoted)."""
    score, reasons = 0.0, []
    if result.industry_division and result.industry_division == need.industry_division:
        score += 0.35
        reasons.append(_("Same industry: %(name)s", name=INDUSTRY_DIVISIONS.label(result.industry_division, lang)))
    elif result.industry_section and result.industry_section == need.industry_section:
        score += 0.2
        reasons.append(_("Same industry: %(name)s", name=INDUSTRY_SECTIONS.label(result.industry_section, lang)))
    shared = sorted(_terms(result) & _terms(need))
    if shared:
        score += min(0.3, 0.1 * len(shared))
    if shared and quote_terms:
        reasons.append(_("Shared terms: %(terms)s", terms="、".join(shared[:5])))
    a, b = _bigrams(f"{result.title}{result.summary}"), _bigrams(f"{need.title}{need.summary}")
    if a and b:
        overlap = len(a & b) / min(len(a), len(b))
        score += 0.25 * overlap
        if overlap >= 0.15 and not shared:
            reasons.append(_("Similar wording in title and summary"))
    if result.tech_field and result.tech_field == need.tech_field:
        score += 0.05
        reasons.append(_("Same technology field: %(name)s", name=TECH_FIELDS.label(result.tech_field, lang)))
    if set(result.transfer_modes or []) & set(need.transfer_modes or []):
        score += 0.05
        reasons.append(_("Compatible transfer modes"))
    return min(score, 1.0), reasons


def _named(listing: Any, viewer: Any) -> str:
    """A listing's title, or what kind it is when it is confidential and the viewer may not see its
    details: naming it beside the participant's organization would say who owns it."""
    if listing.confidential and not permissions.can_view_details(viewer, listing):
        return _("a confidential research result") if listing.kind == "result" else _("a confidential technical need")
    return listing.title


def _best_pair(me: FairParticipant, other: FairParticipant, lang: str, viewer: Any = None
               ) -> tuple[float, list[str], Any, Any]:
    best: tuple[float, list[str], Any, Any] = (0.0, [], None, None)
    for mine in me.listings:
        for theirs in other.listings:
            if mine.kind == theirs.kind:
                continue
            result, need = (mine.result, theirs.need) if mine.kind == "result" else (theirs.result, mine.need)
            hidden = theirs.listing.confidential and not permissions.can_view_details(viewer, theirs.listing)
            score, reasons = pair_score(result, need, lang, quote_terms=not hidden)
            if score > best[0]:
                best = (score, [_("%(result)s ↔ %(need)s", result=_named(result, viewer), need=_named(need, viewer)),
                                *reasons],
                        result if not (hidden and theirs.kind == "result") else None,
                        need if not (hidden and theirs.kind == "need") else None)
    return best


def _pairs(me: FairParticipant, other: FairParticipant) -> list[tuple[int, int]]:
    """(result id, need id) of every pair of listings the two bring, one from each side."""
    pairs = []
    for mine in me.listings:
        for theirs in other.listings:
            if mine.kind != theirs.kind:
                result, need = (mine, theirs) if mine.kind == "result" else (theirs, mine)
                pairs.append((result.result_id, need.need_id))
    return pairs


def _site_estimates(me: FairParticipant, viewer: Any) -> dict[tuple[int, int], float]:
    """The site's calibrated relevance for the best suggestions of each published listing the
    participant brings, keyed by (result id, need id)."""
    estimates: dict[tuple[int, int], float] = {}
    for link in me.listings:
        listing = link.listing
        if listing is None or listing.status != ListingStatus.PUBLISHED:
            continue
        for item in matches.matches_for_listing(listing, viewer, k=50):
            pair = (listing.id, item.listing.id) if listing.kind == "result" else (item.listing.id, listing.id)
            estimates[pair] = max(estimates.get(pair, 0.0), item.relevance)
    return estimates


def suggestions(participant_id: int, lang: str | None = None, limit: int = 50, viewer: Any = None
                ) -> list[Suggestion]:
    """Validated counterparts at this fair, best listing pair first, each with its reasons. Their
    confidential listings are not named (nor their keywords quoted) unless `viewer` may see details."""
    me = get_participant(participant_id)
    lang = lang or i18n.current_lang()
    wanted = COUNTERPART_TYPES.get(me.participant_type, set())
    stmt = sa.select(FairParticipant).where(
        FairParticipant.fair_id == me.fair_id, FairParticipant.id != me.id,
        FairParticipant.status == RegistrationStatus.VALIDATED,
        FairParticipant.organization_id != me.organization_id,
        FairParticipant.participant_type.in_([str(t) for t in wanted]))
    requests = _requests_between(me.id)
    meetings = {m.other(me.id).id: m for m in participant_meetings(me.id)}
    rows: list[Suggestion] = []
    estimates = _site_estimates(me, viewer)
    for other in Session.scalars(stmt):
        score, reasons, result, need = _best_pair(me, other, lang, viewer)
        relevance = max((estimates.get(pair, -1.0) for pair in _pairs(me, other)), default=-1.0)
        if ParticipantType.BROKER in (me.participant_type, other.participant_type) and not reasons:
            reasons = [_("Technology broker at this fair")]
        rows.append(Suggestion(other, round(score, 3), reasons, result and result.id, need and need.id,
                               requests.get(other.id), meetings.get(other.id),
                               round(relevance, 4) if relevance >= 0 else None))
    # The site's estimate first (it is calibrated on judged pairs), the fair's own score among the rest.
    rows.sort(key=lambda s: (-(s.relevance if s.relevance is not None else -1.0), -s.score, s.participant.name))
    return rows[:limit]


def _requests_between(participant_id: int) -> dict[int, MeetingRequest]:
    """The latest request with each counterpart, in either direction."""
    stmt = sa.select(MeetingRequest).where(sa.or_(MeetingRequest.requester_id == participant_id,
                                                  MeetingRequest.recipient_id == participant_id))
    latest: dict[int, MeetingRequest] = {}
    for req in Session.scalars(stmt.order_by(MeetingRequest.id)):
        other = req.recipient_id if req.requester_id == participant_id else req.requester_id
        latest[other] = req
    return latest


# --- caps and free slots ----------------------------------------------------------------------

def effective_cap(participant: FairParticipant) -> int | None:
    caps = [c for c in (participant.fair.max_meetings_per_participant, participant.max_meetings) if c is not None]
    return min(caps) if caps else None


def _check_cap(participant: FairParticipant, extra: int = 0) -> None:
    cap = effective_cap(participant)
    if cap is not None and len(participant_meetings(participant.id)) + extra >= cap:
        raise Conflict(_("%(name)s already has the maximum of %(cap)s meetings.", name=participant.name, cap=cap))


def common_free_slots(a: FairParticipant, b: FairParticipant) -> set[int]:
    """Slots both can attend and neither already has a meeting in."""
    busy = {m.slot_id for p in (a, b) for m in participant_meetings(p.id) if m.slot_id is not None}
    return (available_slot_ids(a) & available_slot_ids(b)) - busy


def _check_pair(a: FairParticipant, b: FairParticipant) -> None:
    if a.id == b.id:
        raise DomainError(_("A participant cannot meet themself."))
    if a.fair_id != b.fair_id:
        raise DomainError(_("Both participants must be registered for the same fair."))
    fair = a.fair
    if fair.status in (FairStatus.DRAFT, FairStatus.FINISHED):
        raise Conflict(_("This fair does not take meeting requests now."))
    for p in (a, b):
        if p.status != RegistrationStatus.VALIDATED:
            raise Conflict(_("%(name)s's registration has not been validated yet.", name=p.name))
        if p.participant_type not in MEETING_TYPES:
            raise Conflict(_("%(name)s attends as an observer and takes no meetings.", name=p.name))
    if active_meeting(a.id, b.id) is not None:
        raise Conflict(_("%(a)s and %(b)s already have a meeting.", a=a.name, b=b.name))
    if not common_free_slots(a, b):
        raise Conflict(_("%(a)s and %(b)s have no free time slot in common at this fair.", a=a.name, b=b.name))


def active_meeting(a_id: int, b_id: int) -> FairMeeting | None:
    pair = sa.or_(sa.and_(FairMeeting.a_id == a_id, FairMeeting.b_id == b_id),
                  sa.and_(FairMeeting.a_id == b_id, FairMeeting.b_id == a_id))
    return Session.scalar(sa.select(FairMeeting).where(pair, FairMeeting.status != MeetingStatus.CANCELLED))


def _pending_between(a_id: int, b_id: int) -> MeetingRequest | None:
    pair = sa.or_(sa.and_(MeetingRequest.requester_id == a_id, MeetingRequest.recipient_id == b_id),
                  sa.and_(MeetingRequest.requester_id == b_id, MeetingRequest.recipient_id == a_id))
    return Session.scalar(sa.select(MeetingRequest).where(pair, MeetingRequest.status == RequestStatus.PENDING,
                                                          MeetingRequest.expires_at > utcnow()))


# --- requests ---------------------------------------------------------------------------------

def send_request(actor: User, requester_id: int, recipient_id: int, message: str,
                 result_id: int | None = None, need_id: int | None = None,
                 score: float | None = None) -> MeetingRequest:
    requester, recipient = get_participant(requester_id), get_participant(recipient_id)
    require_act_for(actor, requester)
    if len((message or "").strip()) > 2000:
        raise ValidationFailed({"message": [_("Keep the message under 2000 characters.")]})
    _check_pair(requester, recipient)
    if _pending_between(requester.id, recipient.id) is not None:
        raise Conflict(_("A request between %(a)s and %(b)s is already waiting for an answer.",
                         a=requester.name, b=recipient.name))
    _check_cap(requester)
    _check_listings(actor, (requester, recipient), result_id, need_id)
    fair = requester.fair
    req = MeetingRequest(fair_id=fair.id, requester_id=requester.id, recipient_id=recipient.id,
                         message=(message or "").strip(), result_id=result_id, need_id=need_id, score=score,
                         expires_at=utcnow() + timedelta(hours=fair.request_expiry_hours))
    Session.add(req)
    Session.flush()  # the notification's dedupe key needs the request id
    audit.record(actor.id, "fair.request.send", req, {"recipient_id": [None, recipient.id]})
    notices.request_sent(req)
    Session.commit()
    return req


def _check_listings(actor: User, people: tuple[FairParticipant, ...], result_id: int | None,
                    need_id: int | None) -> None:
    """A request may name only listings the actor can see that belong to one of the two parties."""
    orgs = {p.organization_id for p in people}
    errors = {}
    for field_name, model, listing_id in (("result_id", ResearchResult, result_id), ("need_id", TechNeed, need_id)):
        if listing_id is None:
            continue
        listing = permissions.usable_listing(actor, model, listing_id)
        if listing is None or listing.organization_id not in orgs:
            errors[field_name] = [_("Choose a listing that one of the two parties brings to the fair.")]
    if errors:
        raise ValidationFailed(errors)


def get_request(request_id: int) -> MeetingRequest:
    req = Session.get(MeetingRequest, request_id)
    if req is None:
        raise NotFound(_("This meeting request does not exist."))
    return req


def _expire(req: MeetingRequest) -> None:
    req.status = RequestStatus.EXPIRED
    audit.record(None, "fair.request.expire", req, {"status": [RequestStatus.PENDING, RequestStatus.EXPIRED]})
    notices.request_expired(req)


def _expire_if_due(req: MeetingRequest) -> bool:
    if req.status == RequestStatus.PENDING and aware(req.expires_at) <= utcnow():
        _expire(req)
        return True
    return False


def respond(actor: User, request_id: int, accept: bool, note: str | None = None) -> MeetingRequest:
    """The recipient accepts (a meeting is created, to be scheduled) or declines."""
    req = get_request(request_id)
    require_act_for(actor, req.recipient)
    if _expire_if_due(req):
        Session.commit()
        raise Conflict(_("This request expired before it was answered."))
    if req.status != RequestStatus.PENDING:
        raise Conflict(_("This request has already been answered (%(status)s).",
                         status=request_status_label(req.status)))
    if accept:
        _check_pair(req.requester, req.recipient)
        for p in (req.requester, req.recipient):
            _check_cap(p)
        meeting = FairMeeting(fair_id=req.fair_id, a_id=req.requester_id, b_id=req.recipient_id, request_id=req.id,
                              result_id=req.result_id, need_id=req.need_id, score=req.score,
                              priority=_priority(req.score), created_by_id=actor.id)
        Session.add(meeting)
        audit.record(actor.id, "fair.meeting.create", meeting, {"request_id": [None, req.id]})
    changes = audit.apply(req, {"status": RequestStatus.ACCEPTED if accept else RequestStatus.DECLINED,
                                "responded_at": utcnow(), "response_note": (note or "").strip() or None})
    audit.record(actor.id, "fair.request.respond", req, changes)
    notices.request_answered(req, accepted=accept)
    Session.commit()
    return req


def cancel_request(actor: User, request_id: int) -> MeetingRequest:
    req = get_request(request_id)
    require_act_for(actor, req.requester)
    if req.status != RequestStatus.PENDING:
        raise Conflict(_("Only a request still waiting for an answer can be withdrawn."))
    audit.record(actor.id, "fair.request.cancel", req, audit.apply(req, {"status": RequestStatus.CANCELLED}))
    Session.commit()
    return req


def expire_requests(now: datetime | None = None) -> int:
    """Expire unanswered requests past their deadline so they stop holding people's time."""
    now = now or utcnow()
    due = list(Session.scalars(sa.select(MeetingRequest).where(
        MeetingRequest.status == RequestStatus.PENDING, MeetingRequest.expires_at <= now)))
    for req in due:
        _expire(req)
    Session.commit()
    return len(due)


def requests_for(participant_id: int) -> dict[str, list[MeetingRequest]]:
    """Incoming and outgoing requests of a participant, newest first (expired ones marked on the way)."""
    stmt = sa.select(MeetingRequest).order_by(MeetingRequest.created_at.desc(), MeetingRequest.id.desc())
    incoming = list(Session.scalars(stmt.where(MeetingRequest.recipient_id == participant_id)))
    outgoing = list(Session.scalars(stmt.where(MeetingRequest.requester_id == participant_id)))
    if any([_expire_if_due(r) for r in incoming + outgoing]):
        Session.commit()
    return {"incoming": incoming, "outgoing": outgoing}


def _priority(score: float | None) -> int:
    """Strong matches get a higher scheduling priority (secondary to the number of meetings)."""
    if score is None:
        return 1
    return 3 if score >= current_app.config.get("STRONG_MATCH_SCORE", 0.75) else 2 if score >= 0.4 else 1


# --- meetings created by staff ----------------------------------------------------------------

def create_meeting(actor: User, a_id: int, b_id: int, result_id: int | None = None,
                   need_id: int | None = None) -> FairMeeting:
    require_staff(actor)
    a, b = get_participant(a_id), get_participant(b_id)
    _check_pair(a, b)
    for p in (a, b):
        _check_cap(p)
    pending = _pending_between(a.id, b.id)
    if pending is not None:
        # The staff decision answers the open request for both sides.
        pending.status = RequestStatus.ACCEPTED
        pending.responded_at = utcnow()
        notices.request_answered(pending, accepted=True)
    meeting = FairMeeting(fair_id=a.fair_id, a_id=a.id, b_id=b.id, result_id=result_id, need_id=need_id,
                          created_by_id=actor.id, request_id=pending.id if pending else None)
    Session.add(meeting)
    audit.record(actor.id, "fair.meeting.create", meeting, {"a_id": [None, a.id], "b_id": [None, b.id]})
    Session.commit()
    return meeting


def get_meeting(meeting_id: int) -> FairMeeting:
    meeting = Session.get(FairMeeting, meeting_id)
    if meeting is None:
        raise NotFound(_("This meeting does not exist."))
    return meeting


def meetings(fair_id: int, include_cancelled: bool = False) -> list[FairMeeting]:
    stmt = sa.select(FairMeeting).where(FairMeeting.fair_id == fair_id)
    if not include_cancelled:
        stmt = stmt.where(FairMeeting.status != MeetingStatus.CANCELLED)
    return list(Session.scalars(stmt.order_by(FairMeeting.id)))


# --- on site ----------------------------------------------------------------------------------

def participant_by_token(token: str) -> FairParticipant:
    participant = Session.scalar(sa.select(FairParticipant).where(FairParticipant.checkin_token == token))
    if participant is None:
        raise NotFound(_("This check-in code is not valid."))
    return participant


def check_in(actor: User, participant_id: int, method: str = "search") -> FairParticipant:
    require_staff(actor)
    participant = get_participant(participant_id)
    if participant.status == RegistrationStatus.REJECTED:
        raise Conflict(_("%(name)s's registration was rejected.", name=participant.name))
    if participant.checked_in_at is None:
        participant.checked_in_at = utcnow()
        Session.add(FairCheckIn(participant_id=participant.id, method=method if method == "qr" else "search",
                                checked_in_by_id=actor.id))
        audit.record(actor.id, "fair.checkin", participant,
                     {"checked_in_at": [None, participant.checked_in_at.isoformat()], "method": [None, method]})
        Session.commit()
    return participant


def _can_record(user: Any, meeting: FairMeeting) -> bool:
    return permissions.can(user, "fair.manage") or can_act_for(user, meeting.a) or can_act_for(user, meeting.b)


def mark_meeting(actor: User, meeting_id: int, status: str) -> FairMeeting:
    """Held or no-show, recorded at the table (or undone back to planned)."""
    meeting = get_meeting(meeting_id)
    if not _can_record(actor, meeting):
        raise NotAllowed(_("You cannot record this meeting."))
    if status not in (MeetingStatus.HELD, MeetingStatus.NO_SHOW, MeetingStatus.PLANNED):
        raise DomainError(_("Unknown meeting status."))
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("This meeting was cancelled."))
    if status == MeetingStatus.NO_SHOW and meeting.outcome != MeetingOutcome.NONE:
        raise Conflict(_("This meeting already has an outcome; it cannot be a no-show."))
    audit.record(actor.id, "fair.meeting.status", meeting, audit.apply(meeting, {"status": status}))
    Session.commit()
    return meeting


OUTCOME_STAGES = {
    MeetingOutcome.FOLLOW_UP: "meeting_held",
    MeetingOutcome.INTENTION: "intention_signed",
    MeetingOutcome.CONTRACT: "contract_signed",
}


def _deal_parties(meeting: FairMeeting) -> tuple[int | None, int | None, int, int, int | None]:
    """(result, need, seller org, buyer org, broker user) for the deal a meeting opens."""
    result = meeting.result
    need = meeting.need
    people = (meeting.a, meeting.b)
    if result is None:
        result = next((fl.result for p in people for fl in p.listings if fl.result_id), None)
    if need is None:
        need = next((fl.need for p in people for fl in p.listings if fl.need_id), None)
    seller = result.organization_id if result is not None else meeting.a.organization_id
    buyer_side = next((p for p in people if p.organization_id != seller), meeting.b)
    buyer = need.organization_id if need is not None else buyer_side.organization_id
    broker = next((p.user_id for p in people if p.participant_type == ParticipantType.BROKER), None)
    return (result.id if result else None), (need.id if need else None), seller, buyer, broker


def record_outcome(actor: User, meeting_id: int, outcome: str, note: str | None = None) -> FairMeeting:
    """Record what came of a meeting; follow-ups, intentions and contracts open (or advance) a deal."""
    from matchmaker.deals import deals

    meeting = get_meeting(meeting_id)
    if not _can_record(actor, meeting):
        raise NotAllowed(_("You cannot record this meeting."))
    if outcome not in set(MeetingOutcome):
        raise ValidationFailed({"outcome": [_("Choose an outcome.")]})
    if meeting.status in (MeetingStatus.CANCELLED, MeetingStatus.NO_SHOW) and outcome != MeetingOutcome.NONE:
        raise Conflict(_("An outcome can only be recorded for a meeting that took place."))
    parties = _deal_parties(meeting) if outcome in OUTCOME_STAGES else None
    if parties is not None and parties[0] is None:
        raise ValidationFailed({"outcome": [
            _("Neither side brought a research result to this meeting, so no deal can be opened. "
              "Attach the result to a participant first.")]})
    values: dict[str, Any] = {"outcome": outcome, "outcome_note": (note or "").strip() or None,
                              "outcome_at": utcnow()}
    if outcome != MeetingOutcome.NONE:
        values["status"] = MeetingStatus.HELD
    changes = audit.apply(meeting, values)
    audit.record(actor.id, "fair.meeting.outcome", meeting, changes)
    if parties is not None:
        result_id, need_id, seller, buyer, broker = parties
        deals.open_deal(result_id, need_id, seller, buyer, broker, origin="fair", fair_id=meeting.fair_id,
                        fair_meeting_id=meeting.id, stage=OUTCOME_STAGES[outcome], actor_id=actor.id,
                        commit=False)
    Session.commit()
    return meeting
