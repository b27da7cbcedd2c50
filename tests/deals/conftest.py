"""Fixtures for introductions, deals, contracts and statistics: people on both sides, a broker,
staff, and a helper that records a contract through the service."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models import Fair, FairMeeting, FairParticipant, OrgKind, Role, Session


@pytest.fixture(autouse=True)
def fresh_locale_per_request(app):
    """Requests in a test share the fixture's app context (and so `g`), so Flask-Babel's locale and
    Flask-Login's user would leak from one request to the next; real requests each get their own."""
    import flask_babel
    from flask import g

    def forget() -> None:
        flask_babel.refresh()
        g.pop("_login_user", None)

    app.before_request(forget)


@pytest.fixture
def people(make) -> dict[str, Any]:
    uni = make.org(OrgKind.UNIVERSITY, entity_type="022", region="350500")
    firm = make.org(OrgKind.ENTERPRISE, entity_type="150", region="350500")
    other_firm = make.org(OrgKind.ENTERPRISE, entity_type="160", region="330100")
    return {
        "uni": uni, "firm": firm, "other_firm": other_firm,
        "researcher": make.user(Role.RESEARCHER, uni),
        "enterprise": make.user(Role.ENTERPRISE, firm),
        "outsider": make.user(Role.ENTERPRISE, other_firm),
        "broker": make.user(Role.BROKER),
        "other_broker": make.user(Role.BROKER),
        "staff": make.user(Role.STAFF),
    }


@pytest.fixture
def contract_values(people) -> dict[str, Any]:
    """Valid form data for a contract between the university (seller) and the firm (buyer)."""
    return {
        "contract_type": "transfer", "contract_subtype": "transfer.patent", "project_name": "高效电机控制专利转让",
        "registration_number": "", "signing_date": "2025-03-18", "valid_from": "2025-03-18",
        "valid_until": "2027-03-17", "amount": "120", "tech_amount": "100",
        "payment_mode": "instalments", "ip_type": "patent", "tech_field": "advanced_manufacturing",
        "seller_org_id": str(people["uni"].id), "seller_name": "", "seller_entity_type": "", "seller_region": "",
        "buyer_org_id": str(people["firm"].id), "buyer_name": "", "buyer_entity_type": "", "buyer_region": "",
        "deal_id": "", "result_id": "", "need_id": "", "fair_id": "",
    }


def make_fair(name: str = "2025泉州对接会", start: date = date(2025, 5, 12)) -> Fair:
    fair = Fair(name=name, start_date=start, end_date=start)
    Session.add(fair)
    Session.commit()
    return fair


def make_fair_meeting(fair: Fair, seller_org_id: int, buyer_org_id: int) -> FairMeeting:
    a = FairParticipant(fair_id=fair.id, organization_id=seller_org_id, name="甲", email=f"a{fair.id}@x.cn",
                        participant_type="research", checkin_token=f"ta{fair.id}-{seller_org_id}")
    b = FairParticipant(fair_id=fair.id, organization_id=buyer_org_id, name="乙", email=f"b{fair.id}@x.cn",
                        participant_type="enterprise", checkin_token=f"tb{fair.id}-{buyer_org_id}")
    Session.add_all([a, b])
    Session.flush()
    meeting = FairMeeting(fair_id=fair.id, a_id=a.id, b_id=b.id, status="held")
    Session.add(meeting)
    Session.commit()
    return meeting
