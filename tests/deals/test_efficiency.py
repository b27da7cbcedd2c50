"""Matching efficiency on a hand-made set: introductions by origin, side and industry, what they led to,
needs reached within 30 days and the median days to a first introduction and contract, equal to sums
worked out by hand; the staff page and its Excel export show them."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from matchmaker.deals import contracts, deals
from matchmaker.stats import efficiency
from matchmaker.stats.stats import Scope
from models import Introduction, Role, Session

WAN = 1_000_000  # fen in 10,000 yuan


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, 0, tzinfo=UTC)


def _intro(listing, counterpart_org, origin, status, created, counterpart_need=None):
    intro = Introduction(result_id=listing.id if listing.kind == "result" else None,
                         need_id=listing.id if listing.kind == "need" else None,
                         owner_org_id=listing.organization_id, counterpart_org_id=counterpart_org.id, origin=origin,
                         status=status, counterpart_need_id=counterpart_need.id if counterpart_need else None)
    Session.add(intro)
    Session.flush()
    intro.created_at = created
    return intro


def _contract(deal, amount_fen, signed):
    data = contracts.ContractInput(
        contract_type="transfer", project_name="项目", signing_date=signed, amount_fen=amount_fen,
        tech_amount_fen=amount_fen, seller_name="卖方", seller_entity_type="022", seller_region="350500",
        buyer_name="买方", buyer_entity_type="150", buyer_region="350500", deal_id=deal.id)
    contracts.add(contracts.validate(data), None)


@pytest.fixture
def threads(app, people, make):
    """N1 (industry C) gets a match introduction after 10 days, accepted, a ¥60万 contract after 40 days;
    N2 (A) nothing; N3 (C) a research team's offer after 61 days, declined. A second enterprise asks about
    R1 (industry M) from a search, pending. A broker's fair deal without introduction signs ¥30万."""
    published = _at(3, 1)
    n1, n2, n3 = (make.need(owner=people["enterprise"], industry_section=s, published_at=published)
                  for s in ("C", "A", "C"))
    r1 = make.result(owner=people["researcher"], industry_section="M")
    i1 = _intro(r1, people["firm"], "match", "accepted", _at(3, 11), counterpart_need=n1)
    _intro(r1, people["other_firm"], "search", "pending", _at(3, 20))
    _intro(n3, people["uni"], "search", "declined", _at(5, 1))
    d1 = deals.open_deal(r1.id, n1.id, people["uni"].id, people["firm"].id, None, "match", introduction_id=i1.id)
    _contract(d1, 60 * WAN, date(2026, 4, 10))
    d2 = deals.open_deal(r1.id, None, people["uni"].id, people["other_firm"].id, people["broker"].id, "fair")
    d1.created_at = d2.created_at = _at(4, 1)
    _contract(d2, 30 * WAN, date(2026, 6, 1))
    Session.commit()


def _row(steps, label):
    return next((s.requested, s.accepted, s.deals, s.won, s.contracts, s.amount_fen) for s in steps if s.label == label)


def test_efficiency_equals_hand_sums(app, threads):
    with app.test_request_context("/?lang=en"):
        report = efficiency.efficiency(Scope(period="year", year=2026), "en")
        total = report.total
        assert (total.requested, total.accepted, total.deals, total.won, total.contracts, total.amount_fen) == (
            3, 1, 1, 1, 1, 60 * WAN)
        assert _row(report.by_origin, "Match suggestion") == (1, 1, 1, 1, 1, 60 * WAN)
        assert _row(report.by_origin, "Search") == (2, 0, 0, 0, 0, 0)
        assert _row(report.by_side, "Enterprises asking about research results")[:2] == (2, 1)
        assert _row(report.by_side, "Research teams answering technical needs")[:2] == (1, 0)
        industries = {s.label: s.requested for s in report.by_industry}
        assert sorted(industries.values()) == [1, 2] and len(industries) == 2  # C twice (N1, N3), M once (R1)
        fair = next(s for s in report.deals_by_origin if s.label == "Fair meeting")
        assert (fair.deals, fair.won, fair.amount_fen) == (1, 1, 30 * WAN)
        assert (report.needs.published, report.needs.reached) == (3, 1)
        assert sorted((r.published, r.reached) for r in report.needs_by_industry) == [(1, 0), (2, 1)]
        assert report.days_to_first_introduction == 35.5  # median of 10 and 61
        assert report.days_to_first_contract == 40.0
        # Another year holds none of it.
        assert efficiency.efficiency(Scope(period="year", year=2025), "en").total.requested == 0


def test_staff_see_the_page_and_export_it_others_may_not(client, auth, people, threads):
    auth.login(people["staff"])
    page = client.get("/stats/matching?year=2026&period=year&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="needs-reached">33.3%' in html and 'id="days-to-intro">35.5' in html
    assert "Match suggestion" in html and "Research teams answering technical needs" in html
    assert 'id="efficiency-link"' in client.get("/stats/?lang=en").get_data(as_text=True)
    export = client.get("/stats/matching/export.xlsx?year=2026&period=year&lang=en")
    book = load_workbook(io.BytesIO(export.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[1][:6] == ("All introductions", 3, 1, 1, 1, 60.0)
    for role in ("broker", "enterprise"):
        auth.login(people[role])
        assert client.get("/stats/matching").status_code == 403
    auth.login(make_user := people["researcher"])
    assert make_user.role == Role.RESEARCHER and client.get("/stats/matching/export.xlsx").status_code == 403
