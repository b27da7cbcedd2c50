"""Notifications about fair meeting requests (sent, answered, expired) and schedule changes, by the
scheduler or by staff moving, unscheduling or cancelling a meeting by hand."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale

from matchmaker.core import notifications
from matchmaker.core.errors import Conflict
from matchmaker.fairs import fairs, meetings, schedule
from models import FairMeeting, Notification, Role, Session, User, utcnow
from models.fairs import ParticipantType, RegistrationStatus


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FAIR_SCHEDULE_SECONDS": 2.0}


def inbox(user: User) -> list[Notification]:
    return list(Session.query(Notification).filter_by(user_id=user.id).order_by(Notification.id))


def texts(user: User, lang: str = "en") -> list[str]:
    with force_locale(lang):
        return [notifications.render(n) for n in inbox(user)]


def no_account_person(world, make) -> object:
    """Registered by staff with an email no user account has."""
    org = make.org()
    participant = fairs.register(world.staff, world.fair.id, fairs.Registration(
        name="陈工", email="chen.gong@nowhere.cn", participant_type=ParticipantType.ENTERPRISE,
        organization_id=org.id))
    fairs.set_registration_status(world.staff, participant.id, RegistrationStatus.VALIDATED)
    return participant


def test_a_sent_request_notifies_the_recipient_only(world):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "想聊聊")
    assert texts(world.enterprise) == [f'林教授 asked to meet you at "{world.fair.name}"']
    assert texts(world.enterprise, "zh") == [f"林教授 邀请您在“{world.fair.name}”上洽谈"]
    assert inbox(world.enterprise)[0].link == f"/fairs/{world.fair.id}/requests?as={world.company.id}"
    assert inbox(world.enterprise)[0].dedupe_key == f"fair:request:{req.id}:received:u{world.enterprise.id}"
    assert inbox(world.researcher) == []


@pytest.mark.parametrize(("accept", "text"), [(True, "accepted"), (False, "declined")])
def test_the_answer_notifies_the_sender(world, accept, text):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    meetings.respond(world.enterprise, req.id, accept=accept)
    assert texts(world.researcher) == [f'黄经理 {text} your meeting request at "{world.fair.name}"']
    assert inbox(world.researcher)[0].link == f"/fairs/{world.fair.id}/requests?as={world.research.id}"
    assert len(inbox(world.enterprise)) == 1  # only the request itself


def test_staff_making_the_meeting_accepts_the_open_request_for_the_sender(world):
    meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    meetings.create_meeting(world.staff, world.research.id, world.company.id)
    assert texts(world.researcher) == [f'黄经理 accepted your meeting request at "{world.fair.name}"']


def test_an_expired_request_notifies_both_sides_once(world):
    meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    assert meetings.expire_requests(now=utcnow() + timedelta(hours=49)) == 1
    assert meetings.expire_requests(now=utcnow() + timedelta(hours=50)) == 0
    expired = f'at "{world.fair.name}" expired unanswered'
    assert texts(world.researcher) == [f"The meeting request between you and 黄经理 {expired}"]
    assert texts(world.enterprise)[1:] == [f"The meeting request between you and 林教授 {expired}"]


def test_a_request_found_expired_when_answered_notifies_both(world):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    req.expires_at = utcnow() - timedelta(minutes=1)
    Session.commit()
    with pytest.raises(Conflict):
        meetings.respond(world.enterprise, req.id, accept=True)
    assert [n.kind for n in inbox(world.researcher)] == ["fair.request.expired"]
    assert [n.kind for n in inbox(world.enterprise)] == ["fair.request.received", "fair.request.expired"]


def test_participants_without_an_account_get_no_notification(make, world):
    nobody = no_account_person(world, make)
    req = meetings.send_request(world.researcher, world.research.id, nobody.id, "")
    meetings.respond(world.staff, req.id, accept=False)
    assert texts(world.researcher) == [f'陈工 declined your meeting request at "{world.fair.name}"']
    assert Session.query(Notification).count() == 1


def test_an_account_made_after_registration_receives_notifications(make, world):
    nobody = no_account_person(world, make)
    late = make.user(Role.ENTERPRISE, email="Chen.Gong@nowhere.cn")
    meetings.send_request(world.researcher, world.research.id, nobody.id, "")
    assert [n.kind for n in inbox(late)] == ["fair.request.received"]


def _meetings_with_research(make, world, n: int) -> list[tuple[User, object]]:
    people = [world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE) for _ in range(n)]
    for _user, participant in people:
        meetings.create_meeting(world.staff, world.research.id, participant.id)
    return people


def schedule_notices(user: User) -> list[Notification]:
    return [n for n in inbox(user) if n.kind == "fair.schedule.changed"]


def test_a_schedule_run_notifies_each_participant_once(make, world):
    people = _meetings_with_research(make, world, 3)
    schedule.start_run(world.staff, world.fair.id)
    mine = schedule_notices(world.researcher)
    assert len(mine) == 1 and mine[0].params["count"] == 3
    assert mine[0].link == f"/fairs/participants/{world.research.id}/schedule"
    with force_locale("zh"):
        assert notifications.render(mine[0]) == f"您在“{world.fair.name}”的洽谈日程有变动：3 场洽谈已安排或调整"
    for user, _participant in people:
        assert [n.params["count"] for n in schedule_notices(user)] == [1]
    assert schedule_notices(world.enterprise) == []  # the company has no meeting


def test_a_rerun_notifies_only_those_whose_meetings_moved(make, world):
    (kept_user, _kept), (moved_user, moved) = _meetings_with_research(make, world, 2)
    schedule.start_run(world.staff, world.fair.id)
    schedule.start_run(world.staff, world.fair.id)  # the same answer: nothing moved
    assert len(schedule_notices(world.researcher)) == 1
    meeting = Session.query(FairMeeting).filter_by(b_id=moved.id).one()
    schedule.unschedule(world.staff, meeting.id)
    schedule.start_run(world.staff, world.fair.id)  # places it again
    assert [n.params["count"] for n in schedule_notices(world.researcher)] == [2, 1]
    assert len(schedule_notices(moved_user)) == 2
    assert len(schedule_notices(kept_user)) == 1


def unread(user: User) -> list[str]:
    with force_locale("en"):
        return [notifications.render(n) for n in inbox(user) if n.read_at is None]


def test_staff_moving_a_meeting_tells_both_sides_the_new_time_and_table(make, world):
    bystander_user, bystander = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    meetings.create_meeting(world.staff, world.research.id, bystander.id)  # not moved
    slot = world.fair.sessions[0].slots[1]
    schedule.move(world.staff, meeting.id, slot.id, 2)
    moved = f'at "{world.fair.name}" was moved to 05-20 09:20, table 2'
    assert unread(world.researcher) == [f"Your meeting with 黄经理 {moved}"]
    assert unread(world.enterprise) == [f"Your meeting with 林教授 {moved}"]
    assert notifications.for_user(world.enterprise).unread == 1
    with force_locale("zh"):
        assert notifications.render(inbox(world.enterprise)[0]) == (
            f"您在“{world.fair.name}”与 林教授 的洽谈已调整至 05-20 09:20，2号桌")
    assert inbox(world.researcher)[0].link == f"/fairs/participants/{world.research.id}/schedule"
    assert inbox(world.enterprise)[0].link == f"/fairs/participants/{world.company.id}/schedule"
    assert inbox(bystander_user) == [] and inbox(world.staff) == []
    assert Session.query(Notification).count() == 2


def test_a_pinned_meeting_moved_again_stays_pinned_and_both_hear_each_move(world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    first, later = world.fair.sessions[0].slots[0], world.fair.sessions[1].slots[2]
    schedule.move(world.staff, meeting.id, first.id, 1)
    schedule.move(world.staff, meeting.id, later.id, 1)  # the meeting is pinned by now
    schedule.move(world.staff, meeting.id, later.id, 1)  # the same place again: nothing to tell
    assert Session.get(FairMeeting, meeting.id).pinned is True
    assert [t.split(" was moved to ")[1] for t in unread(world.researcher)] == [
        "05-20 09:00, table 1", "05-20 14:40, table 1"]
    assert [t.split(" was moved to ")[1] for t in unread(world.enterprise)] == [
        "05-20 09:00, table 1", "05-20 14:40, table 1"]


def test_staff_cancelling_a_meeting_tells_both_sides(make, world):
    bystander_user, bystander = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    kept = meetings.create_meeting(world.staff, world.company.id, bystander.id)
    schedule.move(world.staff, kept.id, world.fair.sessions[0].slots[0].id, 1)
    schedule.move(world.staff, meeting.id, world.fair.sessions[1].slots[0].id, 1)
    schedule.cancel(world.staff, meeting.id)
    cancelled = f'at "{world.fair.name}" was cancelled'
    assert unread(world.researcher)[1:] == [f"Your meeting with 黄经理 {cancelled}"]
    assert unread(world.enterprise)[2:] == [f"Your meeting with 林教授 {cancelled}"]
    with force_locale("zh"):
        assert notifications.render(inbox(world.researcher)[-1]) == f"您在“{world.fair.name}”与 黄经理 的洽谈已取消"
    assert inbox(world.researcher)[-1].link == f"/fairs/participants/{world.research.id}/schedule"
    assert len(inbox(bystander_user)) == 1  # only the move of their own meeting
    assert inbox(world.staff) == []


def test_cancelling_a_meeting_with_someone_without_an_account_tells_the_other(make, world):
    nobody = no_account_person(world, make)
    meeting = meetings.create_meeting(world.staff, world.research.id, nobody.id)
    schedule.cancel(world.staff, meeting.id)
    assert unread(world.researcher) == [f'Your meeting with 陈工 at "{world.fair.name}" was cancelled']
    assert Session.query(Notification).count() == 1


def test_staff_taking_a_meeting_out_of_the_schedule_tells_both_sides_the_old_time(make, world):
    bystander_user, bystander = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    kept = meetings.create_meeting(world.staff, world.research.id, bystander.id)
    schedule.move(world.staff, kept.id, world.fair.sessions[0].slots[0].id, 1)
    schedule.move(world.staff, meeting.id, world.fair.sessions[0].slots[1].id, 2)
    schedule.unschedule(world.staff, meeting.id)
    out = f'at "{world.fair.name}" on 05-20 09:20 was taken out of the schedule; staff will give it a new time'
    assert unread(world.researcher)[2:] == [f"Your meeting with 黄经理 {out}"]
    assert unread(world.enterprise)[1:] == [f"Your meeting with 林教授 {out}"]
    with force_locale("zh"):
        assert notifications.render(inbox(world.enterprise)[-1]) == (
            f"您在“{world.fair.name}”与 林教授 原定于 05-20 09:20 的洽谈已移出日程，工作人员将另行安排时间")
    assert inbox(world.researcher)[-1].link == f"/fairs/participants/{world.research.id}/schedule"
    assert inbox(world.enterprise)[-1].link == f"/fairs/participants/{world.company.id}/schedule"
    assert [n.kind for n in inbox(bystander_user)] == ["fair.meeting.moved"]  # only their own meeting's move
    assert inbox(world.staff) == []


def test_taking_out_a_meeting_that_had_no_time_tells_no_one(world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    schedule.unschedule(world.staff, meeting.id)
    assert Session.query(Notification).count() == 0


def test_taking_a_meeting_out_on_the_schedule_page_reaches_the_participants(client, auth, world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    schedule.move(world.staff, meeting.id, world.fair.sessions[0].slots[2].id, 1)
    auth.login(world.staff)
    client.post(f"/fairs/meetings/{meeting.id}/unschedule")
    assert Session.get(FairMeeting, meeting.id).slot_id is None
    auth.login(world.enterprise)
    page = client.get("/notifications/?lang=zh").get_data(as_text=True)
    assert f"您在“{world.fair.name}”与 林教授 原定于 05-20 09:40 的洽谈已移出日程，工作人员将另行安排时间" in page


def test_a_move_on_the_schedule_page_reaches_the_participants_notifications(client, auth, world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    slot = world.fair.sessions[0].slots[2]
    auth.login(world.staff)
    client.post(f"/fairs/meetings/{meeting.id}/move", data={"slot_id": slot.id, "table_no": 1})
    auth.login(world.researcher)
    page = client.get("/notifications/?lang=zh").get_data(as_text=True)
    assert f"您在“{world.fair.name}”与 黄经理 的洽谈已调整至 05-20 09:40，1号桌" in page


def test_participants_see_the_notice_on_their_notifications_page(client, auth, world):
    meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    auth.login(world.enterprise)
    page = client.get("/notifications/?lang=zh").get_data(as_text=True)
    assert f"林教授 邀请您在“{world.fair.name}”上洽谈" in page
