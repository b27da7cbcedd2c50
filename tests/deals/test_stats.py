"""Statistics: the dashboard, its export and the API equal sums worked out by hand on a fixed set."""
from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from matchmaker import reference
from matchmaker.core.i18n import format_money
from matchmaker.deals import contracts
from matchmaker.stats import funnel, stats
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
        assert as_table(stats.breakdown("type", YEAR, "en")) == {
            "Technology transfer": (2, 15_000_000, 13_000_000),
            "Technology development": (1, 30_000_000, 25_000_000),
            "Technology licensing": (1, 2_000_000, 2_000_000),
            "Technical service": (1, 700_050, 700_050),
        }
        assert as_table(stats.breakdown("field", YEAR, "en")) == {
            "New materials and applications": (2, 15_000_000, 13_000_000),
            "Electronic information": (1, 30_000_000, 25_000_000),
            "Biomedicine and medical devices": (1, 2_000_000, 2_000_000),
            "Not given": (1, 700_050, 700_050),
        }
        assert as_table(stats.breakdown("party", YEAR, "en")) == {
            "University": (2, 12_000_000, 10_000_000),
            "Research institution": (1, 5_000_000, 5_000_000),
            "Enterprise": (1, 30_000_000, 25_000_000),
            "Individual": (1, 700_050, 700_050),
        }
        assert {r.key: r.count for r in stats.breakdown("flow", YEAR, "en")} == {
            "within": 2, "inward": 1, "outward": 1, "external": 1}
        assert as_table(stats.breakdown("fair", YEAR, "en")) == {
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
        assert {r.key: r.count for r in stats.breakdown("flow", YEAR)} == expected


def test_periods_months_quarters_years(app, fixed):
    with app.test_request_context("/"):
        months = stats.breakdown("month", YEAR)
        assert [r.key for r in months] == [f"2025-{m:02d}" for m in range(1, 13)]
        assert [r.count for r in months] == [1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]
        assert months[11].amount_fen == 700_050
        quarters = {r.key: (r.count, r.amount_fen) for r in stats.breakdown("quarter", YEAR)}
        assert quarters == {"2025-Q1": (2, 15_000_000), "2025-Q2": (2, 32_000_000), "2025-Q3": (0, 0),
                            "2025-Q4": (1, 700_050)}
        years = {r.key: (r.count, r.amount_fen) for r in stats.breakdown("year", YEAR)}
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


# --- the funnel on a hand-made set of threads ---------------------------------------------------

def _contract(deal=None, fair=None, amount=100_000, signed=date(2025, 6, 1)):
    data = contracts.ContractInput(
        contract_type="transfer", project_name="项目", signing_date=signed, amount_fen=amount, tech_amount_fen=amount,
        seller_name="卖方", seller_entity_type="022", seller_region="350500", buyer_name="买方",
        buyer_entity_type="150", buyer_region="350500", deal_id=deal.id if deal else None,
        fair_id=fair.id if fair else None)
    contracts.add(contracts.validate(data), None)


@pytest.fixture
def threads(app, people, make):
    """Introductions, a fair's requests and meetings, hand-opened deals and contracts with known fates.

    name: how far it got                      platform steps reached (requests..contracts = 0..4)
    I1 pending, I2 declined                   0, 0
    I3 accepted (deal introduced)             1
    I4 accepted, deal -> meeting held         2
    I5 accepted, deal gets two contracts      4 (skipping meeting and intention)
    I6 accepted, intention signed, then lost  3
    R1 pending request at the fair            0
    R2 accepted, held, follow-up; a contract  4
    R3 accepted, no-show                      1
    M4 organiser-made, held, "contract signed" recorded but no registered contract   3
    D3 broker's deal from a match suggestion  1
    D1 offline and D2 search deals            not matchmaking: left out
    plus 5 historical contracts with no deal and 2 linked only to the fair
    """
    from matchmaker.deals import deals
    from models import DealStage, FairMeeting, FairParticipant, Introduction, MeetingRequest

    def result():  # each thread is its own result-buyer pair: one pair is one deal
        return make.result(owner=people["researcher"])

    uni, firm = people["uni"].id, people["firm"].id
    opened = {}
    for name, status in (("I1", "pending"), ("I2", "declined"), ("I3", "accepted"), ("I4", "accepted"),
                         ("I5", "accepted"), ("I6", "accepted")):
        listing = result()
        intro = Introduction(result_id=listing.id, owner_org_id=uni, counterpart_org_id=firm, status=status,
                             message="想了解")
        Session.add(intro)
        Session.flush()
        if status == "accepted":
            opened[name] = deals.open_deal(listing.id, None, uni, firm, None, "search", stage="introduced",
                                           introduction_id=intro.id, commit=False)
    deals.set_stage(opened["I4"], DealStage.MEETING_HELD, None, None)
    deals.set_stage(opened["I6"], DealStage.INTENTION_SIGNED, None, None)
    deals.set_stage(opened["I6"], DealStage.LOST, None, None)

    fair = make_fair()
    a = FairParticipant(fair_id=fair.id, organization_id=uni, name="甲", email="a@x.cn", participant_type="research",
                        checkin_token="ta")
    b = FairParticipant(fair_id=fair.id, organization_id=firm, name="乙", email="b@x.cn",
                        participant_type="enterprise", checkin_token="tb")
    Session.add_all([a, b])
    Session.flush()
    meetings = {}
    for name, request_status, meeting_status, outcome in (
            ("R1", "pending", None, None), ("R2", "accepted", "held", "follow_up"),
            ("R3", "accepted", "no_show", "none"), ("M4", None, "held", "contract")):
        request = None
        if request_status:
            request = MeetingRequest(fair_id=fair.id, requester_id=a.id, recipient_id=b.id, status=request_status,
                                     expires_at=datetime(2025, 5, 1, tzinfo=UTC))
            Session.add(request)
            Session.flush()
        if meeting_status:
            meetings[name] = FairMeeting(fair_id=fair.id, a_id=a.id, b_id=b.id, status=meeting_status,
                                         outcome=outcome, request_id=request.id if request else None)
            Session.add(meetings[name])
            Session.flush()
    for name, stage in (("R2", DealStage.MEETING_HELD), ("M4", DealStage.CONTRACT_SIGNED)):
        opened[name] = deals.open_deal(result().id, None, uni, firm, None, "fair", fair_id=fair.id,
                                       fair_meeting_id=meetings[name].id, stage=stage, commit=False)
    opened["D3"] = deals.open_deal(result().id, None, uni, firm, None, "match", stage="introduced", commit=False)
    deals.open_deal(result().id, None, uni, firm, None, "offline", stage="intention_signed", commit=False)
    deals.open_deal(result().id, None, uni, firm, None, "search", stage="negotiating", commit=False)

    _contract(opened["I5"], amount=300_000)
    _contract(opened["I5"], amount=200_000)
    _contract(opened["R2"], fair=fair, amount=1_000_000)
    for _ in range(5):
        _contract()
    for _ in range(2):
        _contract(fair=fair)
    Session.commit()
    return fair


def test_funnel_counts_each_thread_up_to_where_it_got(app, threads):
    with app.test_request_context("/?lang=en"):
        steps = funnel.funnel(stats.Scope(period="all"))
    assert [(s.key, s.count) for s in steps] == [
        ("requests", 11), ("accepted", 8), ("meetings", 5), ("intentions", 4), ("contracts", 2)]
    assert [s.rate for s in steps] == [None, 8 / 11, 5 / 8, 4 / 5, 2 / 4]
    assert steps[-1].rate_from_top == 2 / 11
    # Ten contracts exist; the funnel's last step knows only the three linked to its deals.
    assert Session.query(Contract).count() == 10
    assert (steps[-1].contracts, steps[-1].amount_fen) == (3, 1_500_000)


def test_fair_funnel_and_row_by_fair_count_only_the_fairs_threads(app, threads):
    with app.test_request_context("/?lang=en"):
        steps = funnel.funnel(stats.Scope(period="all", fair_id=threads.id))
        rows = funnel.funnel_by_fair(stats.Scope(period="year", year=2025))
        by_fair = {row.key: row.count for row in stats.breakdown("fair", stats.Scope(period="all"))}
    assert [(s.key, s.count) for s in steps] == [
        ("requests", 4), ("accepted", 3), ("meetings", 2), ("intentions", 2), ("contracts", 1)]
    [row] = rows
    assert (row["requests"], row["accepted"], row["meetings"], row["intentions"], row["contracts"]) == (4, 3, 2, 2, 1)
    assert (row["contract_count"], row["amount_fen"], row["meeting_to_contract"]) == (1, 1_000_000, 0.5)
    # The contract tables keep every contract linked to the fair, through its meetings or not.
    assert by_fair[str(threads.id)] == 3


def test_no_rate_exceeds_its_step_above(app, threads):
    with app.test_request_context("/?lang=en"):
        for scope in (stats.Scope(period="all"), stats.Scope(period="all", fair_id=threads.id)):
            steps = funnel.funnel(scope)
            assert all(s.rate is None or s.rate <= 1 for s in steps), scope
            assert all(later.count <= earlier.count for earlier, later in zip(steps, steps[1:], strict=False)), scope


def test_threads_count_in_the_period_they_started(app, people, make):
    from matchmaker.deals import deals
    from models import Introduction

    result = make.result(owner=people["researcher"])
    uni, firm = people["uni"].id, people["firm"].id
    intro = Introduction(result_id=result.id, owner_org_id=uni, counterpart_org_id=firm, status="accepted",
                         message="想了解", created_at=datetime(2024, 12, 20, tzinfo=UTC))
    Session.add(intro)
    Session.flush()
    deal = deals.open_deal(result.id, None, uni, firm, None, "search", stage="introduced", introduction_id=intro.id,
                           commit=False)
    _contract(deal, signed=date(2025, 2, 1))
    Session.commit()
    with app.test_request_context("/?lang=en"):
        started = funnel.funnel(stats.Scope(period="year", year=2024))
        signed = funnel.funnel(stats.Scope(period="year", year=2025))
        assert [s.count for s in started] == [1, 1, 1, 1, 1]
        assert [s.count for s in signed] == [0, 0, 0, 0, 0]
        # The contract tables count it in the year it was signed.
        assert stats.totals(stats.Scope(period="year", year=2025)).count == 1


def test_suggestions_lead_the_funnel_without_a_rate_to_requests(client, auth, people, app, threads):
    from models import Notification

    Session.add_all([Notification(user_id=people["enterprise"].id, kind="match.new", params={}) for _ in range(3)])
    Session.commit()
    with app.test_request_context("/?lang=en"):
        steps = funnel.funnel(stats.Scope(period="all"))
    assert (steps[0].key, steps[0].count, steps[1].key, steps[1].comparable) == ("suggestions", 3, "requests", False)
    auth.login(people["staff"])
    page = client.get("/stats/?period=all&lang=en").get_data(as_text=True)
    row = page[page.index('id="funnel-requests"'):].split("</tr>")[0]
    assert "n/a" in row and "%" not in row
    assert "Contracts linked to no deal, such as imported historical ones" in page


def test_dashboard_shows_the_funnel_rule_and_rates_up_to_100_percent(client, auth, people, threads):
    auth.login(people["staff"])
    page = client.get("/stats/?period=all&lang=en").get_data(as_text=True)
    funnel = page[page.index('id="funnel"'):page.index('id="table-month"')]
    rates = [float(x) for x in re.findall(r"([\d.]+)%", funnel)]
    assert rates and max(rates) <= 100
    assert "Led to a technology contract" in funnel and 'id="funnel-rule"' in funnel
    zh = client.get("/stats/?period=all&lang=zh").get_data(as_text=True)
    assert "Led to a technology contract" not in zh


@pytest.mark.parametrize("query, total, selected", [
    ("period=q2&year=2025", 2, "q2"),
    ("period=m12&year=2025", 1, "m12"),
    ("period=quarter&quarter=1&year=2025", 2, "q1"),
    ("period=month&month=6&year=2025", 1, "m6"),
    ("period=year&year=2025", 5, "year"),
    ("period=all", 6, "all"),
    ("period=q9&year=2025", 5, "year"),
])
def test_period_picker_shows_the_chosen_quarter_or_month(client, auth, people, fixed, query, total, selected):
    auth.login(people["staff"])
    page = client.get(f"/stats/?{query}&lang=en").get_data(as_text=True)
    assert re.search(r'id="total-count">(\d+)<', page).group(1) == str(total)
    assert f'<option value="{selected}" selected>' in page
    assert page.count(" selected>") == (2 if selected != "all" else 1)  # the period and the year


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


def test_the_public_page_breaks_the_year_down_by_month_type_field_and_flow(client, fixed):
    html = client.get("/stats/public?year=2025&lang=en").get_data(as_text=True)
    with client.application.test_request_context("/?lang=en"):
        expected = {group: as_table(stats.breakdown(group, YEAR, "en")) for group in ("month", "type", "field", "flow")}
        shown = {fen: format_money(fen, "en") for rows in expected.values() for _n, fen, _t in rows.values()}
    for group, rows in expected.items():
        section = html[html.index(f'id="table-{group}"'):]
        section = section[:section.index("</section>")]
        for label, (count, amount, _tech) in rows.items():
            row = re.search(rf"<td>{re.escape(label)}</td><td class=\"num\">(\d+)</td><td class=\"num\">([^<]+)</td>",
                            section)
            assert row and int(row.group(1)) == count and row.group(2) == shown[amount], (group, label)
    # Every month of the year has a row, empty ones too; 2025-12 holds the 7,000.50 yuan service contract.
    months = html[html.index('id="table-month"'):]
    assert months.count("<td>2025-") == 12
    assert "<td>2025-12</td><td class=\"num\">1</td>" in months
    # Top fields by amount: electronic information (300,000 yuan) before new materials (150,000).
    top = html[html.index('id="top-fields"'):]
    assert top.index("Electronic information") < top.index("New materials")
    assert "卖方" not in html and "买方" not in html and "项目" not in html  # no party or contract named


def test_the_public_page_is_in_the_menu_for_everyone(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    nav = html[html.index('class="main-nav"'):html.index("</nav>")]
    assert 'href="/stats/public"' in nav and "Market statistics" in nav
    empty = client.get("/stats/public?year=2031&lang=en")
    assert empty.status_code == 200 and "No contracts in this period." in empty.get_data(as_text=True)
