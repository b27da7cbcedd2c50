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


def test_schedule_page_while_the_scheduler_runs_shows_its_progress(client, auth, world):
    """Right after staff start the scheduler (the job queued for a worker), the page shows its progress bar
    wired to the job-status URL, not a server error."""
    from models import FairScheduleRun, Job, JobStatus

    job = Job(kind="fair_schedule", status=JobStatus.RUNNING, done=3, total=10, message="placing meetings")
    Session.add(job)
    Session.flush()
    Session.add(FairScheduleRun(fair_id=world.fair.id, job_id=job.id, created_by_id=world.staff.id))
    Session.commit()
    auth.login(world.staff)
    page = client.get(f"/fairs/{world.fair.id}/schedule")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'data-job-url="/jobs/{job.id}"' in body
    assert "3 / 10 placing meetings" in body


def test_checkin_desk_lists_who_is_still_missing(client, auth, make, world):
    _, waiting = world.add_person(make, Role.ENTERPRISE, "enterprise", validated=False)
    auth.login(world.staff)
    page = client.get(f"/fairs/{world.fair.id}/checkin").get_data(as_text=True)
    missing = page[page.index('id="still-missing"'):]
    assert "0 of 2 validated participants checked in; 2 still missing." in missing
    assert "林教授" in missing and "黄经理" in missing
    assert f'id="checkin-{waiting.id}"' not in missing  # not validated: not expected
    client.post(f"/fairs/participants/{world.research.id}/checkin", data={"method": "search"})
    page = client.get(f"/fairs/{world.fair.id}/checkin?q=黄").get_data(as_text=True)
    missing = page[page.index('id="still-missing"'):]
    assert "1 of 2 validated participants checked in; 1 still missing." in missing
    assert "林教授" not in missing and "黄经理" in missing
    client.post(f"/fairs/participants/{world.company.id}/checkin", data={"method": "search"})
    page = client.get(f"/fairs/{world.fair.id}/checkin").get_data(as_text=True)
    assert "Everyone validated has checked in." in page


def test_no_show_rate_counts_only_marked_meetings(client, auth, make, world):
    """Unmarked meetings are unknown, not attended: no 0% before anything is recorded."""
    others = [world.add_person(make, Role.ENTERPRISE, "enterprise")[1] for _ in range(2)]
    first, *rest = [meetings.create_meeting(world.staff, world.research.id, p.id)
                    for p in (world.company, *others)]
    for i, m in enumerate((first, *rest)):
        schedule.move(world.staff, m.id, world.fair.sessions[0].slots[i].id, 1)
    auth.login(world.staff)

    def rate() -> str:
        page = client.get(f"/fairs/{world.fair.id}/report").get_data(as_text=True)
        return re.sub(r"\s+", " ", page[page.index('id="no-show-rate"'):].split("</div>")[0])

    assert "not yet recorded (3 meetings not marked)" in rate() and "0%" not in rate()
    client.post(f"/fairs/meetings/{first.id}/mark", data={"status": "held"})
    assert "0.0% of 1 marked meetings (2 not yet marked)" in rate()
    client.post(f"/fairs/meetings/{rest[0].id}/mark", data={"status": "no_show"})
    assert "50.0% of 2 marked meetings (1 not yet marked)" in rate()
    client.get(f"/fairs/{world.fair.id}/report?lang=zh")
    assert "已标记的 2 场洽谈中占 50.0%（另有 1 场未标记）" in rate()


def test_request_lists_name_the_listings_they_are_about(client, auth, world):
    result = world.research.listings[0].listing
    need = world.company.listings[0].listing
    meetings.send_request(world.researcher, world.research.id, world.company.id, "想聊聊",
                          result_id=result.id, need_id=need.id)
    auth.login(world.enterprise)
    page = client.get(f"/fairs/{world.fair.id}/requests").get_data(as_text=True)
    row = page[page.index('id="request-'):].split("</tr>")[0]
    assert "设备故障预测算法" in row and "想在设备出故障前就知道" in row
    assert f'href="/result/{result.id}"' in row
    auth.login(world.researcher)
    page = client.get(f"/fairs/{world.fair.id}/requests").get_data(as_text=True)
    sent = page[page.index("Sent"):]
    assert "设备故障预测算法" in sent and "Listings concerned" in sent


def test_the_calendar_file_carries_its_time_zone(client, auth, world):
    """Calendar apps read the meeting at 09:20 in Quanzhou (01:20 UTC) only if the file defines the
    zone its times name: a VTIMEZONE for Asia/Shanghai, and a UTC DTSTAMP on every event."""
    from datetime import UTC, datetime

    from icalendar import Calendar

    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    schedule.move(world.staff, meeting.id, world.fair.sessions[0].slots[1].id, 2)
    auth.login(world.researcher)
    cal = Calendar.from_ical(client.get(f"/fairs/participants/{world.research.id}/calendar.ics").data)
    zones = [str(z["TZID"]) for z in cal.walk("VTIMEZONE")]
    assert zones == ["Asia/Shanghai"]
    standard = cal.walk("VTIMEZONE")[0].walk("STANDARD")[0]
    assert standard["TZOFFSETTO"].td.total_seconds() == 8 * 3600
    [event] = cal.walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2031, 5, 20, 1, 20, tzinfo=UTC)
    assert event.decoded("DTEND").astimezone(UTC) == datetime(2031, 5, 20, 1, 40, tzinfo=UTC)
    assert event.decoded("DTSTAMP").utcoffset().total_seconds() == 0


def test_fair_suggestions_do_not_name_a_confidential_listing_beside_its_owner(client, auth, world):
    world.research.listings[0].result.confidential = True
    Session.commit()
    auth.login(world.enterprise)
    page = client.get(f"/fairs/{world.fair.id}/suggestions").get_data(as_text=True)
    card = page[page.index(f'id="suggestion-{world.research.id}"'):]
    assert "a confidential research result ↔ 想在设备出故障前就知道" in card
    assert "设备故障预测算法" not in page and "Shared terms" not in page
    assert 'name="result_id" value=""' in card  # the request will not name it either
    auth.login(world.researcher)  # the owner still sees its own listing named
    assert "设备故障预测算法 ↔ 想在设备出故障前就知道" in client.get(
        f"/fairs/{world.fair.id}/suggestions").get_data(as_text=True)


def test_fair_suggestions_show_the_same_estimate_as_the_listing_pages(client, auth, make, world):
    """A pair the site suggests on the listing page carries the same percentage at the fair."""
    import re

    from matchmaker.listings import lifecycle
    from models import ListingStatus

    for link in (world.research.listings[0], world.company.listings[0]):
        link.listing.status = ListingStatus.PENDING
    Session.commit()
    for link in (world.research.listings[0], world.company.listings[0]):
        lifecycle.approve_listing(world.staff, link.listing)  # published and indexed, as on the site
    need = world.company.listings[0].need
    auth.login(world.enterprise)
    listing_page = client.get(f"/need/{need.id}").get_data(as_text=True)
    shown = re.search(r'class="match-score[^"]*"[^>]*>(\d+)%', listing_page).group(1)
    fair_page = client.get(f"/fairs/{world.fair.id}/suggestions").get_data(as_text=True)
    card = fair_page[fair_page.index(f'id="suggestion-{world.research.id}"'):]
    assert re.search(r'class="match-score[^"]*"[^>]*>(\d+)%', card).group(1) == shown


def test_staff_register_someone_choosing_the_organization_by_name(client, auth, make, world):
    """Staff look the participant's organization up with the picker (the Find button without JavaScript),
    then register the person for it; the page never lists every organization."""
    from models import FairParticipant, OrgKind

    firm = make.org(OrgKind.ENTERPRISE, name="安溪茶叶机械有限公司")
    make.org(OrgKind.ENTERPRISE, name="南安石材有限公司")
    auth.login(world.staff)
    page = client.get(f"/fairs/{world.fair.id}/register?lang=en").get_data(as_text=True)
    assert 'name="organization_id__q"' in page and "南安石材有限公司" not in page
    form = {"name": "苏厂长", "email": "su@tea.cn", "participant_type": "enterprise",
            "sessions": [str(s.id) for s in world.fair.sessions]}
    found = client.post(f"/fairs/{world.fair.id}/register?lang=en",
                        data={**form, "_pick": "organization_id", "organization_id__q": "茶叶"})
    body = found.get_data(as_text=True)
    assert found.status_code == 200
    assert f'name="organization_id" value="{firm.id}"' in body and "南安石材有限公司" not in body
    assert 'value="苏厂长"' in body  # what was typed is kept
    assert Session.query(FairParticipant).filter_by(email="su@tea.cn").count() == 0  # nothing saved yet
    done = client.post(f"/fairs/{world.fair.id}/register?lang=en", data={**form, "organization_id": str(firm.id)})
    assert done.status_code == 302
    person = Session.query(FairParticipant).filter_by(email="su@tea.cn").one()
    assert person.organization_id == firm.id
