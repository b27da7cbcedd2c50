"""On-site outcomes open deals with the fair as origin; the fair report counts the funnel and value."""
from __future__ import annotations

from datetime import date

import pytest
from openpyxl import load_workbook

from matchmaker.core.errors import Conflict
from matchmaker.fairs import meetings, report
from models import Contract, Role, Session
from models.deals import Deal
from models.fairs import ParticipantType
from tests.fairs.conftest import build_fair


def test_outcome_opens_one_deal_per_meeting_and_moves_it_forward(world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    meetings.record_outcome(world.staff, meeting.id, "follow_up", "下周去厂里看设备")
    meetings.record_outcome(world.staff, meeting.id, "intention")
    deal = Session.query(Deal).one()
    assert (deal.origin, deal.fair_id, deal.fair_meeting_id, deal.stage) == (
        "fair", world.fair.id, meeting.id, "intention_signed")
    assert deal.seller_org_id == world.researcher.organization_id
    assert deal.buyer_org_id == world.enterprise.organization_id
    assert meeting.status == "held"


def test_no_show_has_no_outcome(world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    meetings.mark_meeting(world.staff, meeting.id, "no_show")
    with pytest.raises(Conflict):
        meetings.record_outcome(world.staff, meeting.id, "contract")
    assert Session.query(Deal).count() == 0


def test_report_counts_the_funnel_no_shows_and_contract_value(make, world):
    others = [world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)[1] for _ in range(2)]
    req = meetings.send_request(world.researcher, world.research.id, world.company.id, "")
    meetings.respond(world.enterprise, req.id, accept=True)
    declined = meetings.send_request(world.researcher, world.research.id, others[0].id, "")
    meetings.respond(world.staff, declined.id, accept=False)
    held = Session.query(meetings.FairMeeting).one()
    no_show = meetings.create_meeting(world.staff, world.research.id, others[1].id)
    meetings.record_outcome(world.staff, held.id, "contract")
    meetings.mark_meeting(world.staff, no_show.id, "no_show")
    _linked_contract(world.fair.id, 50_000_000)
    f = report.figures(world.fair.id)
    assert (f.registrations, f.requests, f.requests_accepted, f.requests_declined) == (4, 2, 1, 1)
    assert (f.meetings, f.held, f.no_show, f.contracts_at_meetings) == (2, 1, 1, 1)
    assert f.no_show_rate == 0.5
    assert (f.contracts, f.contract_amount_fen) == (1, 50_000_000)
    # Two requests and one organiser-made meeting; "contract signed" at the table is an intention
    # or further until a registered contract is linked to the meeting's deal.
    assert [(s.key, s.count) for s in f.funnel] == [
        ("requests", 3), ("accepted", 2), ("meetings", 1), ("intentions", 1), ("contracts", 0)]
    book = load_workbook(__import__("io").BytesIO(report.xlsx(world.fair.id)))
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(values_only=True)}
    assert summary["Meetings held"] == 1 and summary["No-show rate"] == "50.0%"
    assert summary["Outcome recorded at the meeting: contract signed"] == 1
    assert summary["Technology contracts registered with a link to this fair"] == 1
    assert summary["Registered contracts linked to deals of the fair meetings"] == 0
    assert summary["Contract value (yuan)"] == 500_000
    assert book.worksheets[1].max_row == 3


def _linked_contract(fair_id: int | None, amount_fen: int, deal_id: int | None = None) -> None:
    from matchmaker.deals import contracts

    data = contracts.ContractInput(
        contract_type="transfer", project_name="故障预测", signing_date=date(2031, 6, 1), amount_fen=amount_fen,
        tech_amount_fen=amount_fen * 4 // 5, seller_name="a", seller_entity_type="022", seller_region="350500",
        buyer_name="b", buyer_entity_type="150", buyer_region="350500", fair_id=fair_id, deal_id=deal_id)
    contracts.add(contracts.validate(data), None)
    Session.commit()


def test_report_tells_outcomes_at_the_fair_from_contracts_registered_afterwards(client, make, world):
    # Two meetings held: one records "contract signed" at the table, one an intention whose deal
    # later gets a registered contract; one more contract is linked to the fair by hand.
    signed = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    _, other = world.add_person(make, Role.ENTERPRISE, ParticipantType.ENTERPRISE)
    intention = meetings.create_meeting(world.staff, world.research.id, other.id)
    meetings.record_outcome(world.staff, signed.id, "contract")
    meetings.record_outcome(world.staff, intention.id, "intention")
    deal = Session.query(Deal).filter(Deal.fair_meeting_id == intention.id).one()
    _linked_contract(world.fair.id, 30_000_000, deal_id=deal.id)
    _linked_contract(world.fair.id, 10_000_000)

    f = report.figures(world.fair.id)
    assert (f.contracts_at_meetings, f.intentions_at_meetings) == (1, 1)
    assert (f.contracts, f.contract_amount_fen) == (2, 40_000_000)
    assert (f.contracts_from_meetings, f.contracts_from_meetings_amount_fen) == (1, 30_000_000)
    assert [s.count for s in f.funnel] == [2, 2, 2, 2, 1]
    assert all(s.rate is None or s.rate <= 1 for s in f.funnel)

    with client.session_transaction() as sess:
        sess["_user_id"] = str(world.staff.id)
    page = client.get(f"/fairs/{world.fair.id}/report?lang=en").get_data(as_text=True)
    at_table = page[page.index('id="row-contracts-at-meetings"'):].split("</tr>")[0]
    linked = page[page.index('id="row-contracts-linked"'):].split("</tr>")[0]
    assert "Outcome recorded at the meeting: contract signed" in at_table and ">1<" in at_table
    assert "Technology contracts registered with a link to this fair" in linked and ">2<" in linked
    assert "Registered contracts linked to the deals of these meetings: 1, ¥300,000." in page
    zh = client.get(f"/fairs/{world.fair.id}/report?lang=zh").get_data(as_text=True)
    assert "会上记录的结果：签约" in zh and "关联本会登记的技术合同" in zh


def test_a_contract_registered_on_the_deal_alone_counts_for_the_fair_once(make, world):
    """A clerk picks the deal but leaves the fair empty (the contract form's deal picker, an import): the
    contract follows its deal's thread, so the fair report counts it as the fair's, once."""
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    meetings.record_outcome(world.staff, meeting.id, "contract")
    deal = Session.query(Deal).one()
    _linked_contract(None, 60_000_000, deal_id=deal.id)
    contract = Session.query(Contract).one()
    assert (contract.fair_id, contract.result_id, contract.need_id) == (world.fair.id, deal.result_id, deal.need_id)
    f = report.figures(world.fair.id)
    assert (f.contracts, f.contract_amount_fen) == (1, 60_000_000)
    assert (f.contracts_from_meetings, f.contracts_from_meetings_amount_fen) == (1, 60_000_000)


def test_a_fair_chosen_by_the_clerk_is_kept_over_the_deals(make, world):
    meeting = meetings.create_meeting(world.staff, world.research.id, world.company.id)
    meetings.record_outcome(world.staff, meeting.id, "intention")
    deal = Session.query(Deal).one()
    _, other_fair = build_fair(make, name="另一场对接会")
    _linked_contract(other_fair.id, 10_000_000, deal_id=deal.id)
    assert Session.query(Contract).one().fair_id == other_fair.id
    assert report.figures(world.fair.id).contracts == 0
