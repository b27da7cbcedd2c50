"""The fair's meeting schedule: map meetings, slots, tables and availability to the solver, run it as a
background job with progress, store placements, and let staff pin, move, unschedule or cancel by hand."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import audit, jobs
from matchmaker.core.errors import Conflict, DomainError, NotFound
from matchmaker.engine import scheduler
from matchmaker.fairs import notices
from matchmaker.fairs.fairs import available_slot_ids, get_fair, require_staff
from matchmaker.fairs.meetings import effective_cap, get_meeting
from models import (
    Fair,
    FairMeeting,
    FairParticipant,
    FairScheduleRun,
    FairSession,
    FairSlot,
    Job,
    JobStatus,
    Session,
    User,
    utcnow,
)
from models.fairs import MeetingStatus, RegistrationStatus

JOB_KIND = "fairs.schedule"
# Meetings that already happened stay where they were, like pins.
DONE_STATUSES = (MeetingStatus.HELD, MeetingStatus.NO_SHOW)


def reason_text(code: str | None) -> str:
    return {
        scheduler.NO_COMMON_SLOT: _("The two participants have no free slot in common."),
        scheduler.PARTICIPANT_FULL: _("Every slot both can attend already holds another meeting of one of them."),
        scheduler.CAPACITY: _("No table was free in the slots both can attend."),
        scheduler.CAP_REACHED: _("One of them has reached the maximum number of meetings."),
        scheduler.INVALID_PIN: _("It was pinned to a slot one of them can no longer attend, so it was unpinned."),
        "not_validated": _("One of the participants' registrations is not validated."),
    }.get(code or "", code or "")


# --- mapping to the solver --------------------------------------------------------------------

@dataclass
class Mapped:
    problem: scheduler.Problem
    excluded: dict[int, str]  # meeting id -> reason code, for meetings kept out of the problem


def _schedulable(fair_id: int) -> list[FairMeeting]:
    stmt = sa.select(FairMeeting).where(FairMeeting.fair_id == fair_id,
                                        FairMeeting.status != MeetingStatus.CANCELLED)
    return list(Session.scalars(stmt.order_by(FairMeeting.id)))


def build_problem(fair: Fair) -> Mapped:
    """The solver's view of the fair: every slot, the tables per session, each participant's blocked
    slots, the meetings to place and the ones that must stay (pinned or already held)."""
    sessions: list[FairSession] = list(fair.sessions)
    slots = tuple(scheduler.Slot(s.id, s.session_id, s.starts_at, s.ends_at) for session in sessions
                  for s in session.slots)
    all_slot_ids = frozenset(s.id for s in slots)
    specs: list[scheduler.MeetingSpec] = []
    pins: list[scheduler.Pinned] = []
    excluded: dict[int, str] = {}
    people: dict[int, FairParticipant] = {}
    for meeting in _schedulable(fair.id):
        if any(p.status != RegistrationStatus.VALIDATED for p in (meeting.a, meeting.b)):
            excluded[meeting.id] = "not_validated"
            continue
        specs.append(scheduler.MeetingSpec(meeting.id, meeting.a_id, meeting.b_id, meeting.priority or 1))
        people[meeting.a_id], people[meeting.b_id] = meeting.a, meeting.b
        if meeting.slot_id is not None and (meeting.pinned or meeting.status in DONE_STATUSES):
            pins.append(scheduler.Pinned(meeting.id, meeting.slot_id, meeting.table_no))
    unavailable = {pid: all_slot_ids - frozenset(available_slot_ids(p)) for pid, p in people.items()}
    # Requests and staff are held to the lower of the two caps, so the solver is too.
    caps = {pid: effective_cap(p) for pid, p in people.items() if p.max_meetings is not None}
    problem = scheduler.Problem(
        slots=slots, tables_per_session={s.id: s.tables for s in sessions}, meetings=tuple(specs),
        unavailable=unavailable, pinned=tuple(pins),
        max_meetings_per_participant=fair.max_meetings_per_participant, caps=caps)
    return Mapped(problem, excluded)


# --- running ----------------------------------------------------------------------------------

def running_job(fair_id: int) -> Job | None:
    run = latest_run(fair_id)
    if run is None or run.job_id is None:
        return None
    job = Session.get(Job, run.job_id)
    return job if job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING) else None


def latest_run(fair_id: int) -> FairScheduleRun | None:
    return Session.scalar(sa.select(FairScheduleRun).where(FairScheduleRun.fair_id == fair_id)
                          .order_by(FairScheduleRun.id.desc()).limit(1))


def start_run(actor: User, fair_id: int) -> FairScheduleRun:
    """Check the problem, record a run with a progress job, and start it after the commit."""
    require_staff(actor)
    fair = get_fair(fair_id)
    if not fair.sessions:
        raise Conflict(_("Add sessions with tables before scheduling."))
    if running_job(fair.id) is not None:
        raise Conflict(_("The scheduler is already running for this fair."))
    mapped = build_problem(fair)
    try:
        scheduler.validate(mapped.problem)
    except scheduler.ScheduleError as exc:
        raise DomainError(_("The schedule cannot be computed: %(reason)s", reason=str(exc))) from exc
    job = jobs.create_job(JOB_KIND, {"fair_id": fair.id}, user_id=actor.id, total=len(mapped.problem.meetings))
    run = FairScheduleRun(fair_id=fair.id, job_id=job.id, created_by_id=actor.id,
                          meetings=len(mapped.problem.meetings))
    Session.add(run)
    audit.record(actor.id, "fair.schedule.run", run, {"meetings": [None, run.meetings]})
    Session.commit()
    jobs.dispatch(JOB_KIND, run.id)
    return run


def run_schedule(run_id: int) -> None:
    run = Session.get(FairScheduleRun, run_id)
    if run is None:
        return
    fair = run.fair_id and Session.get(Fair, run.fair_id)
    job_id = run.job_id
    try:
        mapped = build_problem(fair)
        total = len(mapped.problem.meetings)

        def progress(info: dict[str, Any]) -> None:
            if job_id is not None:
                jobs.report_progress(job_id, int(info.get("scheduled", 0)), total,
                                     _("%(n)s scheduled so far, at most %(bound)s possible",
                                       n=info.get("scheduled", 0), bound=info.get("bound", total)))

        limit = float(current_app.config.get("FAIR_SCHEDULE_SECONDS", 8.0))
        schedule = scheduler.solve(mapped.problem, time_limit_s=limit, progress=progress)
        changed = store_schedule(fair, mapped, schedule)
        notices.schedule_changed(fair, run.id, changed)
        run.finished_at = utcnow()
        run.scheduled = len(schedule.placements)
        run.upper_bound = schedule.upper_bound
        run.optimal = schedule.optimal
        run.seconds = schedule.seconds
        audit.record(None, "fair.schedule.store", run, {"scheduled": [None, run.scheduled],
                                                        "upper_bound": [None, run.upper_bound]})
        Session.commit()
        if job_id is not None:
            jobs.finish_job(job_id, {"scheduled": run.scheduled, "upper_bound": run.upper_bound})
    except Exception as exc:
        Session.rollback()
        run = Session.get(FairScheduleRun, run_id)
        run.error = str(exc)
        run.finished_at = utcnow()
        Session.commit()
        if job_id is not None:
            jobs.finish_job(job_id, error=str(exc))
        if not isinstance(exc, scheduler.ScheduleError):
            raise


def store_schedule(fair: Fair, mapped: Mapped, schedule: scheduler.Schedule) -> dict[int, int]:
    """Replace every unpinned placement with the solver's answer; pinned meetings stay put.

    Returns, per participant, how many of their meetings were placed or moved (slot or table).
    """
    kept = {p.meeting_id for p in mapped.problem.pinned}
    invalid = {u.meeting_id for u in schedule.unplaced if u.reason == scheduler.INVALID_PIN}
    by_id = {m.id: m for m in _schedulable(fair.id)}
    before = {m.id: (m.slot_id, m.table_no) for m in by_id.values()}
    for meeting_id, meeting in by_id.items():
        if meeting_id not in kept or meeting_id in invalid:
            meeting.slot_id, meeting.table_no = None, None
            if meeting_id in invalid:
                meeting.pinned = False
    Session.flush()  # free the tables before they are dealt out again
    for placement in schedule.placements:
        meeting = by_id[placement.meeting_id]
        meeting.slot_id, meeting.table_no, meeting.unplaced_reason = placement.slot_id, placement.table, None
    for unplaced in schedule.unplaced:
        by_id[unplaced.meeting_id].unplaced_reason = unplaced.reason
    for meeting_id, reason in mapped.excluded.items():
        by_id[meeting_id].unplaced_reason = reason
    fair.schedule_updated_at = utcnow()
    changed: dict[int, int] = defaultdict(int)
    for placement in schedule.placements:
        if before[placement.meeting_id] != (placement.slot_id, placement.table):
            meeting = by_id[placement.meeting_id]
            for person in (meeting.a_id, meeting.b_id):
                changed[person] += 1
    return dict(changed)


# --- changes by hand --------------------------------------------------------------------------

def _when(slot: FairSlot) -> str:
    return slot.starts_at.strftime("%m-%d %H:%M")


def _staff_meeting(actor: User, meeting_id: int) -> FairMeeting:
    require_staff(actor)
    meeting = get_meeting(meeting_id)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("This meeting was cancelled."))
    return meeting


def move(actor: User, meeting_id: int, slot_id: int, table_no: int) -> FairMeeting:
    """Put a meeting at (slot, table) and pin it there; refused when it would double-book anyone.

    Both participants are told the new time and table (not when only the pin changed)."""
    meeting = _staff_meeting(actor, meeting_id)
    slot = Session.get(FairSlot, slot_id)
    if slot is None or slot.fair_id != meeting.fair_id:
        raise NotFound(_("This time slot is not part of the fair."))
    tables = slot.session.tables
    if not 1 <= table_no <= tables:
        raise Conflict(_("Table %(table)s does not exist in this session (tables 1–%(tables)s).",
                         table=table_no, tables=tables))
    others = [m for m in Session.scalars(sa.select(FairMeeting).where(
        FairMeeting.slot_id == slot.id, FairMeeting.id != meeting.id))]
    at_table = next((m for m in others if m.table_no == table_no), None)
    if at_table is not None:
        raise Conflict(_("Table %(table)s is already taken at %(at)s by %(a)s and %(b)s.", table=table_no,
                         at=_when(slot), a=at_table.a.name, b=at_table.b.name))
    for person in (meeting.a, meeting.b):
        busy = next((m for m in others if person.id in (m.a_id, m.b_id)), None)
        if busy is not None:
            raise Conflict(_("%(name)s already has a meeting at %(at)s (table %(table)s).", name=person.name,
                             at=_when(slot), table=busy.table_no))
        if slot.id not in available_slot_ids(person):
            raise Conflict(_("%(name)s is not available at %(at)s.", name=person.name, at=_when(slot)))
    changes = _save_placement(actor, meeting, "fair.meeting.move",
                              {"slot_id": slot.id, "table_no": table_no, "pinned": True, "unplaced_reason": None})
    if changes.keys() & {"slot_id", "table_no"}:
        notices.meeting_moved(meeting, _when(slot))
    Session.commit()
    return meeting


def set_pinned(actor: User, meeting_id: int, pinned: bool) -> FairMeeting:
    meeting = _staff_meeting(actor, meeting_id)
    if pinned and meeting.slot_id is None:
        raise Conflict(_("Only a scheduled meeting can be pinned; move it to a slot and table first."))
    audit.record(actor.id, "fair.meeting.pin", meeting, audit.apply(meeting, {"pinned": pinned}))
    Session.commit()
    return meeting


def unschedule(actor: User, meeting_id: int) -> FairMeeting:
    """Take the meeting out of the schedule; when it had a time, both participants are told which."""
    meeting = _staff_meeting(actor, meeting_id)
    was = meeting.slot
    _save_placement(actor, meeting, "fair.meeting.unschedule", {"slot_id": None, "table_no": None, "pinned": False})
    if was is not None:
        notices.meeting_unscheduled(meeting, _when(was))
    Session.commit()
    return meeting


def cancel(actor: User, meeting_id: int) -> FairMeeting:
    """Cancel the meeting and tell both participants."""
    meeting = _staff_meeting(actor, meeting_id)
    if meeting.status in DONE_STATUSES:
        raise Conflict(_("This meeting has already taken place."))
    _save_placement(actor, meeting, "fair.meeting.cancel",
                    {"status": MeetingStatus.CANCELLED, "slot_id": None, "table_no": None, "pinned": False})
    notices.meeting_cancelled(meeting)
    Session.commit()
    return meeting


def _save_placement(actor: User, meeting: FairMeeting, action: str, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply a hand change of a meeting's place in the schedule, audited, and mark the schedule changed.

    Returns the audited changes; the caller commits."""
    changes = audit.apply(meeting, values)
    audit.record(actor.id, action, meeting, changes)
    _touch(meeting.fair_id)
    return changes


def _touch(fair_id: int) -> None:
    fair = Session.get(Fair, fair_id)
    if fair is not None:
        fair.schedule_updated_at = utcnow()


# --- what the schedule page shows -------------------------------------------------------------

@dataclass
class Overview:
    run: FairScheduleRun | None
    job: Job | None
    active: int
    scheduled: int
    unplaced: list[FairMeeting]
    grid: list[tuple[FairSession, list[tuple[FairSlot, list[FairMeeting | None]]]]]


def overview(fair_id: int) -> Overview:
    fair = get_fair(fair_id)
    run = latest_run(fair.id)
    job = Session.get(Job, run.job_id) if run is not None and run.job_id else None
    active = _schedulable(fair.id)
    at: dict[tuple[int, int], FairMeeting] = {(m.slot_id, m.table_no): m for m in active if m.slot_id is not None}
    grid = []
    for session in fair.sessions:
        rows = [(slot, [at.get((slot.id, t)) for t in range(1, session.tables + 1)]) for slot in session.slots]
        grid.append((session, rows))
    unplaced = [m for m in active if m.slot_id is None]
    return Overview(run, job, len(active), len(at), unplaced, grid)


def slot_choices(fair_id: int) -> list[tuple[int, str]]:
    fair = get_fair(fair_id)
    return [(slot.id, f"{session.name} {slot.starts_at:%m-%d %H:%M}–{slot.ends_at:%H:%M}")
            for session in fair.sessions for slot in session.slots]
