"""Browsing: only live published listings, Chinese keyword search by segmented words, filters, sorting."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from matchmaker.listings import search
from models import ListingStatus, Role

WAN = 1_000_000


def _titles(client, path: str) -> list[str]:
    page = client.get(path).get_data(as_text=True)
    return [t for t in TITLES if t in page]


TITLES = ("基于振动信号的数控机床主轴预测性维护系统", "锂电池正极材料回收工艺",
          "Vibration-based bearing fault prediction", "茶叶智能烘焙控制系统",
          "未审核成果", "已过期成果", "已关闭成果", "过期未跑任务成果")


@pytest.fixture
def catalog(make):
    make.result(title=TITLES[0], summary="采集振动信号，在出故障前预警", keywords=["振动监测", "预测性维护"],
                industry_section="C", industry_division="34", tech_field="advanced_manufacturing",
                maturity="pilot", ip_status="invention_granted", transfer_modes=["license", "transfer"],
                region="350503", price_fen=80 * WAN)
    make.result(title=TITLES[1], summary="湿法回收钴镍锂", keywords=["电池回收"], industry_section="C",
                industry_division="42", tech_field="new_materials", maturity="pilot_small",
                ip_status="invention_filed", transfer_modes=["equity"], region="350203", price_fen=300 * WAN)
    make.result(title=TITLES[2], summary="Predicts rolling bearing faults from vibration spectra",
                language="en", industry_section="I", industry_division="65", tech_field="electronic_information",
                maturity="sample", ip_status="software_copyright", transfer_modes=["license"], region="440300",
                price_fen=None)
    make.result(title=TITLES[3], summary="茶叶烘焙温湿度闭环控制", industry_section="C", industry_division="15",
                tech_field="agriculture", maturity="mass", transfer_modes=["transfer"], region="350500",
                price_fen=20 * WAN)
    make.result(title=TITLES[4], status=ListingStatus.PENDING, summary="振动")
    make.result(title=TITLES[5], status=ListingStatus.EXPIRED, summary="振动")
    make.result(title=TITLES[6], status=ListingStatus.CLOSED, summary="振动")
    make.result(title=TITLES[7], summary="振动", valid_until=date.today() - timedelta(days=1))


def test_only_live_published_listings_are_listed(client, catalog):
    assert _titles(client, "/results") == list(TITLES[:4])


@pytest.mark.parametrize("query, expected", [
    ("预测性维护", [TITLES[0]]),            # a segmented word of the keywords
    ("振动", [TITLES[0]]),                  # Chinese word inside a longer title
    ("数控机床 预警", [TITLES[0]]),         # every word must match, in any field outsiders may see
    ("振动 锂电池", []),                    # words from two different listings: no listing has both
    ("锂电池", [TITLES[1]]),
    ("vibration", [TITLES[2]]),            # English, case-insensitive
    ("Bearing Fault", [TITLES[2]]),
    ("主轴预", []),                         # not a word: substring matching is not how search works
])
def test_keyword_search_matches_whole_words(client, catalog, query, expected):
    assert _titles(client, f"/results?q={query}") == expected


def test_relevance_ranks_the_listing_about_the_query_first(make, client):
    make.result(title="设备振动监测预测性维护平台", summary="振动监测，振动分析，振动预警", keywords=["振动"])
    make.result(title="智能仓储机器人", summary="附带振动报警", keywords=["仓储"])
    page = search.search("result", search.parse_filters({"q": "振动"}))
    assert [x.title for x in page.items] == ["设备振动监测预测性维护平台", "智能仓储机器人"]
    assert page.scores and len(page.scores) == 2


@pytest.mark.parametrize("args, expected", [
    ("industry_section=I", [TITLES[2]]),
    ("industry_division=42", [TITLES[1]]),
    ("tech_field=agriculture", [TITLES[3]]),
    ("maturity=pilot", [TITLES[0]]),
    ("ip_status=software_copyright", [TITLES[2]]),
    ("transfer_mode=license", [TITLES[0], TITLES[2]]),
    ("transfer_mode=equity", [TITLES[1]]),
    ("region=350000", [TITLES[0], TITLES[1], TITLES[3]]),   # the province covers its cities and districts
    ("region=350500", [TITLES[0], TITLES[3]]),
    ("region=440000", [TITLES[2]]),
    ("amount_min=50&amount_max=100", [TITLES[0]]),
    ("amount_max=50", [TITLES[3]]),
    ("negotiable=1", [TITLES[2]]),
    ("industry_section=C&q=振动", [TITLES[0]]),
    ("industry_section=NOPE", list(TITLES[:4])),             # unknown codes are ignored, never an error
    ("amount_min=abc", list(TITLES[:4])),
])
def test_filters(client, catalog, args, expected):
    response = client.get(f"/results?{args}")
    assert response.status_code == 200
    assert _titles(client, f"/results?{args}") == expected


def test_price_sort(client, catalog):
    page = client.get("/results?sort=price_asc").get_data(as_text=True)
    order = sorted(TITLES[:4], key=page.index)
    assert order == [TITLES[3], TITLES[0], TITLES[1], TITLES[2]]  # negotiable last


def test_need_budget_range_overlaps(client, make):
    make.need(title="预算十到五十万的需求", budget_min_fen=10 * WAN, budget_max_fen=50 * WAN)
    make.need(title="预算面议的需求")
    make.need(title="预算两百万的需求", budget_min_fen=200 * WAN, budget_max_fen=300 * WAN)
    page = client.get("/needs?amount_min=40&amount_max=100").get_data(as_text=True)
    assert "预算十到五十万的需求" in page and "预算两百万的需求" not in page and "预算面议的需求" not in page
    assert "预算面议的需求" in client.get("/needs?negotiable=1").get_data(as_text=True)


def test_pagination(client, make, app):
    app.config["PAGE_SIZE"] = 2
    for n in range(5):
        make.result(title=f"分页成果{n}")
    first = client.get("/results").get_data(as_text=True)
    third = client.get("/results?page=3").get_data(as_text=True)
    assert "分页成果4" in first and "分页成果0" not in first
    assert "分页成果0" in third and 'rel="next"' not in third


def test_my_listings_shows_every_state_of_my_org(client, make, login):
    owner = make.user(Role.ENTERPRISE)
    colleague = make.user(Role.ENTERPRISE, organization=owner.organization)
    for status in ListingStatus:
        make.need(owner=colleague, status=status, title=f"我的需求-{status}")
    make.need(title="别人的需求")
    login(owner)
    page = client.get("/my/listings").get_data(as_text=True)
    assert all(f"我的需求-{status}" in page for status in ListingStatus)
    assert "别人的需求" not in page


def test_stored_tokens_hold_each_fields_word_pairs_without_bridging_fields(make):
    listing = make.result(title="水运工程全过程管理", summary="管理制度完善")
    tokens = listing.search_text.split()
    assert "全过程管理" in tokens  # 全过程 + 管理: the phrase counts as one more term
    assert "管理管理制度" not in tokens  # the title's last word and the summary's first never pair


def test_listings_whose_tokens_were_cleared_are_searchable_again_after_reindex(make, client):
    import sqlalchemy as sa

    from models import ResearchResult, Session

    make.result(title=TITLES[0], summary="振动监测")
    Session.execute(sa.update(ResearchResult).values(search_text=None))  # what migration 0003 does
    Session.commit()
    assert _titles(client, "/results?q=振动") == []
    assert search.reindex(missing_only=True) == 1
    assert search.reindex(missing_only=True) == 0
    assert _titles(client, "/results?q=振动") == [TITLES[0]]
