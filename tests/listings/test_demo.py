"""The demo listings: every state shows, codes and patent numbers are valid, the colloquial need finds its result."""
from __future__ import annotations

from collections import Counter
from datetime import date

import sqlalchemy as sa

from matchmaker.demo import seed
from matchmaker.listings import lifecycle, search
from models import ListingStatus, ResearchResult, Session, TechNeed


def test_demo_listings_load_and_pass_the_form_rules(app):
    seed.load()
    results = list(Session.scalars(sa.select(ResearchResult)))
    needs = list(Session.scalars(sa.select(TechNeed)))
    assert len(results) == 40 and len(needs) == 30
    states = Counter(x.status for x in results + needs)
    assert set(states) == set(ListingStatus) and states[ListingStatus.PUBLISHED] > 50
    assert any(x.confidential for x in results) and any(x.confidential for x in needs)
    assert {x.organization.kind for x in results} == {"university", "institute"}
    assert {x.organization.kind for x in needs} == {"enterprise"}
    for listing in results + needs:
        values = {name: getattr(listing, name) for name in
                  lifecycle.COMMON_FIELDS + lifecycle.KIND_FIELDS[listing.kind]}
        if values["valid_until"] < date.today():
            values["valid_until"] = None  # expired on purpose
        lifecycle.clean_values(listing.kind, values)  # raises on an unknown code or a malformed patent number


def test_colloquial_need_words_find_the_predictive_maintenance_result(app):
    seed.load()
    page = search.search("result", search.parse_filters({"q": "振动 预警"}))
    assert page.items and page.items[0].title == "基于振动信号的旋转设备预测性维护系统"
