"""Staff set up a fair: dates, sessions split into slots, tables, copying; bad setups are refused."""
from __future__ import annotations

from datetime import date, time

import pytest

from matchmaker.core.errors import NotAllowed, ValidationFailed
from matchmaker.fairs import fairs
from models import Fair, FairSlot, Role, Session
from tests.fairs.conftest import DAY, build_fair


def test_session_is_split_into_slots_of_the_meeting_length(make):
    staff, fair = build_fair(make, sessions=1)
    slots = Session.query(FairSlot).filter_by(fair_id=fair.id).order_by(FairSlot.starts_at).all()
    # 09:00–10:00 in 20-minute meetings
    assert [s.starts_at.strftime("%H:%M") for s in slots] == ["09:00", "09:20", "09:40"]


@pytest.mark.parametrize(("values", "field", "text"), [
    ({"start_time": time(9, 30), "end_time": time(11)}, "start_time", "overlaps"),
    ({"tables": 0}, "tables", "at least one table"),
    ({"day": date(2031, 6, 1)}, "day", "day of the fair"),
    ({"start_time": time(12), "end_time": time(11)}, "end_time", "end after"),
    ({"start_time": time(12), "end_time": time(12, 10)}, "end_time", "shorter than one meeting"),
])
def test_bad_sessions_are_refused_with_a_clear_message(make, values, field, text):
    staff, fair = build_fair(make, sessions=1)
    session = {"name": "加场", "day": DAY, "start_time": time(16), "end_time": time(17), "tables": 3} | values
    with pytest.raises(ValidationFailed) as exc:
        fairs.add_session(staff, fair.id, session)
    assert text in " ".join(exc.value.errors[field])
    assert len(Session.get(Fair, fair.id).sessions) == 1


def test_fair_dates_and_registration_window_are_checked(make):
    staff = make.user(Role.STAFF)
    with pytest.raises(ValidationFailed) as exc:
        fairs.create_fair(staff, {"name": "x", "start_date": DAY, "end_date": date(2031, 5, 1),
                                  "registration_opens": date(2031, 5, 10), "registration_closes": date(2031, 5, 1)})
    assert set(exc.value.errors) == {"end_date", "registration_closes"}
    assert Session.query(Fair).count() == 0


def test_only_staff_create_fairs(make):
    with pytest.raises(NotAllowed):
        fairs.create_fair(make.user(Role.RESEARCHER), {"name": "x", "start_date": DAY, "end_date": DAY})


def test_copy_keeps_settings_and_shifts_sessions(make):
    staff, fair = build_fair(make, tables=7)
    copy = fairs.copy_fair(staff, fair.id, "2032 对接会", date(2032, 5, 18))
    assert copy.status == "draft" and copy.copied_from_id == fair.id
    assert [(s.name, s.day, s.tables, len(s.slots)) for s in copy.sessions] == [
        ("上午", date(2032, 5, 18), 7, 3), ("下午", date(2032, 5, 18), 7, 3)]
    assert copy.participants == []


def test_session_times_cannot_change_under_scheduled_meetings(make, world):
    from matchmaker.core.errors import Conflict
    from matchmaker.fairs import meetings, schedule

    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    session = world.fair.sessions[0]
    schedule.move(world.staff, meeting.id, session.slots[0].id, 1)
    with pytest.raises(Conflict):
        fairs.update_session(world.staff, session.id, {"start_time": time(8)})


def test_a_session_added_later_is_open_to_everyone_registered(world):
    session = fairs.add_session(world.staff, world.fair.id, {"name": "加场", "day": DAY, "start_time": time(16),
                                                             "end_time": time(17), "tables": 1})
    for participant in (world.research, world.company):
        Session.refresh(participant)
        assert session.id in {a.session_id for a in participant.availability}
