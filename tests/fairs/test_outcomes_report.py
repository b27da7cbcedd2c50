"""On-site outcomes open deals with the fair as origin; the fair report counts the funnel and value."""
from __future__ import annotations

from datetime import date

import pytest
from openpyxl import load_workbook

from matchmaker.services import fair_meetings, fair_report
from matchmaker.services.errors import Conflict
from models import Role, Session
from models.deals import Contract, Deal
from models.fairs import ParticipantType


def test_outcome_opens_one_deal_per_meeting_and_moves_it_forward(world):
    meeting = fair_meetings.create_meeting(world.staff, world.research.id, world.company.id)
    fair_meetings.record_outcome(world.staff, meeting.id, "follow_up", "下周去厂里看设备")
    fair_meetings.record_outcome(world.staff, meeting.id, "intention")
    deal = Session.query(Deal).one()
    assert (deal.origin, deal.fair_id, deal.fair_meeting_id, deal.stage) == (
        "fair", world.fair.id, meeting.id, "intention_signed")
    assert deal.seller_org_id == world.researcher.organization_id
    assert deal.buyer_org_id == world.enterprise.organization_id
    assert meeting.status == "held"


def test_no_show_has_no_outcome(world):
    meeting = fair_meetings.create_meeting(world.staff, world.research.id, world.company.id)
    fair_meetings.mark_meeting(world.staff, meeting.id, "no_show")
    with pytest.raises(Conflict):
        fair_meetings.record_outcome(world.staff, meeting.id, "contract")
    assert Session.query(Deal).count() == 0


def test_report_counts_the_funnel_no_shows_and_contract_value(make, world):
    others = [world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)[1] for _ in range(2)]
    req = fair_meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    fair_meetings.respond(world.enterprise, req.id, accept=True)
    declined = fair_meetings.send_request(world.researcher, world.research.id, others[0].id, "")
    fair_meetings.respond(world.staff, declined.id, accept=False)
    held = Session.query(fair_meetings.FairMeeting).one()
    no_show = fair_meetings.create_meeting(world.staff, world.research.id, others[1].id)
    fair_meetings.record_outcome(world.staff, held.id, "contract")
    fair_meetings.mark_meeting(world.staff, no_show.id, "no_show")
    Session.add(Contract(contract_type="transfer", project_name="故障预测", signing_date=date(2031, 6, 1),
                         amount_fen=50_000_000, tech_amount_fen=40_000_000, seller_name="a", seller_entity_type="022",
                         seller_region="350500", seller_party_type="university", buyer_name="b",
                         buyer_entity_type="150", buyer_region="350500", fair_id=world.fair.id))
    Session.commit()
    f = fair_report.figures(world.fair.id)
    assert (f.registrations, f.requests, f.requests_accepted, f.requests_declined) == (4, 2, 1, 1)
    assert (f.meetings, f.held, f.no_show, f.contracts_at_meetings) == (2, 1, 1, 1)
    assert f.no_show_rate == 0.5
    assert (f.contracts, f.contract_amount_fen) == (1, 50_000_000)
    book = load_workbook(__import__("io").BytesIO(fair_report.xlsx(world.fair.id)))
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(values_only=True)}
    assert summary["Meetings held"] == 1 and summary["No-show rate"] == "50.0%"
    assert summary["Contract value (yuan)"] == 500_000
    assert book.worksheets[1].max_row == 3
