"""Amounts the way people write them: "60万", "60 万元", "600,000元", "1.5亿", "¥12万", or a bare
number read in the unit the field states. Integer fen out; the services judge sign and size."""
from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

FEN_PER = {"yuan": 100, "wan": 1_000_000, "yi": 10_000_000_000}  # fen in one 元, 万元, 亿元
# No technology contract or listing is worth a trillion yuan: beyond this an amount is a typo (and would
# overflow the database's 64-bit column long before "1e309" does).
MAX_FEN = 10**12 * 100
# Longest first, so "万元" is not read as "元".
_SUFFIXES = (("万元", "wan"), ("亿元", "yi"), ("元", "yuan"), ("万", "wan"), ("亿", "yi"))


def parse_money(text: str | None, unit: str) -> int | None:
    """Fen for an amount as typed; a bare number is in `unit` ("yuan", "wan" or "yi"). None when
    empty; ValueError when it is not an amount or is finer than one fen."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip()
    for char in (",", " ", "¥", "￥"):
        cleaned = cleaned.replace(char, "")
    if not cleaned:
        return None
    for suffix, suffix_unit in _SUFFIXES:
        if cleaned.endswith(suffix):
            cleaned, unit = cleaned[: -len(suffix)], suffix_unit
            break
    try:
        fen = Decimal(cleaned) * FEN_PER[unit]
    except InvalidOperation:
        raise ValueError(text) from None
    if not fen.is_finite() or fen != fen.to_integral_value() or abs(fen) > MAX_FEN:
        raise ValueError(text)
    return int(fen)


def fen_in(fen: int | None, unit: str) -> str:
    """Fen as a plain number in `unit`, without trailing zeros: 600000 fen in "wan" is "0.6"."""
    if fen is None:
        return ""
    text = f"{Decimal(fen) / FEN_PER[unit]:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
