"""Bad queries get a clear answer: one character, 10,000 characters, only filler words, emoji or a
language the matching does not read; never a server error or an empty page without explanation."""
from __future__ import annotations

import pytest

from tests.matching.test_matching import BEARING


@pytest.mark.parametrize(("query", "advice"), [
    ("a", "very short to match on"),
    ("的了是和", "too general to match on"),
    ("😀🚀🔥", "Matching reads Chinese and English"),
    ("Ελληνικά κείμενο για αισθητήρες", "Matching reads Chinese and English"),
    ("轴承故障预测" * 2000, "Only the first 2000 characters"),
])
def test_bad_queries_are_answered_with_advice_and_the_results(client, publish, query, advice):
    publish("result", **BEARING)
    page = client.get("/search", query_string={"q": query, "lang": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert advice in html and 'class="match-list"' in html


def test_a_good_query_gets_no_advice(client, publish):
    publish("result", **BEARING)
    html = client.get("/search", query_string={"q": "想在设备出故障前就知道", "lang": "en"}).get_data(as_text=True)
    assert "query-advice" not in html and BEARING["title"] in html
