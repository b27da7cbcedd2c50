"""/api/v1/stats and /api/v1/stats/matching: the same figures as the staff dashboard and the
matching-efficiency page (the hand-made sets of tests/deals), with the dashboard's filters; staff only."""
from __future__ import annotations

import pytest

from matchmaker.api import tokens
from tests.deals.conftest import fresh_locale_per_request, people  # noqa: F401  (fixtures)
from tests.deals.test_efficiency import WAN, threads  # noqa: F401  (fixture)
from tests.deals.test_stats import fixed  # noqa: F401  (fixture)


def _bearer(user, scopes=("read",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.create(user, 'stats', list(scopes))[1]}"}


def test_the_dashboard_figures_through_the_api_equal_the_dashboards(client, auth, people, fixed):  # noqa: F811
    staff = _bearer(people["staff"])
    year = client.get("/api/v1/stats?period=year&year=2025&lang=en", headers=staff)
    assert year.status_code == 200, year.json
    body = year.json
    assert body["scope"] == {"period": "year", "year": 2025, "from": "2025-01-01", "to": "2026-01-01"}
    assert body["totals"]["count"] == 5 and body["totals"]["amount"]["fen"] == 47_700_050
    assert body["totals"]["tech_amount"]["fen"] == 40_700_050 and body["totals"]["amount"]["text"]
    assert {r["key"]: r["amount"]["fen"] for r in body["tables"]["type"] if r["count"]} == {
        "transfer": 15_000_000, "development": 30_000_000, "license": 2_000_000, "service": 700_050}
    assert [r["count"] for r in body["tables"]["month"]] == [1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]
    assert {r["label"]: r["count"] for r in body["tables"]["fair"]}["2025泉州对接会"] == 2
    assert {"requests", "contracts"} <= {s["key"] for s in body["funnel"]}
    # The same filters as the dashboard: one quarter, one fair; and the old /api/stats still answers.
    q2 = client.get("/api/v1/stats?period=q2&year=2025", headers=staff).json
    assert q2["scope"]["quarter"] == 2 and q2["totals"]["count"] == 2
    at_fair = client.get(f"/api/v1/stats?period=year&year=2025&fair={fixed.id}", headers=staff).json
    assert at_fair["totals"]["count"] == 2 and at_fair["totals"]["amount"]["fen"] == 40_000_000
    assert at_fair["funnel_by_fair"][0]["fair_id"] == fixed.id
    auth.login(people["staff"])
    assert client.get("/api/stats?period=year&year=2025&group=type").json["totals"]["count"] == 5


def test_matching_efficiency_through_the_api_equals_the_staff_page(client, people, threads):  # noqa: F811
    report = client.get("/api/v1/stats/matching?period=year&year=2026&lang=en", headers=_bearer(people["staff"]))
    assert report.status_code == 200, report.json
    body = report.json
    total = body["total"]
    assert (total["requested"], total["accepted"], total["deals"], total["won"], total["contracts"]) == (3, 1, 1, 1, 1)
    assert total["amount"]["fen"] == 60 * WAN and total["acceptance_rate"] == pytest.approx(1 / 3)
    match = next(s for s in body["by_origin"] if s["label"] == "Match suggestion")
    assert match["requested"] == 1 and match["contract_rate"] == 1.0
    fair = next(s for s in body["deals_by_origin"] if s["label"] == "Fair meeting")
    assert (fair["deals"], fair["won"], fair["amount"]["fen"]) == (1, 1, 30 * WAN)
    assert (body["needs"]["published"], body["needs"]["reached"]) == (3, 1) and body["reach_days"] == 30
    assert body["days_to_first_introduction"] == 35.5 and body["days_to_first_contract"] == 40.0
    other_year = client.get("/api/v1/stats/matching?period=year&year=2025", headers=_bearer(people["staff"])).json
    assert other_year["total"]["requested"] == 0


@pytest.mark.parametrize("path", ["/api/v1/stats", "/api/v1/stats/matching"])
def test_only_staff_read_statistics_and_bad_filters_are_named(client, people, fixed, path):  # noqa: F811
    assert client.get(path).status_code == 401
    for who in ("researcher", "enterprise", "broker"):
        refused = client.get(path, headers=_bearer(people[who]))
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json", who
    staff = _bearer(people["staff"])
    for bad, field in (("period=decade", "period"), ("year=1900", "year"), ("month=13", "month"),
                       ("fair=abc", "fair")):
        answer = client.get(f"{path}?{bad}", headers=staff)
        assert answer.status_code == 422 and field in str(answer.json["errors"]), bad
