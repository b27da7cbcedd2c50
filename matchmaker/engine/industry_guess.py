"""Guessing a text's GB/T 4754 industry section: a vote of its nearest listings, plus the similarity to
each section's names (its own and its divisions').

Pure: the caller embeds the texts and finds the neighbours; this module only combines the evidence.
The site (matching/assistant.py) and scripts/eval_need_assistant.py call the same functions.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matchmaker.reference import INDUSTRY_DIVISIONS, INDUSTRY_SECTIONS, division_section

NEIGHBOURS = 15  # nearest listings that vote
TEMPERATURE = 0.02  # cosine similarities of e5 lie close together: a small temperature spreads them
PROTOTYPE_WEIGHT = 0.3  # share of the section names when neighbours exist


def section_texts(lang: str = "zh") -> list[tuple[str, str]]:
    """What each section covers, as short texts to embed: (section code, text) for the section's name and
    for each of its divisions' names. A section is as close to a text as its closest name: one long
    list of every division embeds far from any single problem (0.15 top-1 on the Zhibei needs, against
    0.44 for the closest name; docs/evaluation.md)."""
    english = lang.startswith("en")
    texts = [(s.code, s.en if english else s.zh) for s in INDUSTRY_SECTIONS]
    texts += [(division_section(d.code), d.en if english else d.zh) for d in INDUSTRY_DIVISIONS]
    return texts


def section_similarity(owners: Sequence[str], similarities: Sequence[float]) -> dict[str, float]:
    """Each section's similarity: the best of its texts' (section_texts order)."""
    best: dict[str, float] = {}
    for code, similarity in zip(owners, similarities, strict=True):
        best[code] = max(best.get(code, -1.0), float(similarity))
    return best


def _softmax(scores: Mapping[str, float], temperature: float) -> dict[str, float]:
    if not scores:
        return {}
    top = max(scores.values())
    weights = {code: math.exp((score - top) / temperature) for code, score in scores.items()}
    total = sum(weights.values())
    return {code: weight / total for code, weight in weights.items()}


def neighbour_vote(neighbours: Sequence[tuple[str | None, float]], k: int = NEIGHBOURS,
                   temperature: float = TEMPERATURE) -> dict[str, float]:
    """Share of each section among the k most similar listings, closer ones weighing more.

    `neighbours` are (section or None, cosine similarity); listings without a section do not vote.
    """
    voting = sorted(((s, sim) for s, sim in neighbours if s in INDUSTRY_SECTIONS), key=lambda x: -x[1])[:k]
    if not voting:
        return {}
    top = voting[0][1]
    votes: dict[str, float] = {}
    for section, similarity in voting:
        votes[section] = votes.get(section, 0.0) + math.exp((similarity - top) / temperature)
    total = sum(votes.values())
    return {code: weight / total for code, weight in votes.items()}


def guess_sections(neighbours: Sequence[tuple[str | None, float]], prototype_similarity: Mapping[str, float],
                   prototype_weight: float = PROTOTYPE_WEIGHT, k: int = NEIGHBOURS,
                   temperature: float = TEMPERATURE) -> list[tuple[str, float]]:
    """Sections with a probability-like score, best first (ties by code).

    The neighbours' vote and the softmax of the sections' similarities (section_similarity) are mixed;
    with no voting neighbour the section names decide alone.
    """
    vote = neighbour_vote(neighbours, k, temperature)
    described = _softmax({c: s for c, s in prototype_similarity.items() if c in INDUSTRY_SECTIONS}, temperature)
    weight = prototype_weight if vote else 1.0
    codes = set(vote) | set(described)
    mixed = {c: (1 - weight) * vote.get(c, 0.0) + weight * described.get(c, 0.0) for c in codes}
    return sorted(((c, s) for c, s in mixed.items() if s > 0), key=lambda x: (-x[1], x[0]))
