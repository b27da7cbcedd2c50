"""Explain a match in words: the technical terms two listings share, and where they occur.

Returns plain data; templates escape the text and wrap highlighted segments in <mark>.
"""

from __future__ import annotations

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


def _specificity(idf: Mapping[str, float] | None) -> Callable[[str], float]:
    if not idf:
        return lambda term: float(len(term))
    rarest = max(idf.values(), default=1.0)

    def weight(term: str) -> float:
        # A phrase is as specific as its words together; unseen words count as the rarest.
        words = [word for word in word_sequence(term) if word] or [term]
        return sum(idf.get(word, rarest) for word in words)

    return weight


def shared_terms(a_text: str, b_text: str, limit: int = 8,
                 idf: Mapping[str, float] | None = None) -> tuple[str, ...]:
    """Terms found in both texts, most specific first, leaving out terms inside a longer one.

    Specificity is the summed IDF of a term's words when ``idf`` is given, else its length.
    Stopwords and one-character terms never count.
    """
    candidates = _candidates(a_text, b_text)
    # Only maximal terms: 预测性维护 makes 预测, 测性 and 维护 redundant whatever their IDF.
    maximal = [t for t in candidates if not any(t != other and t in other for other in candidates)]
    specificity = _specificity(idf)
    return tuple(sorted(maximal, key=lambda t: (-specificity(t), -len(t), t))[:limit])


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
