"""Guessing a text's GB/T 4754 industry section: a vote of its nearest listings, plus the similarity to
a description of each section.

Pure: the caller embeds the texts and finds the neighbours; this module only combines the evidence.
The site (matching/assistant.py) and scripts/eval_need_assistant.py call the same functions.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matchmaker.reference import INDUSTRY_DIVISIONS, INDUSTRY_SECTIONS, division_section

NEIGHBOURS = 15  # nearest listings that vote
TEMPERATURE = 0.02  # cosine similarities of e5 lie close together: a small temperature spreads them
PROTOTYPE_WEIGHT = 0.3  # share of the section descriptions when neighbours exist


def section_descriptions(lang: str = "zh") -> dict[str, str]:
    """What each section covers, as text to embed: its name and the names of its divisions."""
    english = lang.startswith("en")
    texts: dict[str, list[str]] = {s.code: [s.en if english else s.zh] for s in INDUSTRY_SECTIONS}
    for division in INDUSTRY_DIVISIONS:
        texts[division_section(division.code)].append(division.en if english else division.zh)
    return {code: ("; " if english else "，").join(parts) for code, parts in texts.items()}


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

    The neighbours' vote and the section descriptions' softmax are mixed; with no voting neighbour the
    descriptions decide alone.
    """
    vote = neighbour_vote(neighbours, k, temperature)
    described = _softmax({c: s for c, s in prototype_similarity.items() if c in INDUSTRY_SECTIONS}, temperature)
    weight = prototype_weight if vote else 1.0
    codes = set(vote) | set(described)
    mixed = {c: (1 - weight) * vote.get(c, 0.0) + weight * described.get(c, 0.0) for c in codes}
    return sorted(((c, s) for c, s in mixed.items() if s > 0), key=lambda x: (-x[1], x[0]))
