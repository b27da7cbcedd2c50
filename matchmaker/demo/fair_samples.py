"""Demo fairs: a finished spring fair with held meetings and outcomes, and an upcoming one open for
registration with accepted, scheduled meetings and a pending request."""
from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import sqlalchemy as sa

from matchmaker.engine import scheduler
from matchmaker.fairs import fairs, meetings, schedule
from models import Organization, ResearchResult, Session, TechNeed, User
from models.fairs import FairStatus, RegistrationStatus

# (email, participant type)
PEOPLE = [
    ("researcher@demo.cn", "research"),
    ("institute@demo.cn", "research"),
    ("enterprise@demo.cn", "enterprise"),
    ("food@demo.cn", "enterprise"),
    ("broker@demo.cn", "broker"),
]


def _listing_ids(model: Any, org_id: int | None, limit: int = 2) -> list[int]:
    if org_id is None:
        return []
    stmt = sa.select(model.id).where(model.organization_id == org_id).order_by(model.id).limit(limit)
    return list(Session.scalars(stmt))


def _fair(staff: User, users: dict[str, User], name: str, day: date) -> dict[str, Any]:
    fair = fairs.create_fair(staff, {
        "name": name, "venue": "泉州海峡科技会展中心 A 馆", "start_date": day, "end_date": day + timedelta(days=1),
        "meeting_minutes": 20, "registration_opens": day - timedelta(days=30),
        "registration_closes": day - timedelta(days=1), "request_expiry_hours": 72, "max_meetings_per_participant": 8,
        "description": "面向泉州市高校院所与企业的科技成果一对一洽谈。"})
    for offset, label, start, end in ((0, "第一天上午", time(9), time(11, 40)), (0, "第一天下午", time(14), time(16)),
                                      (1, "第二天上午", time(9), time(11))):
        fairs.add_session(staff, fair.id, {"name": label, "day": day + timedelta(days=offset), "start_time": start,
                                           "end_time": end, "tables": 6})
    fairs.set_status(staff, fair.id, FairStatus.OPEN)
    people = {}
    for email, ptype in PEOPLE:
        user = users.get(email)
        if user is None:
            continue
        reg = fairs.Registration(name=user.name, email=user.email, participant_type=ptype,
                                 organization_id=user.organization_id,
                                 result_ids=_listing_ids(ResearchResult, user.organization_id) if ptype == "research"
                                 else [],
                                 need_ids=_listing_ids(TechNeed, user.organization_id) if ptype == "enterprise"
                                 else [])
        participant = fairs.register(staff, fair.id, reg)
        fairs.set_registration_status(staff, participant.id, RegistrationStatus.VALIDATED)
        people[email] = participant
    return {"fair": fair, "people": people}


def _meet(staff: User, users: dict[str, User], people: dict[str, Any], a: str, b: str) -> Any:
    """A request from a, accepted by b: the normal way a meeting comes about."""
    if a not in people or b not in people:
        return None
    req = meetings.send_request(staff, people[a].id, people[b].id, "希望在对接会上当面交流合作可能。")
    meetings.respond(users.get(b) or staff, req.id, accept=True)
    return meetings.active_meeting(people[a].id, people[b].id)


def _schedule(fair_id: int) -> None:
    fair = fairs.get_fair(fair_id)
    mapped = schedule.build_problem(fair)
    result = scheduler.solve(mapped.problem, time_limit_s=2.0)
    schedule.store_schedule(fair, mapped, result)
    Session.commit()


def load(orgs: list[Organization], users: dict[str, User]) -> None:
    staff = users.get("staff@demo.cn")
    if staff is None:
        return
    today = date.today()
    past = _fair(staff, users, "春季科技成果对接会", today - timedelta(days=75))
    pairs = [("researcher@demo.cn", "enterprise@demo.cn"), ("institute@demo.cn", "food@demo.cn"),
             ("broker@demo.cn", "enterprise@demo.cn"), ("researcher@demo.cn", "food@demo.cn")]
    held = [m for m in (_meet(staff, users, past["people"], a, b) for a, b in pairs) if m is not None]
    _schedule(past["fair"].id)
    outcomes = ["intention", "follow_up", None, "no_show"]
    for meeting, outcome in zip(held, outcomes, strict=False):
        if outcome == "no_show":
            meetings.mark_meeting(staff, meeting.id, "no_show")
        elif outcome:
            meetings.record_outcome(staff, meeting.id, outcome)
        else:
            meetings.mark_meeting(staff, meeting.id, "held")
    fairs.set_status(staff, past["fair"].id, FairStatus.FINISHED)

    upcoming = _fair(staff, users, "秋季科技成果对接会", today + timedelta(days=21))
    for a, b in pairs[:3]:
        _meet(staff, users, upcoming["people"], a, b)
    _schedule(upcoming["fair"].id)
    people = upcoming["people"]
    if "institute@demo.cn" in people and "enterprise@demo.cn" in people:
        meetings.send_request(staff, people["institute@demo.cn"].id, people["enterprise@demo.cn"].id,
                                   "我们的新材料成果或许能解决贵公司的问题，想约个时间聊聊。")
