"""An English search finds Chinese listings through the catalogue's own terms (matching.crosslingual)."""
from __future__ import annotations

from matchmaker.matching import crosslingual, matches
from tests.matching.test_matching import BEARING, RICE

QUERY = "predict bearing faults from vibration"


def _bearing_hit(viewer):
    found = matches.search(viewer, QUERY)
    return next(item for item in found if item.listing.title == BEARING["title"]), found


def test_english_words_reach_the_chinese_listing_once_the_worker_wrote_the_term_table(app, publish, make):
    publish("result", **BEARING)
    publish("result", **RICE)
    viewer = make.user()
    before, _ = _bearing_hit(viewer)
    assert before.parts["lexical"] == 0  # no English word occurs in the Chinese listing

    report = crosslingual.refresh_tables()
    assert report["result"]["terms"] > 0 and report["result"]["embedded"] == report["result"]["terms"]
    terms = crosslingual.query_terms("result", QUERY)
    assert "轴承" in terms and "振动" in terms

    after, found = _bearing_hit(viewer)
    assert after.parts["lexical"] > 0 and found[0].listing.title == BEARING["title"]
    # Nothing new in the catalogue: the next refresh embeds nothing.
    assert crosslingual.refresh_tables()["result"]["embedded"] == 0


def test_a_new_listing_adds_only_its_new_terms(app, publish):
    publish("result", **BEARING)
    first = crosslingual.refresh_tables()["result"]
    publish("result", **RICE)
    second = crosslingual.refresh_tables()["result"]
    assert 0 < second["embedded"] < second["terms"] and second["terms"] == first["terms"] + second["embedded"]


def test_chinese_queries_are_not_translated(app, publish):
    publish("result", **BEARING)
    crosslingual.refresh_tables()
    assert crosslingual.query_terms("result", "轴承故障预测") == []
