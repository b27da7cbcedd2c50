"""Offline evaluation of the site's own ranking code on a labelled set (recall@k, MRR@k, nDCG@k).

Listings come from JSON lines files, relevance from TREC qrels; vectors are cached under var/eval/cache
so a second run only ranks.
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flask import current_app

from matchmaker.config import VAR_DIR
from matchmaker.engine import ranking
from matchmaker.engine.index import VectorIndex
from matchmaker.engine.lexical import BM25Index
from matchmaker.listings.search import match_terms
from matchmaker.matching import embedding, matches
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
    """recall@k, MRR@k and nDCG@k averaged over the queries that have at least one relevant item."""
    recall = mrr = ndcg = 0.0
    queries = [q for q, rels in qrels.items() if any(g > 0 for g in rels.values())]
    for query in queries:
        rels = {doc: grade for doc, grade in qrels[query].items() if grade > 0}
        top = ranked.get(query, [])[:k]
        hits = [doc for doc in top if doc in rels]
        recall += len(hits) / len(rels)
        mrr += next((1.0 / rank for rank, doc in enumerate(top, 1) if doc in rels), 0.0)
        dcg = sum((2 ** rels[doc] - 1) / math.log2(rank + 1) for rank, doc in enumerate(top, 1) if doc in rels)
        ideal = sorted(rels.values(), reverse=True)[:k]
        idcg = sum((2 ** grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(ideal, 1))
        ndcg += dcg / idcg if idcg else 0.0
    n = len(queries) or 1
    return {f"recall@{k}": recall / n, f"mrr@{k}": mrr / n, f"ndcg@{k}": ndcg / n, "queries": len(queries)}


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


def run(results_path: Path, needs_path: Path, qrels_path: Path, k: int = 10, mode: str = "hybrid"
        ) -> dict[str, Any]:
    """Rank the results for every need in the qrels and score the ranking; one JSON-able dict."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    results = load_listings(results_path)
    needs = load_listings(needs_path)
    qrels = load_qrels(qrels_path)
    needs = [n for n in needs if n.key in qrels]
    corpus = build_corpus(results)
    query_vectors = embed_cached([n.text for n in needs], "query")
    key_of = {r.number: r.key for r in results}
    ranked: dict[str, list[str]] = {}
    for need, qvec in zip(needs, query_vectors, strict=True):
        found = matches.rank_corpus(corpus, _doc(need, "need"), qvec, match_terms(need.text), k, mode=mode)
        ranked[need.key] = [key_of[m.id] for m in found]
    report = metrics_at_k(ranked, qrels, k)
    return {"mode": mode, "k": k, **report}
