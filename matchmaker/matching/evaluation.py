"""Offline evaluation of the site's own ranking code on a labelled set (recall@k, MRR@k, nDCG@k).

Listings come from JSON lines files, relevance from TREC qrels; vectors are cached under var/eval/cache
so a second run only ranks.
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flask import current_app

from matchmaker.config import VAR_DIR
from matchmaker.engine import ranking
from matchmaker.engine.calibration import Calibration, expected_calibration_error
from matchmaker.engine.calibration import fit as calibration_fit
from matchmaker.engine.crosslingual import TermTable, build_table, candidate_terms
from matchmaker.engine.index import VectorIndex
from matchmaker.engine.lexical import BM25Index
from matchmaker.listings.search import match_terms
from matchmaker.matching import crosslingual, embedding, matches
from matchmaker.reference import default_trl

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class EvalListing:
    """One listing read from an evaluation file; `number` is the int id the ranking code sees."""

    number: int
    key: str
    fields: dict[str, Any]

    @property
    def text(self) -> str:
        return embedding.listing_text(self.fields.get("title"), self.fields.get("keywords"),
                                      self.fields.get("summary"), self.fields.get("description"))


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error})") from None
            if "id" not in row:
                raise ValueError(f"{path}:{number}: no id")
            yield row


def load_listings(path: Path) -> list[EvalListing]:
    return [EvalListing(number, str(row["id"]), row) for number, row in enumerate(_read_jsonl(path), 1)]


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TREC qrels: `need_id 0 result_id grade` per line (tabs or spaces)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise ValueError(f"{path}:{number}: expected 4 columns, got {len(parts)}")
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def cache_dir() -> Path:
    return Path(current_app.config.get("EVAL_CACHE_DIR") or VAR_DIR / "eval" / "cache")


def embed_cached(texts: list[str], role: str) -> np.ndarray:
    """Embed texts as passages or queries, reusing vectors cached by content hash."""
    embedder = embedding.get_embedder()
    info = embedder.info
    cache = embedding.VectorFileCache(cache_dir() / f"{_slug(info.name)}-{info.backend}-{role}.npz")
    embed = embedder.embed_passages if role == "passage" else embedder.embed_queries
    return cache.embed(embed, texts, info.dim)


def metrics_at_k(ranked: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int) -> dict[str, float]:
    """recall@k, MRR@k, nDCG@k (gain 2^grade - 1) and P@k averaged over the queries that have at least
    one relevant item; `unjudged@k` counts top-k documents nobody judged (they count as not relevant),
    over every ranked query, and `no_relevant` the judged queries with nothing relevant."""
    recall = mrr = ndcg = precision = 0.0
    queries = [q for q, rels in qrels.items() if any(g > 0 for g in rels.values())]
    for query in queries:
        rels = {doc: grade for doc, grade in qrels[query].items() if grade > 0}
        top = ranked.get(query, [])[:k]
        hits = [doc for doc in top if doc in rels]
        recall += len(hits) / len(rels)
        precision += len(hits) / k
        mrr += next((1.0 / rank for rank, doc in enumerate(top, 1) if doc in rels), 0.0)
        dcg = sum((2 ** rels[doc] - 1) / math.log2(rank + 1) for rank, doc in enumerate(top, 1) if doc in rels)
        ideal = sorted(rels.values(), reverse=True)[:k]
        idcg = sum((2 ** grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(ideal, 1))
        ndcg += dcg / idcg if idcg else 0.0
    n = len(queries) or 1
    unjudged = sum(1 for query, docs in ranked.items() for doc in docs[:k] if doc not in qrels.get(query, {}))
    return {f"ndcg@{k}": ndcg / n, f"recall@{k}": recall / n, f"p@{k}": precision / n, f"mrr@{k}": mrr / n,
            "queries": len(queries), "no_relevant": sum(1 for q in qrels if q not in queries),
            f"unjudged@{k}": unjudged}


def calibration_report(estimates: list[tuple[str, str, float, bool]], qrels: dict[str, dict[str, int]],
                       bins: int = 10) -> dict[str, float | int | None]:
    """How honest the shown estimates are, over every (query, doc, estimate, strong) shown.

    strong_precision: share of suggestions labelled strong that were judged relevant (grade >= 1);
    strong_queries: share of queries that got at least one strong label; ece: expected calibration
    error of the estimate against relevance over judged suggestions (equal-width bins).
    """
    judged = [(q, d, p, s) for q, d, p, s in estimates if d in qrels.get(q, {})]
    strong = [(q, d) for q, d, _p, s in judged if s]
    relevant = sum(1 for q, d in strong if qrels[q][d] > 0)
    queries = {q for q, _d, _p, _s in estimates}
    strong_queries = {q for q, _d, _p, s in estimates if s}
    ece = expected_calibration_error([p for _q, _d, p, _s in judged],
                                     [int(qrels[q][d] > 0) for q, d, _p, _s in judged], bins)
    return {"strong_precision": relevant / len(strong) if strong else None, "strong_labels": len(strong),
            "strong_queries": len(strong_queries) / len(queries) if queries else 0.0,
            "ece": ece if judged else None}


def _doc(item: EvalListing, kind: str) -> ranking.ListingDoc:
    fields = item.fields
    modes = fields.get("transfer_modes") or []
    industry = fields.get("industry") or ""
    section, division = (industry[:1] or None, industry[1:3] or None) if industry[:1].isalpha() else (None, None)
    return ranking.ListingDoc(
        id=item.number, kind=kind, title=fields.get("title") or "",
        text=embedding.listing_text(None, None, fields.get("summary"), fields.get("description")),
        keywords=tuple(fields.get("keywords") or ()), industry_section=section, industry_division=division,
        trl=default_trl(fields.get("maturity")), transfer_modes=frozenset(modes))


def build_corpus(results: list[EvalListing]) -> matches.Corpus:
    """The same Corpus the site searches, built from files instead of the database."""
    vectors = embed_cached([r.text for r in results], "passage")
    ids = np.array([r.number for r in results], dtype=np.int64)
    index = VectorIndex.build(ids, vectors,
                              approx_threshold=int(current_app.config.get("EXACT_SEARCH_MAX", 50_000)))
    tokens = {r.number: matches.lexical_tokens(r.fields.get("title"), r.fields.get("keywords"),
                                                r.fields.get("summary"), r.fields.get("description"))
              for r in results}
    docs = {r.number: _doc(r, "result") for r in results}
    return matches.Corpus(index, BM25Index(tokens), lambda wanted: {i: docs[i] for i in wanted if i in docs})


@dataclass(frozen=True)
class EvalSet:
    """One set of queries judged against the same results: a name, a needs file and its qrels."""

    name: str
    needs: Path
    qrels: Path


def parse_sets(specs: Iterable[str], needs: Path | None = None, qrels: Path | None = None) -> list[EvalSet]:
    """EvalSets from "NAME=NEEDS:QRELS" strings, plus one from a lone needs/qrels pair."""
    sets = []
    if needs is not None or qrels is not None:
        if needs is None or qrels is None:
            raise ValueError("--needs and --qrels go together")
        sets.append(EvalSet(needs.stem, needs, qrels))
    for spec in specs:
        name, _eq, files = spec.partition("=")
        needs_file, _colon, qrels_file = files.rpartition(":")
        if not (name and needs_file and qrels_file):
            raise ValueError(f"{spec!r}: write a set as NAME=NEEDS.jsonl:QRELS.tsv")
        for path in (needs_file, qrels_file):
            if not Path(path).is_file():
                raise ValueError(f"{spec!r}: no file {path}")
        sets.append(EvalSet(name, Path(needs_file), Path(qrels_file)))
    if not sets:
        raise ValueError("give --needs and --qrels, or at least one --set NAME=NEEDS:QRELS")
    return sets


def run(results_path: Path, needs_path: Path, qrels_path: Path, k: int = 10, mode: str = "hybrid"
        ) -> dict[str, Any]:
    """Rank the results for every need in the qrels and score the ranking; one JSON-able dict."""
    return run_sets(results_path, [EvalSet(needs_path.stem, needs_path, qrels_path)], k, mode)[0]


def term_table(corpus: matches.Corpus) -> TermTable:
    """The cross-language term table of the evaluation corpus (what the workers write for the site)."""
    terms = candidate_terms(corpus.lexical.idf)
    return build_table(terms, lambda texts: embed_cached(texts, "query"), embedding.get_embedder().info.name)


def _ranked_sets(results_path: Path, sets: list[EvalSet], k: int, mode: str
                 ) -> Iterator[tuple[EvalSet, dict[str, dict[str, int]], list[tuple[str, list[tuple[str, Any]]]]]]:
    """For each set: its qrels and, per need, the site's top k as (result key, Match), best first."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    results = load_listings(results_path)
    corpus = build_corpus(results)
    key_of = {r.number: r.key for r in results}
    terms_table = term_table(corpus)
    for eval_set in sets:
        qrels = load_qrels(eval_set.qrels)
        needs = [n for n in load_listings(eval_set.needs) if n.key in qrels]
        # A set is scored on its own needs: a rewrite file covers only some of the judged needs.
        qrels = {need.key: qrels[need.key] for need in needs}
        if not needs:
            raise ValueError(f"{eval_set.needs}: no need of this file is in {eval_set.qrels}")
        query_vectors = embed_cached([n.text for n in needs], "query")
        # A need that is only a title (the pairs set) has no title signal, as on the site.
        titles = [t if (t := str(n.fields.get("title") or "").strip()) != n.text.strip() else "" for n in needs]
        title_vectors = embed_cached([t for t in titles if t], "query")
        title_of = dict(zip([t for t in titles if t], title_vectors, strict=True))
        ranked = []
        for need, qvec, title in zip(needs, query_vectors, titles, strict=True):
            terms = match_terms(need.text) + crosslingual.query_terms("result", need.text, terms_table)
            found = matches.rank_corpus(corpus, _doc(need, "need"), qvec, terms, k, mode=mode,
                                        title_vec=title_of.get(title))
            ranked.append((need.key, [(key_of[m.id], m) for m in found]))
        yield eval_set, qrels, ranked


def run_sets(results_path: Path, sets: list[EvalSet], k: int = 10, mode: str = "hybrid",
             run_out: Path | None = None) -> list[dict[str, Any]]:
    """Rank the results for the needs of each set with the site's code; one report per set.

    Each report has the ranking metrics and the calibration figures of the estimates the site shows.
    With `run_out`, every set's top-k goes to that file in TREC run format (query ids prefixed by
    nothing: sets share need ids when they are rewrites of the same needs, so the tag names the set).
    """
    reports = []
    run_lines: list[str] = []
    for eval_set, qrels, ranked in _ranked_sets(results_path, sets, k, mode):
        shown = [(need, doc, m.relevance, m.strong) for need, found in ranked for doc, m in found]
        report = metrics_at_k({need: [doc for doc, _m in found] for need, found in ranked}, qrels, k)
        reports.append({"set": eval_set.name, "mode": mode, "k": k, **report,
                        **calibration_report(shown, qrels)})
        if run_out is not None:
            tag = f"{mode}-{eval_set.name}"
            run_lines += [f"{need} Q0 {doc} {rank} {m.score:.6f} {tag}\n"
                          for need, found in ranked for rank, (doc, m) in enumerate(found, 1)]
    if run_out is not None:
        run_out.write_text("".join(run_lines), encoding="utf-8")
    return reports


def fit_calibration(results_path: Path, sets: list[EvalSet], depth: int = 30, folds: int = 5, l2: float = 1.0,
                    strong_at: float | None = None, shown_at: float | None = None,
                    version: str = "") -> Calibration:
    """Refit the relevance estimate on the judged pairs among each need's top `depth`, with its figures.

    The features are the current calibration's. Figures come from cross-validation over needs (each
    need's pairs are estimated by a model fitted without that need), so they say how the estimate
    does on needs it has not seen: ECE, how many strong labels and how many of them were relevant,
    and the share of relevant pairs the list still shows (estimate >= shown_at).
    """
    current = matches.calibration()
    strong_at = current.strong_at if strong_at is None else strong_at
    shown_at = current.shown_at if shown_at is None else shown_at
    pairs: list[tuple[str, list[float], int]] = []  # (need, features, relevant)
    for _set, qrels, ranked in _ranked_sets(results_path, sets, depth, "hybrid"):
        for need, found in ranked:
            judged = qrels.get(need, {})
            pairs += [(need, [float(m.features.get(f, 0.0)) for f in current.features], int(judged[doc] > 0))
                      for doc, m in found if doc in judged]
    labels = {y for _n, _x, y in pairs}
    if labels != {0, 1}:
        raise ValueError("fitting needs judged pairs of both grades (relevant and not) in the top "
                         f"{depth}; found {len(pairs)} judged pairs")
    needs = sorted({n for n, _x, _y in pairs})
    fold_of = {need: i % max(2, min(folds, len(needs))) for i, need in enumerate(needs)}
    estimates: list[tuple[float, int]] = []
    for fold in set(fold_of.values()):
        train = [(x, y) for n, x, y in pairs if fold_of[n] != fold]
        test = [(x, y) for n, x, y in pairs if fold_of[n] == fold]
        if not test or len({y for _x, y in train}) < 2:
            continue
        model = calibration_fit(current.features, np.array([x for x, _y in train]),
                                np.array([y for _x, y in train]), l2)
        estimates += [(model.estimate(dict(zip(current.features, x, strict=True))), y) for x, y in test]
    strong = [y for p, y in estimates if p >= strong_at]
    relevant = [p for p, y in estimates if y]
    figures = {
        "judged_pairs": len(pairs), "relevant_pairs": sum(y for _n, _x, y in pairs), "needs": len(needs),
        "cv_ece": round(expected_calibration_error([p for p, _y in estimates], [y for _p, y in estimates]), 4),
        "cv_strong_labels": len(strong),
        "cv_strong_precision": round(sum(strong) / len(strong), 3) if strong else None,
        "cv_relevant_above_shown_at": round(sum(p >= shown_at for p in relevant) / len(relevant), 3)
        if relevant else None,
    }
    return calibration_fit(current.features, np.array([x for _n, x, _y in pairs]),
                           np.array([y for _n, _x, y in pairs]), l2, strong_at=strong_at, shown_at=shown_at,
                           version=version or f"refit-depth{depth}", figures=figures)
