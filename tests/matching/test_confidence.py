"""Honest confidence: calibrated percentages, the list cut-off, and the page for "nothing likely"."""
from __future__ import annotations

import re

import sqlalchemy as sa

from matchmaker.matching import matches
from models import Notification, Session
from tests.matching.test_matching import BEARING, NEED, RICE


def _percent(html: str, title: str) -> int:
    card = html[html.index(title):]
    return int(re.search(r'class="match-score[^"]*"[^>]*>(\d+)%', card).group(1))


def test_an_unrelated_listing_is_folded_away_and_the_page_says_nothing_is_likely(client, publish):
    need = publish("need", **NEED)
    rice = publish("result", **RICE)
    html = client.get(f"/need/{need.id}", query_string={"lang": "en"}).get_data(as_text=True)
    assert "No likely match yet." in html
    assert "We will notify the owner as soon as a strong match is published." in html
    folded = html[html.index('class="more-matches"'):]
    assert rice.title in folded and "Show less likely suggestions (1)" in folded
    assert _percent(html, rice.title) < 5


def test_a_relevant_listing_is_shown_above_the_fold_with_the_same_estimate_as_in_search(client, publish):
    need = publish("need", **NEED)
    bearing = publish("result", **BEARING)
    publish("result", **RICE)
    page = client.get(f"/need/{need.id}", query_string={"lang": "en"}).get_data(as_text=True)
    assert "No likely match yet." not in page
    assert bearing.title in page[:page.index('class="more-matches"')]
    assert _percent(page, bearing.title) > _percent(page, RICE["title"])


def test_the_top_search_hit_is_not_100_percent_by_construction(client, publish):
    publish("result", **RICE)
    html = client.get("/search", query_string={"q": "轴承振动故障预测", "lang": "en"}).get_data(as_text=True)
    assert _percent(html, RICE["title"]) < 5
    assert "0 likely matches" in html and "No likely match yet." in html


def test_the_shipped_calibration_loads_with_its_thresholds(app):
    with app.app_context():
        model = matches.calibration()
    assert 0 < model.shown_at < model.strong_at < 1
    assert set(model.features) <= {"dense", "dense_title", "dense_rel", "title_rel", "lexical", "industry",
                                   "structured"}
    assert model.figures["judged_pairs"] > 0


def test_a_configured_calibration_replaces_the_shipped_one(client, publish, tmp_path, app):
    path = tmp_path / "always.json"
    path.write_text('{"features": ["dense"], "coefficients": [0.0], "intercept": 5.0, "strong_at": 0.9,'
                    ' "shown_at": 0.5, "version": "always-strong"}', encoding="utf-8")
    app.config["MATCH_CALIBRATION"] = str(path)
    publish("result", **RICE)
    html = client.get("/search", query_string={"q": "轴承振动故障预测", "lang": "en"}).get_data(as_text=True)
    assert _percent(html, RICE["title"]) == 99 and "Strong match" in html


def test_an_unlikely_pair_sends_no_notification(publish):
    publish("need", **NEED)
    publish("result", **RICE)
    assert Session.scalars(sa.select(Notification).where(Notification.kind == "match.new")).all() == []
