"""Matchmaking fairs: setup (sessions split into slots, copying), registration of participants with
their listings and availability, validation by staff, and bulk import of participants."""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from matchmaker.core import audit, permissions
from matchmaker.core.errors import Conflict, DomainError, NotAllowed, NotFound, ValidationFailed
from models import (
    Fair,
    FairAvailability,
    FairListing,
    FairMeeting,
    FairParticipant,
    FairSession,
    FairSlot,
    ListingStatus,
    Organization,
    OrgKind,
    ResearchResult,
    Role,
    Session,
    TechNeed,
    User,
    utcnow,
)
from models.fairs import FairStatus, ParticipantType, RegistrationStatus

FAIR_FIELDS = ("name", "venue", "description", "start_date", "end_date", "meeting_minutes",
               "registration_opens", "registration_closes", "request_expiry_hours",
               "max_meetings_per_participant", "participant_types")
# Types that sit at meeting tables; observers attend without meetings.
MEETING_TYPES = frozenset({ParticipantType.RESEARCH, ParticipantType.ENTERPRISE, ParticipantType.BROKER})


def participant_type_label(code: str) -> str:
    labels = {
        ParticipantType.RESEARCH: _("Research side"),
        ParticipantType.ENTERPRISE: _("Enterprise side"),
        ParticipantType.BROKER: _("Broker"),
        ParticipantType.OBSERVER: _("Observer"),
    }
    return labels.get(code, code)


# How an organization usually takes part: enterprises bring needs, universities and institutes results.
_TYPE_FOR_ORG_KIND = {OrgKind.ENTERPRISE: ParticipantType.ENTERPRISE, OrgKind.UNIVERSITY: ParticipantType.RESEARCH,
                      OrgKind.INSTITUTE: ParticipantType.RESEARCH}
_TYPE_FOR_ROLE = {Role.ENTERPRISE: ParticipantType.ENTERPRISE, Role.RESEARCHER: ParticipantType.RESEARCH,
                  Role.BROKER: ParticipantType.BROKER}


def default_participant_type(fair: Fair, user: Any) -> str | None:
    """The type a registration form starts with: the one the user's organization (else role) takes
    at fairs, if this fair admits it; else the fair's first type."""
    allowed = list(fair.participant_types or [])
    organization = getattr(user, "organization", None)
    for guess in (_TYPE_FOR_ORG_KIND.get(organization.kind) if organization else None,
                  _TYPE_FOR_ROLE.get(getattr(user, "role", None))):
        if guess in allowed:
            return str(guess)
    return allowed[0] if allowed else None


def registration_status_label(code: str) -> str:
    labels = {
        RegistrationStatus.PENDING: _("Waiting for validation"),
        RegistrationStatus.VALIDATED: _("Validated"),
        RegistrationStatus.REJECTED: _("Rejected"),
    }
    return labels.get(code, code)


def fair_status_label(code: str) -> str:
    labels = {
        FairStatus.DRAFT: _("Draft"),
        FairStatus.OPEN: _("Open for registration"),
        FairStatus.CLOSED: _("Registration closed"),
        FairStatus.FINISHED: _("Finished"),
    }
    return labels.get(code, code)


# --- lookups ----------------------------------------------------------------------------------

def get_fair(fair_id: int) -> Fair:
    fair = Session.get(Fair, fair_id)
    if fair is None:
        raise NotFound(_("This fair does not exist."))
    return fair


def get_participant(participant_id: int) -> FairParticipant:
    participant = Session.get(FairParticipant, participant_id)
    if participant is None:
        raise NotFound(_("This participant does not exist."))
    return participant


def list_fairs(user: Any) -> list[Fair]:
    """Staff see every fair; everyone else sees fairs that are no longer drafts."""
    stmt = sa.select(Fair).order_by(Fair.start_date.desc(), Fair.id.desc())
    if not permissions.is_staff(user):
        stmt = stmt.where(Fair.status != FairStatus.DRAFT)
    return list(Session.scalars(stmt))


def visible(user: Any, fair: Fair) -> bool:
    return fair.status != FairStatus.DRAFT or permissions.is_staff(user)


def my_participants(user: Any, fair_id: int) -> list[FairParticipant]:
    """The participants the user acts for at this fair: themself, or their organization's people."""
    if not getattr(user, "is_authenticated", False):
        return []
    stmt = sa.select(FairParticipant).where(FairParticipant.fair_id == fair_id)
    own = FairParticipant.user_id == user.id
    if user.organization_id is not None:
        stmt = stmt.where(sa.or_(own, FairParticipant.organization_id == user.organization_id))
    else:
        stmt = stmt.where(own)
    rows = list(Session.scalars(stmt.order_by(FairParticipant.name)))
    # The user's own row first: that is whose suggestions and requests they see by default.
    return sorted(rows, key=lambda p: p.user_id != user.id)


def can_act_for(user: Any, participant: FairParticipant) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if permissions.is_staff(user) or participant.user_id == user.id:
        return True
    return (user.organization_id is not None and user.organization_id == participant.organization_id
            and permissions.can(user, "fair.register"))


def require_staff(user: Any) -> None:
    permissions.require(user, "fair.manage", _("Only bureau staff can do this."))


def require_act_for(user: Any, participant: FairParticipant) -> None:
    if not can_act_for(user, participant):
        raise NotAllowed(_("You cannot act for this participant."))


# --- fair setup -------------------------------------------------------------------------------

def _check_fair_values(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if not (values.get("name") or "").strip():
        errors["name"] = [_("Give the fair a name.")]
    start, end = values.get("start_date"), values.get("end_date")
    if start and end and end < start:
        errors["end_date"] = [_("The fair cannot end before it starts.")]
    opens, closes = values.get("registration_opens"), values.get("registration_closes")
    if opens and closes and closes < opens:
        errors["registration_closes"] = [_("Registration cannot close before it opens.")]
    if closes and end and closes > end:
        errors["registration_closes"] = [_("Registration must close by the last day of the fair.")]
    if (values.get("meeting_minutes") or 0) < 5:
        errors["meeting_minutes"] = [_("Meetings must last at least 5 minutes.")]
    if (values.get("request_expiry_hours") or 0) < 1:
        errors["request_expiry_hours"] = [_("Requests must stay open for at least one hour.")]
    cap = values.get("max_meetings_per_participant")
    if cap is not None and cap < 1:
        errors["max_meetings_per_participant"] = [_("The cap must be at least one meeting, or empty for none.")]
    types = values.get("participant_types") or []
    if not types or any(t not in set(ParticipantType) for t in types):
        errors["participant_types"] = [_("Choose at least one participant type.")]
    if errors:
        raise ValidationFailed(errors)


def create_fair(actor: User, values: dict[str, Any]) -> Fair:
    require_staff(actor)
    values = {k: values.get(k) for k in FAIR_FIELDS if k in values}
    values.setdefault("participant_types", [str(t) for t in ParticipantType])
    values.setdefault("meeting_minutes", 20)
    values.setdefault("request_expiry_hours", 72)
    _check_fair_values(values)
    fair = Fair(created_by_id=actor.id, status=FairStatus.DRAFT, **values)
    Session.add(fair)
    audit.record(actor.id, "fair.create", fair, audit.diff(Fair(), values))
    Session.commit()
    return fair


def update_fair(actor: User, fair_id: int, values: dict[str, Any]) -> Fair:
    require_staff(actor)
    fair = get_fair(fair_id)
    merged = {k: getattr(fair, k) for k in FAIR_FIELDS} | {k: v for k, v in values.items() if k in FAIR_FIELDS}
    _check_fair_values(merged)
    outside = [s for s in fair.sessions if not merged["start_date"] <= s.day <= merged["end_date"]]
    if outside:
        raise ValidationFailed({"start_date": [
            _("Session %(name)s on %(day)s would fall outside the fair's dates.", name=outside[0].name,
              day=outside[0].day.isoformat())]})
    if merged["meeting_minutes"] != fair.meeting_minutes and _has_placed_meetings(fair.id):
        raise ValidationFailed({"meeting_minutes": [
            _("Meetings are already scheduled; cancel the schedule before changing the meeting length.")]})
    changes = audit.apply(fair, merged)
    if "meeting_minutes" in changes:
        for session in fair.sessions:
            _rebuild_slots(session, fair.meeting_minutes)
    audit.record(actor.id, "fair.update", fair, changes)
    Session.commit()
    return fair


def set_status(actor: User, fair_id: int, status: str) -> Fair:
    require_staff(actor)
    fair = get_fair(fair_id)
    if status not in set(FairStatus):
        raise DomainError(_("Unknown fair status."))
    if status == FairStatus.OPEN and not fair.sessions:
        raise Conflict(_("Add at least one session before opening the fair."))
    audit.record(actor.id, "fair.status", fair, audit.apply(fair, {"status": status}))
    Session.commit()
    return fair


def _has_placed_meetings(fair_id: int, session_id: int | None = None) -> bool:
    stmt = sa.select(sa.func.count()).select_from(FairMeeting).join(FairSlot, FairMeeting.slot_id == FairSlot.id)
    stmt = stmt.where(FairMeeting.fair_id == fair_id)
    if session_id is not None:
        stmt = stmt.where(FairSlot.session_id == session_id)
    return bool(Session.scalar(stmt))


def _combine(day: date, at: time) -> datetime:
    return datetime.combine(day, at)


def slot_times(day: date, start: time, end: time, minutes: int) -> list[tuple[datetime, datetime]]:
    """Back-to-back slots of `minutes` from start; a remainder shorter than a meeting is left unused."""
    step = timedelta(minutes=minutes)
    at, stop = _combine(day, start), _combine(day, end)
    slots = []
    while at + step <= stop:
        slots.append((at, at + step))
        at += step
    return slots


def _rebuild_slots(session: FairSession, minutes: int) -> None:
    session.slots.clear()
    Session.flush()
    for starts_at, ends_at in slot_times(session.day, session.start_time, session.end_time, minutes):
        session.slots.append(FairSlot(fair_id=session.fair_id, starts_at=starts_at, ends_at=ends_at))


def _check_session(fair: Fair, values: dict[str, Any], exclude_id: int | None = None) -> None:
    errors: dict[str, list[str]] = {}
    day, start, end, tables = values.get("day"), values.get("start_time"), values.get("end_time"), values.get("tables")
    if not (values.get("name") or "").strip():
        errors["name"] = [_("Give the session a name, e.g. Tuesday morning.")]
    if day is None or not fair.start_date <= day <= fair.end_date:
        errors["day"] = [_("The session must be on a day of the fair (%(start)s to %(end)s).",
                           start=fair.start_date.isoformat(), end=fair.end_date.isoformat())]
    if start is None or end is None or start >= end:
        errors["end_time"] = [_("The session must end after it starts.")]
    elif day is not None and not slot_times(day, start, end, fair.meeting_minutes):
        errors["end_time"] = [_("The session is shorter than one meeting (%(minutes)s minutes).",
                                minutes=fair.meeting_minutes)]
    if tables is None or tables < 1:
        errors["tables"] = [_("A session needs at least one table.")]
    if not errors:
        for other in fair.sessions:
            if other.id != exclude_id and other.day == day and start < other.end_time and other.start_time < end:
                errors["start_time"] = [_("This overlaps the session %(name)s (%(start)s–%(end)s).",
                                          name=other.name, start=other.start_time.strftime("%H:%M"),
                                          end=other.end_time.strftime("%H:%M"))]
                break
    if errors:
        raise ValidationFailed(errors)


def add_session(actor: User, fair_id: int, values: dict[str, Any]) -> FairSession:
    require_staff(actor)
    fair = get_fair(fair_id)
    _check_session(fair, values)
    session = FairSession(name=values["name"].strip(), day=values["day"], start_time=values["start_time"],
                          end_time=values["end_time"], tables=values["tables"])
    fair.sessions.append(session)
    Session.flush()
    _rebuild_slots(session, fair.meeting_minutes)
    # New sessions are open to everyone already registered; they can narrow it down.
    for participant in Session.scalars(sa.select(FairParticipant).where(FairParticipant.fair_id == fair.id)):
        participant.availability.append(FairAvailability(session_id=session.id))
    audit.record(actor.id, "fair.session.add", fair, {"session": [None, session.name]})
    Session.commit()
    return session


def update_session(actor: User, session_id: int, values: dict[str, Any]) -> FairSession:
    require_staff(actor)
    session = Session.get(FairSession, session_id)
    if session is None:
        raise NotFound(_("This session does not exist."))
    fair = session.fair
    merged = {"name": session.name, "day": session.day, "start_time": session.start_time,
              "end_time": session.end_time, "tables": session.tables} | values
    _check_session(fair, merged, exclude_id=session.id)
    times_change = any(merged[k] != getattr(session, k) for k in ("day", "start_time", "end_time"))
    if times_change and _has_placed_meetings(fair.id, session.id):
        raise Conflict(_("Meetings are scheduled in this session; move them before changing its times."))
    if merged["tables"] < session.tables:
        used = Session.scalar(sa.select(sa.func.max(FairMeeting.table_no)).join(FairSlot)
                              .where(FairSlot.session_id == session.id))
        if used and used > merged["tables"]:
            raise Conflict(_("Table %(table)s is in use in this session; move its meetings first.", table=used))
    changes = {k: [v.strftime("%H:%M") if isinstance(v, time) else v for v in pair]
               for k, pair in audit.apply(session, merged).items()}
    if times_change:
        _rebuild_slots(session, fair.meeting_minutes)
    audit.record(actor.id, "fair.session.update", session, changes)
    Session.commit()
    return session


def delete_session(actor: User, session_id: int) -> None:
    require_staff(actor)
    session = Session.get(FairSession, session_id)
    if session is None:
        raise NotFound(_("This session does not exist."))
    if _has_placed_meetings(session.fair_id, session.id):
        raise Conflict(_("Meetings are scheduled in this session; move them before deleting it."))
    audit.record(actor.id, "fair.session.delete", session, {"name": [session.name, None]})
    Session.delete(session)
    Session.commit()


def copy_fair(actor: User, source_id: int, name: str, start_date: date) -> Fair:
    """A new draft fair with the source's settings and sessions, shifted to start on `start_date`."""
    require_staff(actor)
    source = get_fair(source_id)
    shift = start_date - source.start_date
    values = {k: getattr(source, k) for k in FAIR_FIELDS}
    values |= {"name": name, "start_date": start_date, "end_date": source.end_date + shift,
               "registration_opens": source.registration_opens and source.registration_opens + shift,
               "registration_closes": source.registration_closes and source.registration_closes + shift,
               "participant_types": list(source.participant_types or [])}
    _check_fair_values(values)
    fair = Fair(created_by_id=actor.id, status=FairStatus.DRAFT, copied_from_id=source.id, **values)
    Session.add(fair)
    Session.flush()
    for old in source.sessions:
        session = FairSession(name=old.name, day=old.day + shift, start_time=old.start_time,
                              end_time=old.end_time, tables=old.tables)
        fair.sessions.append(session)
        Session.flush()
        _rebuild_slots(session, fair.meeting_minutes)
    audit.record(actor.id, "fair.copy", fair, {"copied_from_id": [None, source.id]})
    Session.commit()
    return fair


# --- registration -----------------------------------------------------------------------------

@dataclass
class Registration:
    """What an organization submits for one person."""

    name: str
    email: str
    participant_type: str
    organization_id: int | None = None
    phone: str | None = None
    job_title: str | None = None
    result_ids: list[int] = field(default_factory=list)
    need_ids: list[int] = field(default_factory=list)
    # New listings to create with the registration: (kind, title, summary).
    new_listings: list[tuple[str, str, str]] = field(default_factory=list)
    # session id -> (from, until) or None for the whole session; None means every session.
    availability: dict[int, tuple[time | None, time | None] | None] | None = None


def registration_open(fair: Fair, today: date | None = None) -> bool:
    today = today or date.today()
    if fair.status != FairStatus.OPEN:
        return False
    if fair.registration_opens and today < fair.registration_opens:
        return False
    return not (fair.registration_closes and today > fair.registration_closes)


def _listing_errors(org_id: int, result_ids: Iterable[int], need_ids: Iterable[int]) -> list[str]:
    errors = []
    for model, ids in ((ResearchResult, result_ids), (TechNeed, need_ids)):
        for listing_id in ids:
            listing = Session.get(model, listing_id)
            if listing is None or listing.organization_id != org_id:
                errors.append(_("Listing %(id)s is not one of this organization's listings.", id=listing_id))
            elif listing.status in (ListingStatus.CLOSED, ListingStatus.EXPIRED, ListingStatus.REJECTED):
                errors.append(_("Listing %(title)s is closed or expired and cannot be brought to the fair.",
                                title=listing.title))
    return errors


def check_registration(actor: User, fair: Fair, reg: Registration) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not reg.name.strip():
        errors["name"] = [_("Enter the participant's name.")]
    if "@" not in (reg.email or ""):
        errors["email"] = [_("Enter a valid email address.")]
    elif Session.scalar(sa.select(FairParticipant.id).where(
            FairParticipant.fair_id == fair.id, sa.func.lower(FairParticipant.email) == reg.email.strip().lower())):
        errors["email"] = [_("%(email)s is already registered for this fair.", email=reg.email)]
    if reg.participant_type not in (fair.participant_types or []):
        errors["participant_type"] = [_("This fair does not take this type of participant.")]
    if reg.organization_id is None or Session.get(Organization, reg.organization_id) is None:
        errors["organization_id"] = [_("Choose the participant's organization.")]
    elif not permissions.is_staff(actor) and reg.organization_id != actor.organization_id:
        errors["organization_id"] = [_("You can only register people of your own organization.")]
    else:
        listing_errors = _listing_errors(reg.organization_id, reg.result_ids, reg.need_ids)
        for kind, title, _summary in reg.new_listings:
            if kind not in ("result", "need") or not title.strip():
                listing_errors.append(_("A new listing needs a kind and a title."))
        if listing_errors:
            errors["listings"] = listing_errors
    if reg.availability is not None:
        availability_errors = _availability_errors(fair, reg.availability)
        if availability_errors:
            errors["availability"] = availability_errors
    return errors


def _availability_errors(fair: Fair, availability: dict[int, tuple[time | None, time | None] | None]) -> list[str]:
    sessions = {s.id: s for s in fair.sessions}
    errors = []
    if fair.sessions and not availability:
        errors.append(_("Choose at least one session the participant can attend."))
    for session_id, window in availability.items():
        session = sessions.get(session_id)
        if session is None:
            errors.append(_("Session %(id)s is not part of this fair.", id=session_id))
            continue
        if window is None:
            continue
        start, until = window[0] or session.start_time, window[1] or session.end_time
        if start >= until or start < session.start_time or until > session.end_time:
            errors.append(_("The times given for %(name)s must lie within %(start)s–%(end)s.",
                            name=session.name, start=session.start_time.strftime("%H:%M"),
                            end=session.end_time.strftime("%H:%M")))
    return errors


def _create_listing(actor: User, org_id: int, kind: str, title: str, summary: str) -> Any:
    model = ResearchResult if kind == "result" else TechNeed
    # Submitted for review like any listing; the fair shows it to counterparts meanwhile.
    listing = model(title=title.strip(), summary=summary.strip(), description=summary.strip(),
                    organization_id=org_id, owner_id=actor.id, status=ListingStatus.PENDING,
                    submitted_at=utcnow(), keywords=[], transfer_modes=[])
    Session.add(listing)
    Session.flush()
    audit.record(actor.id, "listing.create", listing, {"title": [None, listing.title], "via": [None, "fair"]})
    return listing


def add_participant(actor: User, fair: Fair, reg: Registration) -> FairParticipant:
    email = reg.email.strip()
    # The account with this e-mail acts for the participant only if it belongs to the participant's
    # organization: typing someone else's address must not hand them this organization's schedule,
    # requests and listings.
    user_id = Session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email.lower(),
                                                      User.organization_id == reg.organization_id))
    participant = FairParticipant(
        fair_id=fair.id, organization_id=reg.organization_id, user_id=user_id, name=reg.name.strip(),
        email=email, phone=(reg.phone or "").strip() or None, job_title=(reg.job_title or "").strip() or None,
        participant_type=reg.participant_type, registered_by_id=actor.id,
        status=RegistrationStatus.PENDING, checkin_token=secrets.token_urlsafe(16),
    )
    Session.add(participant)
    Session.flush()
    for result_id in dict.fromkeys(reg.result_ids):
        participant.listings.append(FairListing(fair_id=fair.id, result_id=result_id))
    for need_id in dict.fromkeys(reg.need_ids):
        participant.listings.append(FairListing(fair_id=fair.id, need_id=need_id))
    for kind, title, summary in reg.new_listings:
        listing = _create_listing(actor, reg.organization_id, kind, title, summary)
        link = FairListing(fair_id=fair.id, result_id=listing.id if kind == "result" else None,
                           need_id=listing.id if kind == "need" else None)
        participant.listings.append(link)
    _replace_availability(participant, fair, reg.availability)
    audit.record(actor.id, "fair.register", participant,
                 {"name": [None, participant.name], "type": [None, participant.participant_type]})
    return participant


def _replace_availability(participant: FairParticipant, fair: Fair,
                          availability: dict[int, tuple[time | None, time | None] | None] | None) -> None:
    if availability is None:
        availability = {s.id: None for s in fair.sessions}
    participant.availability.clear()
    Session.flush()
    for session_id, window in availability.items():
        start, until = window if window else (None, None)
        participant.availability.append(FairAvailability(session_id=session_id, available_from=start,
                                                         available_until=until))


def register(actor: User, fair_id: int, reg: Registration) -> FairParticipant:
    fair = get_fair(fair_id)
    permissions.require(actor, "fair.register", _("Your account cannot register participants."))
    if not permissions.is_staff(actor) and not registration_open(fair):
        raise Conflict(_("Registration for this fair is not open."))
    if reg.organization_id is None and not permissions.is_staff(actor):
        reg.organization_id = actor.organization_id
    errors = check_registration(actor, fair, reg)
    if errors:
        raise ValidationFailed(errors)
    participant = add_participant(actor, fair, reg)
    Session.commit()
    return participant


def set_registration_status(actor: User, participant_id: int, status: str, note: str | None = None) -> FairParticipant:
    require_staff(actor)
    participant = get_participant(participant_id)
    _set_status(actor, participant, status, note)
    Session.commit()
    return participant


def set_registration_statuses(actor: User, fair_id: int, participant_ids: Iterable[int], status: str) -> int:
    """Validate (or reject) many registrations of one fair at once, each audited; the number changed.
    Ids of other fairs' participants are refused, and nothing is saved then."""
    require_staff(actor)
    fair = get_fair(fair_id)
    wanted = set(participant_ids)
    if not wanted:
        raise ValidationFailed({"participant_ids": [_("Select at least one participant.")]})
    found = list(Session.scalars(sa.select(FairParticipant).where(FairParticipant.fair_id == fair.id,
                                                                  FairParticipant.id.in_(wanted))))
    if len(found) != len(wanted):
        raise NotFound(_("Some of the selected participants are not registered for this fair."))
    changed = sum(_set_status(actor, participant, status) for participant in found)
    Session.commit()
    return changed


def _set_status(actor: User, participant: FairParticipant, status: str, note: str | None = None) -> bool:
    if status not in set(RegistrationStatus):
        raise DomainError(_("Unknown registration status."))
    changes = audit.apply(participant, {"status": status, "status_note": note or None})
    if changes:
        audit.record(actor.id, "fair.participant.status", participant, changes)
    return bool(changes)


def set_cap(actor: User, participant_id: int, max_meetings: int | None) -> FairParticipant:
    require_staff(actor)
    participant = get_participant(participant_id)
    if max_meetings is not None and max_meetings < 0:
        raise ValidationFailed({"max_meetings": [_("The cap cannot be negative.")]})
    changes = audit.apply(participant, {"max_meetings": max_meetings})
    audit.record(actor.id, "fair.participant.cap", participant, changes)
    Session.commit()
    return participant


def set_availability(actor: User, participant_id: int,
                     availability: dict[int, tuple[time | None, time | None] | None]) -> FairParticipant:
    participant = get_participant(participant_id)
    require_act_for(actor, participant)
    errors = _availability_errors(participant.fair, availability)
    if errors:
        raise ValidationFailed({"availability": errors})
    sessions = {s.id: s for s in participant.fair.sessions}
    free = set().union(*(_window_slots(sessions[sid], *(window or (None, None)))
                         for sid, window in availability.items()))
    clash = [m for m in participant_meetings(participant.id) if m.slot is not None and m.slot_id not in free]
    if clash:
        raise Conflict(_("A meeting is already scheduled at %(at)s; ask staff to move it first.",
                         at=clash[0].slot.starts_at.strftime("%Y-%m-%d %H:%M")))
    before = sorted(a.session_id for a in participant.availability)
    _replace_availability(participant, participant.fair, availability)
    audit.record(actor.id, "fair.participant.availability", participant,
                 {"sessions": [before, sorted(availability)]})
    Session.commit()
    return participant


def set_listings(actor: User, participant_id: int, result_ids: list[int], need_ids: list[int]) -> FairParticipant:
    participant = get_participant(participant_id)
    require_act_for(actor, participant)
    errors = _listing_errors(participant.organization_id, result_ids, need_ids)
    if errors:
        raise ValidationFailed({"listings": errors})
    participant.listings.clear()
    Session.flush()
    for result_id in dict.fromkeys(result_ids):
        participant.listings.append(FairListing(fair_id=participant.fair_id, result_id=result_id))
    for need_id in dict.fromkeys(need_ids):
        participant.listings.append(FairListing(fair_id=participant.fair_id, need_id=need_id))
    audit.record(actor.id, "fair.participant.listings", participant,
                 {"results": [None, result_ids], "needs": [None, need_ids]})
    Session.commit()
    return participant


def participant_meetings(participant_id: int) -> list[FairMeeting]:
    from models.fairs import MeetingStatus

    stmt = (sa.select(FairMeeting)
            .where(sa.or_(FairMeeting.a_id == participant_id, FairMeeting.b_id == participant_id),
                   FairMeeting.status != MeetingStatus.CANCELLED)
            .order_by(FairMeeting.id))
    return list(Session.scalars(stmt))


def available_slot_ids(participant: FairParticipant) -> set[int]:
    """Slots the participant can attend: inside an available session and its optional time window."""
    ids: set[int] = set()
    for availability in participant.availability:
        ids |= _window_slots(availability.session, availability.available_from, availability.available_until)
    return ids


def _window_slots(session: FairSession, start: time | None, until: time | None) -> set[int]:
    begin = datetime.combine(session.day, start or session.start_time)
    end = datetime.combine(session.day, until or session.end_time)
    return {slot.id for slot in session.slots if slot.starts_at >= begin and slot.ends_at <= end}


def fair_listing_choices(org_id: int | None) -> tuple[list[ResearchResult], list[TechNeed]]:
    """An organization's listings that can be brought to a fair."""
    if org_id is None:
        return [], []
    usable = (ListingStatus.PUBLISHED, ListingStatus.PENDING, ListingStatus.DRAFT)
    results = Session.scalars(sa.select(ResearchResult).where(
        ResearchResult.organization_id == org_id, ResearchResult.status.in_(usable)).order_by(ResearchResult.title))
    needs = Session.scalars(sa.select(TechNeed).where(
        TechNeed.organization_id == org_id, TechNeed.status.in_(usable)).order_by(TechNeed.title))
    return list(results), list(needs)


def participants(fair_id: int, status: str | None = None, query: str | None = None) -> list[FairParticipant]:
    stmt = (sa.select(FairParticipant).join(Organization, FairParticipant.organization_id == Organization.id)
            .where(FairParticipant.fair_id == fair_id))
    if status:
        stmt = stmt.where(FairParticipant.status == status)
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(sa.or_(FairParticipant.name.ilike(like), Organization.name.ilike(like),
                                 FairParticipant.email.ilike(like)))
    return list(Session.scalars(stmt.order_by(Organization.name, FairParticipant.name)))


@dataclass
class CheckinDesk:
    """The check-in desk's figures: validated participants, how many are in, who is still missing."""
    expected: int
    checked_in: int
    missing: list[FairParticipant]


def checkin_desk(fair_id: int) -> CheckinDesk:
    validated = participants(fair_id, status=RegistrationStatus.VALIDATED)
    missing = [p for p in validated if p.checked_in_at is None]
    return CheckinDesk(expected=len(validated), checked_in=len(validated) - len(missing), missing=missing)
