"""Suggestions with reasons, meeting requests (accept, decline, expiry), caps, and meetings made by staff."""
from __future__ import annotations

from datetime import time, timedelta

import pytest

from matchmaker.core.errors import Conflict, NotAllowed, ValidationFailed
from matchmaker.fairs import fairs, meetings
from models import FairMeeting, MeetingRequest, Role, Session, utcnow
from models.fairs import ParticipantType


def test_suggestions_rank_counterparts_with_reasons(make, world):
    owner = make.user(Role.ENTERPRISE)
    need = make.need(owner=owner, title="餐饮外卖包装", industry_section="C", industry_division="14")
    _u, far = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE, user=owner, need_ids=[need.id])
    _o, observer = world.add_person(make, Role.ENTERPRISE, ParticipantType.OBSERVER)
    rows = meetings.suggestions(world.research.id, lang="en")
    assert [r.participant.id for r in rows] == [world.company.id, far.id]  # observers are never suggested
    best = rows[0]
    assert any("Shared terms: 故障预测" in r for r in best.reasons)
    assert best.score > rows[1].score


def test_request_accepted_becomes_a_meeting_to_schedule(world):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "想聊聊合作")
    assert req.status == "pending"
    assert req.expires_at > utcnow() + timedelta(hours=47)
    with pytest.raises(NotAllowed):  # only the recipient's side answers
        meetings.respond(world.researcher, req.id, accept=True)
    meetings.respond(world.enterprise, req.id, accept=True)
    meeting = Session.query(FairMeeting).one()
    assert (meeting.a_id, meeting.b_id, meeting.slot_id) == (world.research.id, world.company.id, None)
    with pytest.raises(Conflict):  # they already have a meeting
        meetings.send_request(world.enterprise, world.company.id, world.research.id, "再约")


def test_a_request_names_only_listings_the_two_parties_bring(make, world):
    """A third organization's listing, a draft, or a number that does not exist is refused."""
    from models import ListingStatus

    mine = world.research.listings[0].result
    outsider = make.result(owner=make.user(Role.RESEARCHER), title="别人的成果")
    draft = make.result(owner=world.researcher, title="未发布的草稿", status=ListingStatus.DRAFT)
    for result_id in (outsider.id, 999_999, 2**40):
        with pytest.raises(ValidationFailed):
            meetings.send_request(world.enterprise, world.company.id, world.research.id, "", result_id=result_id)
    with pytest.raises(ValidationFailed):  # the enterprise may not see the researcher's draft
        meetings.send_request(world.enterprise, world.company.id, world.research.id, "", result_id=draft.id)
    assert Session.query(MeetingRequest).count() == 0
    req = meetings.send_request(world.enterprise, world.company.id, world.research.id, "", result_id=mine.id)
    assert req.result_id == mine.id


def test_declined_request_makes_no_meeting(world):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    meetings.respond(world.enterprise, req.id, accept=False, note="方向不符")
    assert Session.get(MeetingRequest, req.id).status == "declined"
    assert Session.query(FairMeeting).count() == 0


def test_request_without_a_common_free_slot_is_refused(world):
    morning, afternoon = world.fair.sessions
    fairs.set_availability(world.researcher, world.research.id, {morning.id: None})
    fairs.set_availability(world.enterprise, world.company.id, {afternoon.id: (time(14), time(14, 40))})
    with pytest.raises(Conflict) as exc:
        meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    assert "no free time slot in common" in exc.value.message
    assert Session.query(MeetingRequest).count() == 0


def test_unanswered_requests_expire_and_cannot_be_accepted(world):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    assert meetings.expire_requests(now=utcnow() + timedelta(hours=1)) == 0
    assert meetings.expire_requests(now=utcnow() + timedelta(hours=49)) == 1
    assert Session.get(MeetingRequest, req.id).status == "expired"
    with pytest.raises(Conflict):
        meetings.respond(world.enterprise, req.id, accept=True)
    # an expired request no longer blocks a new one
    meetings.send_request(world.researcher, world.research.id, world.company.id, "再次邀请")


def test_a_request_past_its_deadline_expires_when_answered(world):
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    req.expires_at = utcnow() - timedelta(minutes=1)
    Session.commit()
    with pytest.raises(Conflict) as exc:
        meetings.respond(world.enterprise, req.id, accept=True)
    assert "expired" in exc.value.message
    assert Session.get(MeetingRequest, req.id).status == "expired"


def test_staff_cap_meetings_per_participant(make, world):
    fairs.set_cap(world.staff, world.research.id, 1)
    meetings.create_meeting(world.staff, world.research.id, world.company.id)
    _u, other = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)
    with pytest.raises(Conflict) as exc:
        meetings.create_meeting(world.staff, world.research.id, other.id)
    assert "maximum of 1 meetings" in exc.value.message


def test_unvalidated_participants_cannot_be_requested(make, world):
    _u, pending = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE, validated=False)
    with pytest.raises(Conflict):
        meetings.send_request(world.researcher, world.research.id, pending.id, "")


def test_check_in_by_qr_token(world):
    found = meetings.participant_by_token(world.research.checkin_token)
    meetings.check_in(world.staff, found.id, method="qr")
    assert world.research.checked_in_at is not None
    with pytest.raises(NotAllowed):
        meetings.check_in(world.researcher, world.company.id)
