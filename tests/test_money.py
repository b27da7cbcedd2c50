"""Amounts the way people write them, and the ones that are refused."""
from __future__ import annotations

import pytest

from matchmaker.core.money import parse_money


@pytest.mark.parametrize(("text", "unit", "fen"), [
    ("60", "wan", 60_000_000), ("60万", "yuan", 60_000_000), ("60 万元", "yuan", 60_000_000),
    ("600,000元", "wan", 60_000_000), ("1.5亿", "wan", 15_000_000_000), ("¥12万", "yuan", 12_000_000),
    ("６０万", "yuan", 60_000_000), ("", "wan", None), ("1000000000000", "yuan", 10**14),
])
def test_amounts_as_typed(text, unit, fen):
    assert parse_money(text, unit) == fen


@pytest.mark.parametrize("text", ["abc", "1e309", "NaN", "inf", "9" * 40, "1000000000001", "0.001", "2亿亿"])
def test_what_is_not_an_amount_is_refused(text):
    with pytest.raises(ValueError):
        parse_money(text, "yuan")
