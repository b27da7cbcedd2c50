"""In-site notifications about fair meeting requests and schedule changes, added to the caller's
transaction (the calling service commits); texts are in notifications.MESSAGES."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from matchmaker.deals.deals import notify_user
from models import Fair, FairMeeting, FairParticipant, MeetingRequest, Session, User

REQUEST_RECEIVED = "fair.request.received"
REQUEST_ACCEPTED = "fair.request.accepted"
REQUEST_DECLINED = "fair.request.declined"
REQUEST_EXPIRED = "fair.request.expired"
SCHEDULE_CHANGED = "fair.schedule.changed"
MEETING_MOVED = "fair.meeting.moved"
MEETING_CANCELLED = "fair.meeting.cancelled"
MEETING_UNSCHEDULED = "fair.meeting.unscheduled"


def recipient_user_id(participant: FairParticipant) -> int | None:
    """The active account that reads this participant's notifications, if there is one.

    Staff may register people who never signed up: a participant whose email has no user account
    gets no in-site notification (they see their schedule on the printout and by email from staff).
    The account is looked up by email too, for people who signed up after they were registered.
    """
    user = participant.user
    if user is None:
        user = Session.scalar(sa.select(User).where(sa.func.lower(User.email) == participant.email.strip().lower()))
    if user is None or not user.active:
        return None
    return user.id


def _notify(participant: FairParticipant, kind: str, params: dict[str, Any], link: str,
            dedupe: str | None) -> None:
    user_id = recipient_user_id(participant)
    if user_id is not None:
        notify_user(user_id, kind, params, link=link, dedupe=dedupe)


def _requests_link(req: MeetingRequest, participant: FairParticipant) -> str:
    return f"/fairs/{req.fair_id}/requests?as={participant.id}"


def _schedule_link(participant: FairParticipant) -> str:
    return f"/fairs/participants/{participant.id}/schedule"


def _fair_name(fair_id: int) -> str:
    fair = Session.get(Fair, fair_id)
    return fair.name if fair is not None else ""


def request_sent(req: MeetingRequest) -> None:
    """Tell the recipient someone wants to meet them."""
    params = {"fair": _fair_name(req.fair_id), "fair_id": req.fair_id, "request_id": req.id,
              "requester": req.requester.name}
    _notify(req.recipient, REQUEST_RECEIVED, params, _requests_link(req, req.recipient),
            f"fair:request:{req.id}:received")


def request_answered(req: MeetingRequest, accepted: bool) -> None:
    """Tell the sender whether their request was accepted or declined."""
    params = {"fair": _fair_name(req.fair_id), "fair_id": req.fair_id, "request_id": req.id,
              "recipient": req.recipient.name}
    _notify(req.requester, REQUEST_ACCEPTED if accepted else REQUEST_DECLINED, params,
            _requests_link(req, req.requester), f"fair:request:{req.id}:answered")


def request_expired(req: MeetingRequest) -> None:
    """Tell both sides the request lapsed unanswered, each naming the other."""
    for me, other in ((req.requester, req.recipient), (req.recipient, req.requester)):
        params = {"fair": _fair_name(req.fair_id), "fair_id": req.fair_id, "request_id": req.id,
                  "other": other.name}
        _notify(me, REQUEST_EXPIRED, params, _requests_link(req, me), f"fair:request:{req.id}:expired")


def schedule_changed(fair: Fair, run_id: int, changed: Mapping[int, int]) -> None:
    """One notification per participant per scheduler run, however many of their meetings changed.

    ``changed`` maps a participant to how many of their meetings the run placed or moved.
    """
    if not changed:
        return
    people = Session.scalars(sa.select(FairParticipant).where(FairParticipant.id.in_(list(changed))))
    for participant in sorted(people, key=lambda p: p.id):
        params = {"fair": fair.name, "fair_id": fair.id, "count": changed[participant.id], "run_id": run_id}
        _notify(participant, SCHEDULE_CHANGED, params, _schedule_link(participant),
                f"fair:schedule:{run_id}:p{participant.id}")


def _meeting_changed(meeting: FairMeeting, kind: str, extra: dict[str, Any]) -> None:
    """Tell both sides of a meeting staff changed by hand, each naming the other.

    Not deduplicated: every hand change is news, even one that puts a meeting back where it was.
    """
    for me, other in ((meeting.a, meeting.b), (meeting.b, meeting.a)):
        params = {"fair": _fair_name(meeting.fair_id), "fair_id": meeting.fair_id, "meeting_id": meeting.id,
                  "other": other.name} | extra
        _notify(me, kind, params, _schedule_link(me), None)


def meeting_moved(meeting: FairMeeting, at: str) -> None:
    """Staff put the meeting at a new slot or table; ``at`` is the slot's time as staff see it."""
    _meeting_changed(meeting, MEETING_MOVED, {"at": at, "slot_id": meeting.slot_id, "table": meeting.table_no})


def meeting_cancelled(meeting: FairMeeting) -> None:
    _meeting_changed(meeting, MEETING_CANCELLED, {})


def meeting_unscheduled(meeting: FairMeeting, at: str) -> None:
    """Staff took the meeting out of the schedule; ``at`` is the time it had, so no one goes to the old table."""
    _meeting_changed(meeting, MEETING_UNSCHEDULED, {"at": at})
