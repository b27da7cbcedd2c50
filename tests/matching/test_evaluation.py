"""The evaluation command on a small fixed set with known answers, and the metrics it reports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from matchmaker.matching.evaluation import load_qrels, metrics_at_k

DATA = Path(__file__).parent / "data"


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "EVAL_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_eval_command_prints_one_json_object(runner, mode):
    result = runner.invoke(args=["eval", "--results", str(DATA / "results.jsonl"), "--needs",
                                 str(DATA / "needs.jsonl"), "--qrels", str(DATA / "qrels.tsv"), "--k", "10",
                                 "--mode", mode])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["queries"] == 3 and report["mode"] == mode
    assert set(report) >= {"recall@10", "mrr@10", "ndcg@10"}
    if mode != "lexical":  # the English need shares no Chinese words; meaning still finds its answer
        assert report["recall@10"] == 1.0 and report["mrr@10"] == 1.0


def test_eval_command_refuses_a_malformed_file(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no id"}\n', encoding="utf-8")
    result = runner.invoke(args=["eval", "--results", str(bad), "--needs", str(DATA / "needs.jsonl"),
                                 "--qrels", str(DATA / "qrels.tsv")])
    assert result.exit_code != 0 and "no id" in result.output


@pytest.mark.parametrize(("ranked", "expected"), [
    ({"q1": ["a", "x"], "q2": ["y", "b"]}, {"recall@2": 1.0, "mrr@2": 0.75}),
    ({"q1": ["x", "y"], "q2": ["b"]}, {"recall@2": 0.5, "mrr@2": 0.5}),
    ({}, {"recall@2": 0.0, "mrr@2": 0.0}),
])
def test_metrics(ranked, expected):
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    report = metrics_at_k(ranked, qrels, 2)
    assert {k: report[k] for k in expected} == pytest.approx(expected)
    assert report["queries"] == 2


def test_ndcg_of_a_perfect_ranking_is_one():
    assert metrics_at_k({"q": ["a", "b"]}, {"q": {"a": 2, "b": 1}}, 10)["ndcg@10"] == pytest.approx(1.0)


def test_qrels_reader(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("n1 0 r1 1\nn1\t0\tr2\t0\n\n", encoding="utf-8")
    assert load_qrels(path) == {"n1": {"r1": 1, "r2": 0}}


def test_eval_command_runs_several_sets_and_writes_a_trec_run(runner, tmp_path):
    run_file = tmp_path / "top.run"
    spec = f"{DATA / 'needs.jsonl'}:{DATA / 'qrels.tsv'}"
    result = runner.invoke(args=["eval", "--results", str(DATA / "results.jsonl"), "--set", f"first={spec}",
                                 "--set", f"second={spec}", "--k", "2", "--run-out", str(run_file)])
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [r["set"] for r in reports] == ["first", "second"]
    assert set(reports[0]) >= {"ndcg@2", "recall@2", "p@2", "unjudged@2", "strong_precision", "ece"}
    lines = [line.split() for line in run_file.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2 * 3 * 2  # two sets, three needs, top two each
    assert {parts[1] for parts in lines} == {"Q0"} and {parts[3] for parts in lines} == {"1", "2"}
    assert {parts[5] for parts in lines} == {"hybrid-first", "hybrid-second"}


@pytest.mark.parametrize("spec", ["no-equals-sign", "name=only-one-file.jsonl", "name=missing.jsonl:missing.tsv"])
def test_eval_command_explains_a_malformed_set(runner, spec):
    result = runner.invoke(args=["eval", "--results", str(DATA / "results.jsonl"), "--set", spec])
    assert result.exit_code != 0
    assert "NAME=NEEDS" in result.output or "no file missing" in result.output


def test_eval_command_refits_the_relevance_estimate_with_cross_validated_figures(runner, tmp_path):
    """Every result judged for every need (relevant as in qrels.tsv, the rest not): the refit learns that
    the relevant pairs score higher, and writes a calibration the site can load."""
    from matchmaker.engine.calibration import Calibration
    from matchmaker.matching import matches

    relevant = load_qrels(DATA / "qrels.tsv")
    results = [json.loads(line)["id"] for line in (DATA / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    full = tmp_path / "judged.tsv"
    lines = [f"{need}\t0\t{doc}\t{relevant[need].get(doc, 0)}\n" for need in relevant for doc in results]
    full.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "calibration.json"
    result = runner.invoke(args=["eval", "--results", str(DATA / "results.jsonl"), "--needs", str(DATA / "needs.jsonl"),
                                 "--qrels", str(full), "--fit-calibration", str(out), "--fit-depth", "5"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert (figures["judged_pairs"], figures["relevant_pairs"], figures["needs"]) == (15, 3, 3)
    assert figures["calibration"] == str(out) and 0.0 <= figures["cv_ece"] <= 1.0
    fitted = Calibration.load(out)
    assert fitted.features == matches.calibration().features and fitted.figures["judged_pairs"] == 15
    # The refit puts what was judged relevant above what was not, on the pairs it was fitted on.
    from matchmaker.matching.evaluation import EvalSet, _ranked_sets

    estimates = {0: [], 1: []}
    for _set, qrels, ranked in _ranked_sets(DATA / "results.jsonl", [EvalSet("t", DATA / "needs.jsonl", full)], 5,
                                            "hybrid"):
        for need, found in ranked:
            for doc, match in found:
                estimates[int(qrels[need][doc] > 0)].append(fitted.estimate(match.features))
    assert min(estimates[1]) > max(estimates[0])


def test_refitting_without_both_grades_is_refused_with_a_reason(runner, tmp_path):
    out = tmp_path / "calibration.json"
    result = runner.invoke(args=["eval", "--results", str(DATA / "results.jsonl"), "--needs", str(DATA / "needs.jsonl"),
                                 "--qrels", str(DATA / "qrels.tsv"), "--fit-calibration", str(out)])
    assert result.exit_code != 0 and "both grades" in result.output and not out.exists()
