"""A small fair for the fair tests: two sessions, a research and an enterprise participant, validated."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

import pytest

from matchmaker.fairs import fairs
from models import Fair, FairParticipant, Role, User
from models.fairs import FairStatus, RegistrationStatus

DAY = date(2031, 5, 20)


@dataclass
class World:
    staff: User
    researcher: User
    enterprise: User
    fair: Fair
    research: FairParticipant
    company: FairParticipant

    def add_person(self, make, role: str, ptype: str, validated: bool = True, user: User | None = None,
                   **reg) -> tuple[User, FairParticipant]:
        user = user or make.user(role)
        participant = fairs.register(self.staff, self.fair.id, fairs.Registration(
            name=user.name, email=user.email, participant_type=ptype, organization_id=user.organization_id, **reg))
        if validated:
            fairs.set_registration_status(self.staff, participant.id, RegistrationStatus.VALIDATED)
        return user, participant


def build_fair(make, tables: int = 2, sessions: int = 2, **fair_values) -> tuple[User, Fair]:
    staff = make.user(Role.STAFF)
    values = {"name": "2031 泉州科技成果对接会", "venue": "泉州会展中心", "start_date": DAY, "end_date": DAY,
              "meeting_minutes": 20, "request_expiry_hours": 48,
              "participant_types": ["research", "enterprise", "broker", "observer"]} | fair_values
    fair = fairs.create_fair(staff, values)
    starts = [(time(9), time(10), "上午"), (time(14), time(15), "下午")][:sessions]
    for start, end, name in starts:
        fairs.add_session(staff, fair.id, {"name": name, "day": DAY, "start_time": start, "end_time": end,
                                           "tables": tables})
    fairs.set_status(staff, fair.id, FairStatus.OPEN)
    return staff, fair


@pytest.fixture(autouse=True)
def request_context(request, app):
    """Services translate their messages, which needs a request (the locale comes from it). Tests
    driving the test client get none: a pushed context would keep its logged-in user across requests."""
    if "client" in request.fixturenames:
        import flask_babel
        from flask import g

        def forget() -> None:
            flask_babel.refresh()
            g.pop("_login_user", None)

        app.before_request(forget)
        yield
        return
    with app.test_request_context("/?lang=en"):
        yield


@pytest.fixture
def world(make) -> World:
    staff, fair = build_fair(make)
    researcher = make.user(Role.RESEARCHER, name="林教授")
    enterprise = make.user(Role.ENTERPRISE, name="黄经理")
    result = make.result(owner=researcher, title="设备故障预测算法", keywords=["故障预测", "振动"])
    need = make.need(owner=enterprise, title="想在设备出故障前就知道", keywords=["故障预测"])
    research = fairs.register(researcher, fair.id, fairs.Registration(
        name="林教授", email=researcher.email, participant_type="research", result_ids=[result.id]))
    company = fairs.register(enterprise, fair.id, fairs.Registration(
        name="黄经理", email=enterprise.email, participant_type="enterprise", need_ids=[need.id]))
    for p in (research, company):
        fairs.set_registration_status(staff, p.id, RegistrationStatus.VALIDATED)
    return World(staff, researcher, enterprise, fair, research, company)
