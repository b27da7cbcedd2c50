"""Scheduling: the mapping to the solver, a run storing placements, and staff moving meetings by hand."""
from __future__ import annotations

from datetime import time

import pytest

from matchmaker.core.errors import Conflict
from matchmaker.fairs import fairs, meetings, schedule
from models import FairMeeting, FairScheduleRun, Job, Role, Session
from models.fairs import ParticipantType


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FAIR_SCHEDULE_SECONDS": 2.0}


def _people(make, world, n: int):
    return [world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)[1] for _ in range(n)]


def test_problem_maps_slots_tables_availability_and_pins(make, world):
    morning, afternoon = world.fair.sessions
    fairs.set_availability(world.enterprise, world.company.id, {afternoon.id: (time(14), time(14, 20))})
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    mapped = schedule.build_problem(world.fair)
    problem = mapped.problem
    assert len(problem.slots) == 6
    assert dict(problem.tables_per_session) == {morning.id: 2, afternoon.id: 2}
    assert [(m.id, m.a, m.b) for m in problem.meetings] == [(meeting.id, world.research.id, world.company.id)]
    assert problem.unavailable[world.research.id] == frozenset()
    assert len(problem.unavailable[world.company.id]) == 5  # only 14:00–14:20 is free
    assert problem.pinned == ()


def test_run_places_every_meeting_without_double_booking(make, world):
    others = _people(make, world, 4)
    for p in others:
        meetings.create_meeting(world.staff, world.research.id, p.id)
    meetings.create_meeting(world.staff, world.company.id, others[0].id)
    run = schedule.start_run(world.staff, world.fair.id)  # JOBS_SYNC runs it inline
    run = Session.get(FairScheduleRun, run.id)
    assert (run.scheduled, run.upper_bound, run.error) == (5, 5, None)
    assert Session.get(Job, run.job_id).status == "done"
    placed = Session.query(FairMeeting).all()
    seen_people, seen_tables = set(), set()
    for m in placed:
        assert m.slot_id is not None
        for person in (m.a_id, m.b_id):
            assert (person, m.slot_id) not in seen_people
            seen_people.add((person, m.slot_id))
        assert (m.slot_id, m.table_no) not in seen_tables
        seen_tables.add((m.slot_id, m.table_no))
    assert world.fair.schedule_updated_at is not None


def test_unplaced_meetings_get_a_reason_in_words(make, world):
    morning, afternoon = world.fair.sessions
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    # after the meeting was agreed, the two stop sharing any free time
    fairs.set_availability(world.researcher, world.research.id, {morning.id: None})
    fairs.set_availability(world.enterprise, world.company.id, {afternoon.id: None})
    schedule.start_run(world.staff, world.fair.id)
    meeting = Session.get(FairMeeting, meeting.id)
    assert meeting.slot_id is None and meeting.unplaced_reason == "no_common_slot"
    assert schedule.reason_text(meeting.unplaced_reason) == "The two participants have no free slot in common."


def test_move_that_double_books_is_refused(make, world):
    other = _people(make, world, 1)[0]
    first = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    second = meetings.create_meeting(world.staff, world.research.id, other.id)
    slot = world.fair.sessions[0].slots[0]
    schedule.move(world.staff, first.id, slot.id, 1)
    with pytest.raises(Conflict) as exc:
        schedule.move(world.staff, second.id, slot.id, 1)
    assert "Table 1 is already taken" in exc.value.message
    with pytest.raises(Conflict) as exc:
        schedule.move(world.staff, second.id, slot.id, 2)
    assert "林教授 already has a meeting at" in exc.value.message
    with pytest.raises(Conflict) as exc:
        schedule.move(world.staff, second.id, slot.id, 9)
    assert "does not exist" in exc.value.message
    assert Session.get(FairMeeting, second.id).slot_id is None


def test_rerun_keeps_pinned_meetings_where_staff_put_them(make, world):
    others = _people(make, world, 3)
    pinned = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    for p in others:
        meetings.create_meeting(world.staff, world.research.id, p.id)
    last_slot = world.fair.sessions[1].slots[-1]
    schedule.move(world.staff, pinned.id, last_slot.id, 2)
    schedule.start_run(world.staff, world.fair.id)
    schedule.start_run(world.staff, world.fair.id)
    pinned = Session.get(FairMeeting, pinned.id)
    assert (pinned.slot_id, pinned.table_no, pinned.pinned) == (last_slot.id, 2, True)
    assert Session.query(FairMeeting).filter(FairMeeting.slot_id.is_(None)).count() == 0


def test_cancelled_meeting_frees_its_table(make, world):
    other = _people(make, world, 1)[0]
    first = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    second = meetings.create_meeting(world.staff, world.company.id, other.id)
    slot = world.fair.sessions[0].slots[0]
    schedule.move(world.staff, first.id, slot.id, 1)
    schedule.cancel(world.staff, first.id)
    schedule.move(world.staff, second.id, slot.id, 1)
    assert Session.get(FairMeeting, first.id).status == "cancelled"
    assert Session.get(FairMeeting, second.id).table_no == 1


def test_a_participants_own_cap_holds_in_the_schedule(make, world):
    others = _people(make, world, 3)
    for p in others:
        meetings.create_meeting(world.staff, world.research.id, p.id)
    meetings.create_meeting(world.staff, world.company.id, others[0].id)
    fairs.set_cap(world.staff, world.research.id, 1)  # lowered after the meetings were agreed
    assert schedule.build_problem(world.fair).problem.caps == {world.research.id: 1}
    schedule.start_run(world.staff, world.fair.id)
    research_meetings = Session.query(FairMeeting).filter_by(a_id=world.research.id).all()
    assert sum(m.slot_id is not None for m in research_meetings) == 1
    assert sorted(m.unplaced_reason or "" for m in research_meetings) == ["", "cap_reached", "cap_reached"]
    assert Session.query(FairMeeting).filter_by(a_id=world.company.id).one().slot_id is not None


def test_the_lower_of_the_fair_cap_and_a_personal_cap_is_passed_on(make, world):
    world.fair.max_meetings_per_participant = 2
    Session.commit()
    fairs.set_cap(world.staff, world.research.id, 5)
    fairs.set_cap(world.staff, world.company.id, 1)
    meetings.create_meeting(world.staff, world.research.id, world.company.id)
    problem = schedule.build_problem(world.fair).problem
    assert (problem.max_meetings_per_participant, dict(problem.caps)) == (
        2, {world.research.id: 2, world.company.id: 1})
