"""Statistics: the dashboard, its export and the API equal sums worked out by hand on a fixed set."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from matchmaker import reference
from matchmaker.services import contracts, stats
from models import Contract, Session

from .conftest import make_fair

# (type, field, seller entity, seller region, buyer region, signed, 成交额 yuan, 技术交易额 yuan, from the fair)
FIXED = [
    ("transfer", "new_materials", "022", "350500", "350500", date(2025, 1, 15), "100000", "80000", True),
    ("transfer", "new_materials", "021", "350100", "350500", date(2025, 2, 10), "50000", "50000", False),
    ("development", "electronic_information", "150", "350500", "330100", date(2025, 4, 1), "300000", "250000", True),
    ("license", "biomedicine", "022", "320100", "440300", date(2025, 6, 30), "20000", "20000", False),
    ("service", None, "400", "350502", "350500", date(2025, 12, 31), "7000.50", "7000.50", False),
    ("development", "electronic_information", "150", "350500", "350500", date(2024, 11, 5), "999999.99", "500000",
     False),
]
YEAR = stats.Scope(period="year", year=2025)


def fen(yuan: str) -> int:
    return int(round(float(yuan) * 100))


@pytest.fixture
def fixed(app, people):
    fair = make_fair()
    for i, (ctype, field, entity, s_region, b_region, signed, amount, tech, at_fair) in enumerate(FIXED):
        data = contracts.ContractInput(
            contract_type=ctype, project_name=f"项目{i}", signing_date=signed, amount_fen=fen(amount),
            tech_amount_fen=fen(tech), tech_field=field, seller_name=f"卖方{i}", seller_entity_type=entity,
            seller_region=s_region, buyer_name=f"买方{i}", buyer_entity_type="150", buyer_region=b_region,
            fair_id=fair.id if at_fair else None)
        contracts.add(contracts.validate(data), people["staff"].id)
    Session.commit()
    return fair


def as_table(rows):
    return {row.label: (row.count, row.amount_fen, row.tech_amount_fen) for row in rows if row.count}


def test_totals_and_breakdowns_equal_hand_sums(app, fixed):
    with app.test_request_context("/?lang=en"):
        assert stats.totals(YEAR).count == 5
        assert stats.totals(YEAR).amount_fen == 47_700_050
        assert stats.totals(YEAR).tech_amount_fen == 40_700_050
        assert as_table(stats.by_type(YEAR, "en")) == {
            "Technology transfer": (2, 15_000_000, 13_000_000),
            "Technology development": (1, 30_000_000, 25_000_000),
            "Technology licensing": (1, 2_000_000, 2_000_000),
            "Technical service": (1, 700_050, 700_050),
        }
        assert as_table(stats.by_field(YEAR, "en")) == {
            "New materials and applications": (2, 15_000_000, 13_000_000),
            "Electronic information": (1, 30_000_000, 25_000_000),
            "Biomedicine and medical devices": (1, 2_000_000, 2_000_000),
            "Not given": (1, 700_050, 700_050),
        }
        assert as_table(stats.by_party(YEAR, "en")) == {
            "University": (2, 12_000_000, 10_000_000),
            "Research institution": (1, 5_000_000, 5_000_000),
            "Enterprise": (1, 30_000_000, 25_000_000),
            "Individual": (1, 700_050, 700_050),
        }
        assert {r.key: r.count for r in stats.by_flow(YEAR, "en")} == {
            "within": 2, "inward": 1, "outward": 1, "external": 1}
        assert as_table(stats.by_fair(YEAR, "en")) == {
            "2025泉州对接会": (2, 40_000_000, 33_000_000),
            "Not from a fair": (3, 7_700_050, 7_700_050),
        }


def test_flows_agree_with_the_reference_function(app, fixed):
    home = app.config["HOME_REGION"]
    expected: dict[str, int] = {}
    for row in FIXED:
        if row[5].year == 2025:
            flow = reference.region_flow(row[4], row[3], home)
            expected[flow] = expected.get(flow, 0) + 1
    with app.test_request_context("/"):
        assert {r.key: r.count for r in stats.by_flow(YEAR)} == expected


def test_periods_months_quarters_years(app, fixed):
    with app.test_request_context("/"):
        months = stats.by_month(YEAR)
        assert [r.key for r in months] == [f"2025-{m:02d}" for m in range(1, 13)]
        assert [r.count for r in months] == [1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]
        assert months[11].amount_fen == 700_050
        quarters = {r.key: (r.count, r.amount_fen) for r in stats.by_quarter(YEAR)}
        assert quarters == {"2025-Q1": (2, 15_000_000), "2025-Q2": (2, 32_000_000), "2025-Q3": (0, 0),
                            "2025-Q4": (1, 700_050)}
        years = {r.key: (r.count, r.amount_fen) for r in stats.by_year(YEAR)}
        assert years == {"2024": (1, 99_999_999), "2025": (5, 47_700_050)}
        q2 = stats.Scope(period="quarter", year=2025, quarter=2)
        assert stats.totals(q2).count == 2
        december = stats.Scope(period="month", year=2025, month=12)
        assert (stats.totals(december).count, stats.totals(december).amount_fen) == (1, 700_050)
        assert stats.totals(stats.Scope(period="all")).count == 6


def test_exported_xlsx_equals_the_dashboard(client, auth, people, fixed):
    auth.login(people["staff"])
    response = client.get("/stats/export.xlsx?period=year&year=2025&lang=en")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    with client.application.test_request_context("/?lang=en"):
        board = stats.dashboard(YEAR, "en")
    summary = list(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert summary[0][1] == 5 and round(summary[0][2] * 100) == 47_700_050
    sheets = book.worksheets[1:1 + len(board.tables)]
    for sheet, (group, rows) in zip(sheets, board.tables.items(), strict=True):
        read = [(r[0], r[1], round(r[2] * 100), round(r[3] * 100))
                for r in sheet.iter_rows(min_row=2, values_only=True)]
        assert read == [(r.label, r.count, r.amount_fen, r.tech_amount_fen) for r in rows], group


def test_dashboard_shows_each_table_and_the_api_serves_the_same_figures(client, auth, people, fixed):
    auth.login(people["staff"])
    page = client.get("/stats/?period=year&year=2025&lang=en").get_data(as_text=True)
    assert "By contract type" in page and "Technology transfer" in page and "chart.umd.min.js" in page
    data = client.get("/api/stats?period=year&year=2025&group=type").get_json()
    assert data["totals"]["count"] == 5 and data["totals"]["amount_fen"] == 47_700_050
    assert {r["key"]: r["amount_fen"] for r in data["rows"]} == {
        "transfer": 15_000_000, "development": 30_000_000, "license": 2_000_000, "service": 700_050}
    assert client.get("/api/stats?group=nonsense").status_code == 400


@pytest.mark.parametrize("role, dashboard, api", [
    (None, 302, 401), ("researcher", 403, 403), ("enterprise", 403, 403), ("broker", 403, 403), ("staff", 200, 200),
])
def test_only_staff_see_the_dashboard(client, auth, people, role, dashboard, api):
    if role:
        auth.login(people[role])
    assert client.get("/stats/").status_code == dashboard
    assert client.get("/api/stats?group=type").status_code == api
    assert client.get("/stats/export.xlsx").status_code == (dashboard if dashboard != 200 else 200)


def test_public_summary_needs_no_login_and_shows_no_names(client, fixed):
    page = client.get("/stats/public?year=2025&lang=zh").get_data(as_text=True)
    assert "¥47.7万元" in page and "5" in page
    assert "卖方" not in page and "买方" not in page


def test_funnel_counts_and_conversion(app, people, make):
    from matchmaker.services import deals, introductions
    from models import DealStage, Notification

    result = make.result(owner=people["researcher"])
    for _ in range(4):
        other = make.user("enterprise")
        introductions.request(other, introductions.RequestInput("result", result.id, "想了解"))
    uni, firm = people["uni"].id, people["firm"].id
    deals.open_deal(result.id, None, uni, firm, None, "search", stage=DealStage.MEETING_HELD)
    skipped = deals.open_deal(result.id, None, uni, firm, None, "search", stage=DealStage.INTRODUCED)
    deals.advance_to(skipped, DealStage.NEGOTIATING, None)
    won = deals.open_deal(result.id, None, uni, firm, None, "search", stage=DealStage.INTENTION_SIGNED)
    deals.open_deal(result.id, None, uni, firm, None, "search", stage=DealStage.INTRODUCED)
    data = contracts.ContractInput(contract_type="transfer", project_name="x", signing_date=date.today(),
                                   amount_fen=100, tech_amount_fen=100, seller_org_id=uni, buyer_org_id=firm,
                                   deal_id=won.id)
    contracts.add(contracts.validate(data), None)
    Session.commit()
    with app.test_request_context("/?lang=en"):
        steps = stats.funnel(stats.Scope(period="all"))
        assert [(s.key, s.count) for s in steps] == [
            ("introductions", 4), ("meetings", 3), ("intentions", 1), ("contracts", 1)]
        assert [s.rate for s in steps] == [None, 0.75, pytest.approx(1 / 3), 1.0]
        assert steps[-1].rate_from_top == 0.25
        Session.add(Notification(user_id=people["enterprise"].id, kind="match.new", params={}))
        Session.commit()
        steps = stats.funnel(stats.Scope(period="all"))
        assert steps[0].key == "suggestions" and steps[0].count == 1
    assert Session.query(Contract).count() == 1


@pytest.mark.parametrize("scope", [YEAR, stats.Scope(period="quarter", year=2025, quarter=2),
                                   stats.Scope(period="all"), stats.Scope(period="year", year=2025, fair_id=1)])
def test_the_dashboard_equals_each_breakdown_asked_alone(app, fixed, scope):
    # The dashboard fetches every table together from the summary; the API asks for one at a time.
    if scope.fair_id:
        scope = stats.Scope(period="year", year=2025, fair_id=fixed.id)
    with app.test_request_context("/?lang=en"):
        board = stats.dashboard(scope, "en")
        assert board.totals == stats.totals(scope)
        for group, rows in board.tables.items():
            assert rows == stats.breakdown(group, scope, "en"), group
