"""Hybrid ranking of listings: dense similarity, BM25 and structured compatibility, with reasons.

One implementation serves the site (need → results, result → needs, free-text search) and the
evaluation command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from matchmaker.engine.calibration import Calibration
from matchmaker.engine.index import VectorIndex
from matchmaker.engine.lexical import BM25Index
from matchmaker.engine.reasons import shared_terms

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
CHECK_CODES = ("industry", "maturity", "price_budget", "transfer_modes", "region")


@dataclass(frozen=True)
class ListingDoc:
    """One side's listing as the ranker sees it (a research result or a technical need)."""

    id: int
    kind: str  # "result" | "need"
    title: str
    text: str
    keywords: tuple[str, ...] = ()
    industry_section: str | None = None  # GB/T 4754 section letter, e.g. "C"
    industry_division: str | None = None  # 2-digit division code, e.g. "39"
    tech_field: str | None = None
    trl: int | None = None  # results: the result's TRL 1-9; needs: the minimum TRL wanted
    price_fen: int | None = None  # results: asking price in fen, None = negotiable (面议)
    budget_min_fen: int | None = None  # needs
    budget_max_fen: int | None = None  # needs
    transfer_modes: frozenset[str] = frozenset()
    region: str | None = None  # GB/T 2260 6-digit code
    ip_status: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("result", "need"):
            raise ValueError(f"kind must be 'result' or 'need', not {self.kind!r}")

    @property
    def full_text(self) -> str:
        """What BM25 and the embedder read: title, keywords, then the body."""
        return "\n".join(part for part in (self.title, " ".join(self.keywords), self.text) if part)


@dataclass(frozen=True)
class Weights:
    """How much each signal counts; check weights are relative to each other.

    The text weights were tuned on the need→solution pairs (docs/evaluation.md): dense and BM25 are
    both rescaled within the query's candidates, and BM25 at ~0.7 of dense ranked best.
    """

    dense: float = 0.5
    lexical: float = 0.35
    structured: float = 0.15
    # The query's title embedded on its own, against each candidate: a need's title names the
    # technical object without the boilerplate of its body (nDCG@10 on judged Zhibei needs
    # 0.52 → 0.58, docs/evaluation.md). Only listing queries have a title.
    dense_title: float = 0.0
    industry: float = 0.35
    maturity: float = 0.2
    price_budget: float = 0.2
    transfer_modes: float = 0.15
    region: float = 0.1
    same_section_credit: float = 0.5  # same GB/T 4754 section, different division
    unknown_credit: float = 0.5  # a check we cannot decide neither helps nor sinks a candidate

    def check_weight(self, code: str) -> float:
        return float(getattr(self, code))


@dataclass(frozen=True)
class HardFilters:
    """Exclusions the user asked for; a candidate whose value is unknown is excluded.

    ``granted_patent_only`` and ``min_trl`` look at the result of each pair, ``within_budget``
    needs both a result and a need, ``region_prefix`` looks at the candidate. A filter that has
    nothing to look at (e.g. ``within_budget`` in a free-text search) does not apply.
    """

    granted_patent_only: bool = False
    min_trl: int | None = None
    within_budget: bool = False
    region_prefix: str | None = None


@dataclass(frozen=True)
class Check:
    code: str  # one of CHECK_CODES
    status: str  # "pass" | "fail" | "unknown"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    id: int
    score: float  # ranks candidates of one query; relative to the other candidates
    dense: float  # raw cosine, comparable across queries
    lexical: float  # normalised to [0, 1] within the query
    structured: float  # 0 for free-text queries
    checks: tuple[Check, ...]
    shared_terms: tuple[str, ...]
    # The same mix with the raw cosine instead of the rescaled one (kept for the feedback export).
    strength: float = 0.0
    # Calibrated probability that a broker would call this suggestion relevant; comparable across
    # queries, so it is what the site shows as a percentage and what "strong" thresholds compare.
    relevance: float = 0.0
    strong: bool = False
    # The calibration's inputs for this pair (empty without a calibration): what a refit learns from.
    features: Mapping[str, float] = field(default_factory=dict, compare=False, repr=False)


# -- compatibility checks on a (result, need) pair ---------------------------------------------

def _industry(result: ListingDoc, need: ListingDoc) -> Check:
    detail = {"result_section": result.industry_section,
              "result_division": result.industry_division,
              "need_section": need.industry_section, "need_division": need.industry_division}
    if result.industry_division and result.industry_division == need.industry_division:
        return Check("industry", PASS, {**detail, "level": "division"})
    if result.industry_section and result.industry_section == need.industry_section:
        return Check("industry", PASS, {**detail, "level": "section"})
    if result.industry_section and need.industry_section:
        return Check("industry", FAIL, {**detail, "level": "none"})
    return Check("industry", UNKNOWN, {**detail, "level": None})


def _maturity(result: ListingDoc, need: ListingDoc) -> Check:
    detail = {"result_trl": result.trl, "need_min_trl": need.trl}
    if result.trl is None or need.trl is None:
        return Check("maturity", UNKNOWN, detail)
    return Check("maturity", PASS if result.trl >= need.trl else FAIL, detail)


def _price_budget(result: ListingDoc, need: ListingDoc) -> Check:
    detail = {"price_fen": result.price_fen, "budget_min_fen": need.budget_min_fen,
              "budget_max_fen": need.budget_max_fen, "negotiable": result.price_fen is None}
    if result.price_fen is None or need.budget_max_fen is None:
        return Check("price_budget", UNKNOWN, detail)
    return Check("price_budget", PASS if result.price_fen <= need.budget_max_fen else FAIL, detail)


def _transfer_modes(result: ListingDoc, need: ListingDoc) -> Check:
    common = sorted(result.transfer_modes & need.transfer_modes)
    detail = {"common": common, "result_modes": sorted(result.transfer_modes),
              "need_modes": sorted(need.transfer_modes)}
    if not result.transfer_modes or not need.transfer_modes:
        return Check("transfer_modes", UNKNOWN, detail)
    return Check("transfer_modes", PASS if common else FAIL, detail)


def _region(result: ListingDoc, need: ListingDoc) -> Check:
    detail = {"result_region": result.region, "need_region": need.region}
    if not result.region or not need.region:
        return Check("region", UNKNOWN, detail)
    same_province = result.region[:2] == need.region[:2]
    return Check("region", PASS if same_province else FAIL, detail)


_CHECKS: tuple[Callable[[ListingDoc, ListingDoc], Check], ...] = (
    _industry, _maturity, _price_budget, _transfer_modes, _region)


def pair_roles(query: ListingDoc, candidate: ListingDoc) -> tuple[ListingDoc, ListingDoc]:
    """(result, need) of a query and a candidate from the other side, in either direction."""
    if query.kind == candidate.kind:
        raise ValueError(f"cannot pair two listings of kind {query.kind!r}")
    return (candidate, query) if query.kind == "need" else (query, candidate)


def compatibility_checks(query: ListingDoc, candidate: ListingDoc) -> tuple[Check, ...]:
    result, need = pair_roles(query, candidate)
    return tuple(check(result, need) for check in _CHECKS)


# -- ranking ------------------------------------------------------------------------------------

def _passes_filters(query: ListingDoc | str, candidate: ListingDoc, filters: HardFilters) -> bool:
    if filters.region_prefix and not (candidate.region or "").startswith(filters.region_prefix):
        return False
    if isinstance(query, ListingDoc):
        result, need = pair_roles(query, candidate)
    else:
        result, need = (candidate, None) if candidate.kind == "result" else (None, candidate)
    if result is not None:
        if filters.granted_patent_only and result.ip_status != "invention_granted":
            return False
        if filters.min_trl is not None and (result.trl is None or result.trl < filters.min_trl):
            return False
        if (filters.within_budget and need is not None
                and _price_budget(result, need).status != PASS):
            return False
    return True


@dataclass(frozen=True)
class _Scale:
    """Per-query rescaling: dense min-max over the candidates, BM25 divided by the best."""

    dense_low: float
    dense_high: float
    top_lexical: float
    title_low: float = 0.0
    title_high: float = 0.0

    def dense(self, raw: float) -> float:
        # e5 squeezes cosines into ~0.75-0.95; stretching them over the candidate set lets the
        # dense signal separate candidates as much as BM25 does (recall@10 0.903 → 0.926).
        return _stretch(raw, self.dense_low, self.dense_high)

    def title(self, raw: float) -> float:
        return _stretch(raw, self.title_low, self.title_high)

    def lexical(self, raw: float) -> float:
        return raw / self.top_lexical if self.top_lexical > 0 else 0.0


def _stretch(raw: float, low: float, high: float) -> float:
    if high > low:
        return (raw - low) / (high - low)
    return 1.0 if high > 0 else 0.0


def _industry_credit(checks: Sequence[Check]) -> float:
    """1 same division, 0.5 same section, 0.25 unknown, 0 different (0.25 for free text)."""
    for check in checks:
        if check.code == "industry":
            if check.status == PASS:
                return 1.0 if check.detail.get("level") == "division" else 0.5
            return 0.0 if check.status == FAIL else 0.25
    return 0.25


def _clipped(scores: Mapping[int, float], candidate_id: int) -> float:
    return float(np.clip(scores.get(candidate_id, 0.0), 0.0, 1.0))


class HybridRanker:
    """Mixes per-query-rescaled dense cosine and BM25 with structured compatibility."""

    def __init__(self, weights: Weights = Weights(), idf: Mapping[str, float] | None = None,
                 shared_terms_limit: int = 8, calibration: Calibration | None = None) -> None:
        self.weights = weights
        self.idf = idf
        self.shared_terms_limit = shared_terms_limit
        self.calibration = calibration

    def structured_score(self, checks: Sequence[Check]) -> float:
        credit = {PASS: 1.0, FAIL: 0.0, UNKNOWN: self.weights.unknown_credit}
        total = sum(self.weights.check_weight(c.code) for c in checks)
        if not total:
            return 0.0
        earned = 0.0
        for check in checks:
            value = credit[check.status]
            if check.code == "industry" and check.detail.get("level") == "section":
                value = self.weights.same_section_credit
            earned += self.weights.check_weight(check.code) * value
        return earned / total

    def rank(self, query: ListingDoc | str, candidates: Sequence[ListingDoc],
             dense_scores: Mapping[int, float], lexical_scores: Mapping[int, float],
             k: int = 10, filters: HardFilters | None = None,
             signals: Mapping[str, Mapping[int, float]] | None = None,
             title_scores: Mapping[int, float] | None = None, reasons: bool = True) -> list[Match]:
        """Best k candidates, best first (ties by id). Missing scores count as 0.

        ``reasons=False`` leaves out the shared terms (what costs most per candidate), for callers that
        want only scores and calibration features, such as a refit of the calibration.

        ``title_scores`` are the cosines of the query's title with each candidate (listing queries);
        ``signals`` are further per-candidate features the calibration may use; the rank score does not.
        """
        filters = filters or HardFilters()
        kept = [c for c in candidates if _passes_filters(query, c, filters)]
        dense = [_clipped(dense_scores, c.id) for c in kept]
        titles = [_clipped(title_scores, c.id) for c in kept] if title_scores else []
        scale = _Scale(min(dense, default=0.0), max(dense, default=0.0),
                       max((lexical_scores.get(c.id, 0.0) for c in kept), default=0.0),
                       min(titles, default=0.0), max(titles, default=0.0))
        signals = {**(signals or {}), **({"dense_title": title_scores} if title_scores else {})}
        scored = [self._score(query, c, dense_scores, lexical_scores, scale, signals) for c in kept]
        scored.sort(key=lambda item: (-item[0].score, item[0].id))
        if not reasons:
            return [match for match, _candidate in scored[:k]]
        return [self._with_terms(query, match, candidate) for match, candidate in scored[:k]]

    def _score(self, query: ListingDoc | str, candidate: ListingDoc,
               dense_scores: Mapping[int, float], lexical_scores: Mapping[int, float],
               scale: _Scale, signals: Mapping[str, Mapping[int, float]]) -> tuple[Match, ListingDoc]:
        dense = _clipped(dense_scores, candidate.id)
        lexical = scale.lexical(lexical_scores.get(candidate.id, 0.0))
        if isinstance(query, ListingDoc):
            checks = compatibility_checks(query, candidate)
            structured = self.structured_score(checks)
        else:
            checks, structured = (), None
        title = _clipped(signals["dense_title"], candidate.id) if "dense_title" in signals else None
        score = self._mix(scale.dense(dense), lexical, structured,
                          None if title is None else scale.title(title))
        strength = self._mix(dense, lexical, structured)
        relevance, strong, features = 0.0, False, {}
        if self.calibration is not None:
            features = {"dense": dense, "dense_rel": scale.dense(dense), "lexical": lexical,
                        "structured": structured or 0.0, "industry": _industry_credit(checks),
                        # A free-text query is its own title.
                        "dense_title": dense, "title_rel": scale.dense(dense),
                        **{name: float(values.get(candidate.id, 0.0)) for name, values in signals.items()}}
            if title is not None:
                features["title_rel"] = scale.title(title)
            relevance = self.calibration.estimate(features)
            strong = relevance >= self.calibration.strong_at
        match = Match(candidate.id, score, dense, lexical, structured or 0.0, checks, (), strength, relevance, strong,
                      features)
        return match, candidate

    def _mix(self, dense: float, lexical: float, structured: float | None, title: float | None = None) -> float:
        w = self.weights
        if structured is None:
            # Free text has no structure: dense and lexical keep their relative weight.
            return (w.dense * dense + w.lexical * lexical) / ((w.dense + w.lexical) or 1.0)
        if title is None:
            # A query with no title of its own: the mix without the title term (dense and BM25 keep
            # the ratio they had before the title signal, which suits short, one-sentence needs).
            return w.dense * dense + w.lexical * lexical + w.structured * structured
        return w.dense * dense + w.dense_title * title + w.lexical * lexical + w.structured * structured

    def _with_terms(self, query: ListingDoc | str, match: Match, candidate: ListingDoc) -> Match:
        query_text = query.full_text if isinstance(query, ListingDoc) else query
        terms = shared_terms(query_text, candidate.full_text, self.shared_terms_limit, self.idf)
        return replace(match, shared_terms=terms)


# -- candidate generation -----------------------------------------------------------------------

@dataclass(frozen=True)
class Candidates:
    """Union of dense and BM25 hits, each id scored by both signals."""

    ids: tuple[int, ...]
    dense_scores: dict[int, float]
    lexical_scores: dict[int, float]


def gather_candidates(query_vec: np.ndarray, query_text: str | Iterable[str], vectors: VectorIndex,
                      bm25: BM25Index, n: int = 100, allowed: set[int] | None = None) -> Candidates:
    """Top-n by dense similarity ∪ top-n by BM25, so neither signal alone decides recall.

    Ids found by only one signal get their exact score from the other, so the ranker mixes
    like with like. ``allowed`` restricts both searches (e.g. to published listings).
    """
    query_terms = query_text if isinstance(query_text, str) else list(query_text)
    dense = dict(vectors.search(query_vec, n, allowed))
    lexical = dict(bm25.top(query_terms, n, allowed))
    dense_missing = [i for i in lexical if i not in dense]
    lexical_missing = [i for i in dense if i not in lexical]
    dense.update(vectors.similarity(query_vec, dense_missing))
    lexical.update(bm25.scores(query_terms, lexical_missing))
    ids = tuple(sorted(set(dense) | set(lexical)))
    return Candidates(ids, dense, lexical)
