"""HybridRanker: mixing signals, compatibility checks in both directions, hard filters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from matchmaker.engine.index import VectorIndex
from matchmaker.engine.lexical import BM25Index
from matchmaker.engine.ranking import (
    HardFilters,
    HybridRanker,
    ListingDoc,
    Weights,
    compatibility_checks,
    gather_candidates,
)

NEED = ListingDoc(
    id=1, kind="need", title="旋转设备预测性维护", text="想在出故障前就知道，需要振动信号在线监测",
    industry_section="C", industry_division="39", trl=6, budget_min_fen=10_000_000,
    budget_max_fen=50_000_000, transfer_modes=frozenset({"license", "transfer"}), region="330100",
)
RESULT = ListingDoc(
    id=10, kind="result", title="旋转机械预测性维护系统", text="基于振动信号分析实现故障诊断与预警",
    industry_section="C", industry_division="39", trl=7, price_fen=30_000_000,
    transfer_modes=frozenset({"license"}), region="330106", ip_status="invention_granted",
)
INCOMPATIBLE = replace(
    RESULT, id=11, industry_section="A", industry_division="01", trl=3, price_fen=90_000_000,
    transfer_modes=frozenset({"equity"}), region="110101", ip_status="invention_filed",
)
UNSTATED = ListingDoc(id=12, kind="result", title="旋转机械预测性维护系统", text="振动信号")


def statuses(query: ListingDoc, candidate: ListingDoc) -> dict[str, str]:
    return {check.code: check.status for check in compatibility_checks(query, candidate)}


def test_compatible_candidate_ranks_above_incompatible_with_equal_text_scores() -> None:
    ranker = HybridRanker()
    equal = {10: 0.8, 11: 0.8, 12: 0.8}
    ranked = ranker.rank(NEED, [INCOMPATIBLE, UNSTATED, RESULT], equal, {10: 3.0, 11: 3.0, 12: 3.0})
    assert [m.id for m in ranked] == [10, 12, 11]  # unknowns sit between passes and fails
    assert ranked[0].structured == pytest.approx(1.0)
    assert ranked[-1].structured == pytest.approx(0.0)
    assert ranked[0].lexical == pytest.approx(1.0)  # normalised by the best lexical score


@pytest.mark.parametrize("direction", ["need_to_results", "result_to_needs"])
def test_checks_pass_and_fail_in_both_directions(direction: str) -> None:
    if direction == "need_to_results":
        good, bad = statuses(NEED, RESULT), statuses(NEED, INCOMPATIBLE)
    else:
        good, bad = statuses(RESULT, NEED), statuses(INCOMPATIBLE, NEED)
    assert good == dict.fromkeys(
        ("industry", "maturity", "price_budget", "transfer_modes", "region"), "pass")
    assert bad == dict.fromkeys(
        ("industry", "maturity", "price_budget", "transfer_modes", "region"), "fail")


def test_checks_report_unknown_when_a_side_does_not_say() -> None:
    assert set(statuses(NEED, UNSTATED).values()) == {"unknown"}
    negotiable = replace(RESULT, price_fen=None)
    assert statuses(NEED, negotiable)["price_budget"] == "unknown"
    assert statuses(negotiable, NEED)["price_budget"] == "unknown"


def test_maturity_compares_the_results_trl_with_the_needs_minimum() -> None:
    assert statuses(replace(NEED, trl=7), RESULT)["maturity"] == "pass"  # 7 >= 7
    assert statuses(replace(NEED, trl=8), RESULT)["maturity"] == "fail"
    # The roles come from the listing kinds, not from which one is the query.
    assert statuses(RESULT, replace(NEED, trl=8))["maturity"] == "fail"


def test_same_section_is_between_same_division_and_different_industry() -> None:
    ranker = HybridRanker()
    same_section = replace(RESULT, id=20, industry_division="35")
    other_industry = replace(RESULT, id=21, industry_section="A", industry_division="01")
    ranked = ranker.rank(NEED, [other_industry, same_section, RESULT], {}, {})
    assert [m.id for m in ranked] == [10, 20, 21]
    industry = {m.id: m.checks[0] for m in ranked}
    assert industry[20].status == "pass" and industry[20].detail["level"] == "section"
    assert industry[21].status == "fail"


def test_text_signals_still_decide_between_equally_compatible_candidates() -> None:
    other = replace(RESULT, id=13)
    ranked = HybridRanker().rank(NEED, [other, RESULT], {10: 0.9, 13: 0.5}, {10: 1.0, 13: 2.0})
    assert [m.id for m in ranked] == [10, 13]  # dense weighs more than lexical by default
    lexical_only = HybridRanker(Weights(dense=0.0, lexical=1.0, structured=0.0))
    assert [m.id for m in lexical_only.rank(NEED, [other, RESULT], {10: 0.9, 13: 0.5},
                                            {10: 1.0, 13: 2.0})] == [13, 10]


@pytest.mark.parametrize(("filters", "kept"), [
    (HardFilters(granted_patent_only=True), {10}),
    (HardFilters(min_trl=5), {10}),
    (HardFilters(within_budget=True), {10}),
    (HardFilters(region_prefix="33"), {10}),
    (HardFilters(region_prefix="11"), {11}),
    (HardFilters(), {10, 11, 12}),
])
def test_hard_filters_exclude_failing_and_unknown_candidates(filters: HardFilters,
                                                             kept: set[int]) -> None:
    ranked = HybridRanker().rank(NEED, [RESULT, INCOMPATIBLE, UNSTATED], {}, {}, filters=filters)
    assert {m.id for m in ranked} == kept


def test_free_text_query_uses_text_signals_only() -> None:
    ranked = HybridRanker().rank("预测性维护", [INCOMPATIBLE, RESULT], {10: 0.7, 11: 0.6},
                                 {10: 2.0, 11: 1.0}, filters=HardFilters(within_budget=True))
    assert [m.id for m in ranked] == [10, 11]  # within_budget has no budget to compare with
    assert ranked[0].checks == () and ranked[0].structured == 0.0
    assert ranked[0].score == pytest.approx(1.0)  # best of both signals among the candidates
    assert ranked[0].dense == pytest.approx(0.7)  # the raw cosine is kept for display
    assert ranked[0].strength == pytest.approx((0.5 * 0.7 + 0.35 * 1.0) / 0.85)
    assert "预测性维护" in ranked[0].shared_terms


def test_strength_stays_low_when_even_the_best_candidate_is_a_poor_match() -> None:
    other = replace(RESULT, id=13)
    poor = HybridRanker().rank(NEED, [other, RESULT], {10: 0.3, 13: 0.2}, {})
    good = HybridRanker().rank(NEED, [other, RESULT], {10: 0.95, 13: 0.2}, {})
    assert poor[0].id == good[0].id == 10
    assert poor[0].score == pytest.approx(good[0].score)  # the rank score is query-relative
    assert poor[0].strength < good[0].strength


def test_rank_returns_k_best_with_shared_terms() -> None:
    candidates = [replace(RESULT, id=100 + i) for i in range(20)]
    dense = {100 + i: i / 20 for i in range(20)}
    ranked = HybridRanker().rank(NEED, candidates, dense, {}, k=3)
    assert [m.id for m in ranked] == [119, 118, 117]
    assert {"预测性维护", "振动信号"} <= set(ranked[0].shared_terms)


def test_pairing_two_listings_of_the_same_kind_is_an_error() -> None:
    with pytest.raises(ValueError):
        compatibility_checks(RESULT, INCOMPATIBLE)


def test_gather_candidates_unions_dense_and_lexical_hits() -> None:
    vectors = np.eye(4, dtype=np.float32)
    index = VectorIndex.build([1, 2, 3, 4], vectors)
    bm25 = BM25Index.build({1: "电池回收", 2: "光伏组件", 3: "污水处理", 4: "预测性维护 振动"})
    found = gather_candidates(vectors[0], "预测性维护", index, bm25, n=1)
    assert set(found.ids) == {1, 4}  # 1 only by meaning, 4 only by keywords
    assert found.dense_scores[4] == pytest.approx(0.0)  # filled in exactly
    assert found.lexical_scores[4] > 0 and 1 not in found.lexical_scores
    restricted = gather_candidates(vectors[0], "预测性维护", index, bm25, n=1, allowed={2, 3})
    assert set(restricted.ids) <= {2, 3}
