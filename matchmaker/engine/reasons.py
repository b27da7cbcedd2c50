"""Explain a match in words: the technical terms two listings share, and where they occur.

Returns plain data; templates escape the text and wrap highlighted segments in <mark>.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping

from matchmaker.engine.lexical import join_words, tokenize, word_sequence

MAX_PHRASE_WORDS = 4
_ASCII_WORD = re.compile(r"^[0-9a-z]+$")


def _phrases(sequence: list[str | None]) -> set[str]:
    """Every run of 1..MAX_PHRASE_WORDS consecutive words not crossing a break."""
    found: set[str] = set()
    for start in range(len(sequence)):
        run: list[str] = []
        for word in sequence[start:start + MAX_PHRASE_WORDS]:
            if word is None:
                break
            run.append(word)
            found.add(join_words(run))
    return found


def _candidates(a_text: str, b_text: str) -> set[str]:
    # Multi-word phrases catch 预测性+维护 → 预测性维护; search-mode tokens catch a sub-word
    # (故障) of a longer word on the other side (故障诊断).
    shared = _phrases(word_sequence(a_text)) & _phrases(word_sequence(b_text))
    shared |= set(tokenize(a_text)) & set(tokenize(b_text))
    return {term for term in shared if len(term) > 1}


def _specificity(idf: Mapping[str, float] | None, rarest: float) -> Callable[[str], float]:
    if not idf:
        return lambda term: float(len(term))

    def weight(term: str) -> float:
        # A phrase is as specific as its words together; unseen words count as the rarest.
        words = [word for word in word_sequence(term) if word] or [term]
        return sum(idf.get(word, rarest) for word in words)

    return weight


def _rarest(idf: Mapping[str, float] | None) -> float:
    """The largest IDF; a mapped index's IDF (engine.lexical_store.TermIdf) carries it as `rarest`."""
    if not idf:
        return 0.0
    known = getattr(idf, "rarest", None)
    return float(known) if known is not None else max(idf.values())


def shared_terms(a_text: str, b_text: str, limit: int = 8,
                 idf: Mapping[str, float] | None = None) -> tuple[str, ...]:
    """Terms found in both texts, most specific first, leaving out terms inside a longer one.

    Specificity is the summed IDF of a term's words when ``idf`` is given, else its length.
    Stopwords and one-character terms never count.
    """
    rarest = _rarest(idf)
    specificity = _specificity(idf, rarest)
    floor = _generic_floor(rarest) if idf else None
    candidates = {t for t in _candidates(a_text, b_text)
                  if not _says_nothing(t) and (floor is None or specificity(t) > floor)}
    # Only maximal terms: 预测性维护 makes 预测, 测性 and 维护 redundant whatever their IDF.
    maximal = [t for t in candidates if not any(t != other and t in other for other in candidates)]
    return tuple(sorted(maximal, key=lambda t: (-specificity(t), -len(t), t))[:limit])


# Words that say nothing about the technology however rare they are in a small catalogue.
GENERIC = frozenset("成本 效率 提高 降低 提升 以下 以上 左右 优化 改进 解决 方案 系统 装置 设备 产品 生产 "
                    "工艺 质量 性能 市场 合作 开发 研发 新型 一种 及其 制备 方法 领域 行业 "
                    "一套 符合 满足 具备 达到 method system device high low new improve".split())
_NUMBER_OR_UNIT = re.compile(r"^[0-9０-９.,%％~\-]+([a-zμ℃°％%]{0,3}|[万亿千百米吨度倍年月日个条台套])?$")
UNITS = frozenset("mm cm km kg mg g t w kw mw v kv a ma mah hz khz mhz ghz pa kpa mpa gpa db ppm rpm nm μm um "
                  "l ml m s h min".split())
GENERIC_SHARE = 0.1  # a word in more than this share of the listings is generic...
GENERIC_MIN_LISTINGS = 50  # ...once there are enough listings to tell


def _says_nothing(term: str) -> bool:
    """Numbers, units and generic words, alone or together."""
    words = [word for word in word_sequence(term) if word] or [term]
    return all(word in GENERIC or word in UNITS or _NUMBER_OR_UNIT.match(word) for word in words)


def _generic_floor(rarest: float) -> float | None:
    """The specificity of a word found in GENERIC_SHARE of the listings; None in a catalogue too small
    to tell. BM25's IDF is log1p((N - df + 0.5) / (df + 0.5)) and a word seen once has the largest, so
    N can be read back from it."""
    listings = 1.5 * math.expm1(rarest) + 0.5
    if listings < GENERIC_MIN_LISTINGS:
        return None
    df = GENERIC_SHARE * listings
    return math.log1p((listings - df + 0.5) / (df + 0.5))


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(part) for part in term.split())
    # Latin terms only match whole words: "ai" must not light up inside "maintain".
    prefix = r"(?<![0-9a-z])" if _ASCII_WORD.match(term[0]) else ""
    suffix = r"(?![0-9a-z])" if _ASCII_WORD.match(term[-1]) else ""
    return prefix + body + suffix


def highlight(text: str, terms: Iterable[str]) -> list[tuple[str, bool]]:
    """Split text into (segment, is_match) pieces, longest terms winning, case-insensitive."""
    ordered = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not ordered or not text:
        return [(text, False)] if text else []
    pattern = re.compile("|".join(_term_pattern(t.lower()) for t in ordered), re.IGNORECASE)
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            segments.append((text[position:match.start()], False))
        if segments and segments[-1][1]:
            segments[-1] = (segments[-1][0] + match.group(), True)
        else:
            segments.append((match.group(), True))
        position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return segments
