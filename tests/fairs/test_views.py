"""The fair pages as organizers and participants see them: setup, requests, scheduling, printouts."""
from __future__ import annotations

import re

import pytest

from matchmaker.fairs import meetings, schedule
from models import Fair, FairMeeting, MeetingRequest, Role, Session


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FAIR_SCHEDULE_SECONDS": 1.0}


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English texts; the printed schedule test switches to Chinese itself."""
    with client.session_transaction() as sess:
        sess["lang"] = "en"


def test_staff_create_a_fair_and_bad_input_keeps_what_was_typed(client, auth, make):
    auth.login(make.user(Role.STAFF))
    page = client.post("/fairs/new", data={"name": "春季对接会", "start_date": "2031-05-20", "end_date": "2031-05-19",
                                           "meeting_minutes": 20, "request_expiry_hours": 48,
                                           "participant_types": ["research", "enterprise"]})
    assert page.status_code == 200
    assert "The fair cannot end before it starts." in page.get_data(as_text=True)
    # The message stands next to the field it is about, not only above the form.
    assert re.search(r'<div class="field has-error">\s*<label for="end_date"', page.get_data(as_text=True))
    assert 'value="春季对接会"' in page.get_data(as_text=True)
    assert Session.query(Fair).count() == 0
    page = client.post("/fairs/new", data={"name": "春季对接会", "start_date": "2031-05-20", "end_date": "2031-05-20",
                                           "meeting_minutes": 20, "request_expiry_hours": 48,
                                           "participant_types": ["research", "enterprise"]})
    fair = Session.query(Fair).one()
    assert page.status_code == 302
    page = client.post(f"/fairs/{fair.id}/sessions", data={"name": "上午", "day": "2031-05-20", "start_time": "09:00",
                                                           "end_time": "10:00", "tables": "0"},
                       follow_redirects=True)
    assert "A session needs at least one table." in page.get_data(as_text=True)


def test_participant_requests_and_the_other_side_accepts(client, auth, world):
    auth.login(world.researcher)
    page = client.get(f"/fairs/{world.fair.id}/suggestions")
    assert "黄经理" in page.get_data(as_text=True) and "Shared terms" in page.get_data(as_text=True)
    client.post(f"/fairs/{world.fair.id}/requests", data={"requester_id": world.research.id,
                                                          "recipient_id": world.company.id, "message": "想聊聊"})
    req = Session.query(MeetingRequest).one()
    auth.login(world.enterprise)
    assert "想聊聊" in client.get(f"/fairs/{world.fair.id}/requests").get_data(as_text=True)
    page = client.post(f"/fairs/requests/{req.id}/respond", data={"answer": "accept"}, follow_redirects=True)
    assert "Accepted" in page.get_data(as_text=True)
    assert Session.query(FairMeeting).count() == 1


def test_participants_cannot_see_organizer_pages(client, auth, world):
    auth.login(world.researcher)
    for path in ("schedule", "participants", "report", "checkin", "print/tables"):
        assert client.get(f"/fairs/{world.fair.id}/{path}").status_code == 403
    assert client.get(f"/fairs/participants/{world.company.id}/schedule").status_code == 403


def test_schedule_page_shows_the_bound_and_a_refused_move(client, auth, make, world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    auth.login(world.staff)
    client.post(f"/fairs/{world.fair.id}/schedule/run")
    page = client.get(f"/fairs/{world.fair.id}/schedule").get_data(as_text=True)
    assert "1 of at most 1 possible meetings scheduled" in page
    other = world.add_person(make, Role.ENTERPRISE, "enterprise")[1]
    second = meetings.create_meeting(world.staff, world.research.id, other.id)
    placed = Session.get(FairMeeting, meeting.id)
    page = client.post(f"/fairs/meetings/{second.id}/move", data={"slot_id": placed.slot_id, "table_no": 2,
                                                                  "next": f"/fairs/{world.fair.id}/schedule"},
                       follow_redirects=True)
    assert "林教授 already has a meeting at" in page.get_data(as_text=True)


def test_printed_schedule_has_names_tables_qr_and_ics(client, auth, world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    slot = world.fair.sessions[0].slots[1]
    schedule.move(world.staff, meeting.id, slot.id, 2)
    auth.login(world.researcher)
    page = client.get(f"/fairs/participants/{world.research.id}/schedule?lang=zh").get_data(as_text=True)
    assert "黄经理" in page and "2号桌" in page and "09:20" in page and "<svg" in page
    assert "更新于" in page
    ics = client.get(f"/fairs/participants/{world.research.id}/calendar.ics")
    assert ics.mimetype == "text/calendar"
    assert b"DTSTART;TZID=Asia/Shanghai:20310520T092000" in ics.data


def test_checkin_by_qr_url_and_outcome_on_site(client, auth, world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    auth.login(world.staff)
    page = client.get(f"/fairs/checkin/{world.research.checkin_token}").get_data(as_text=True)
    assert "林教授" in page
    client.post(f"/fairs/participants/{world.research.id}/checkin", data={"method": "qr"})
    assert world.research.checked_in_at is not None
    client.post(f"/fairs/meetings/{meeting.id}/outcome", data={"outcome": "intention", "note": "签意向"})
    assert Session.get(FairMeeting, meeting.id).outcome == "intention"
    page = client.get(f"/fairs/{world.fair.id}/report")
    assert page.status_code == 200
    assert client.get(f"/fairs/{world.fair.id}/report.xlsx").status_code == 200


@pytest.mark.parametrize(("path", "text"), [
    ("/fairs/", "2031"), ("/fairs/{fair}", "Add a session"), ("/fairs/{fair}/edit", "Edit fair"),
    ("/fairs/{fair}/register", "Participates as"), ("/fairs/{fair}/participants", "林教授"),
    ("/fairs/participants/{p}/availability", "上午"), ("/fairs/{fair}/import", "Download a template"),
    ("/fairs/{fair}/meetings", "黄经理"), ("/fairs/{fair}/print/schedules", "黄经理"),
    ("/fairs/{fair}/print/tables", "Table 1"), ("/fairs/{fair}/checkin?q=林", "林教授"),
    ("/fairs/{fair}/suggestions?as={p}", "黄经理"), ("/fairs/{fair}/requests?as={p}", "No requests received."),
])
def test_organizer_pages_render_with_a_scheduled_meeting(client, auth, world, path, text):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    schedule.move(world.staff, meeting.id, world.fair.sessions[0].slots[0].id, 1)
    auth.login(world.staff)
    page = client.get(path.format(fair=world.fair.id, p=world.research.id))
    assert page.status_code == 200
    assert text in page.get_data(as_text=True)
