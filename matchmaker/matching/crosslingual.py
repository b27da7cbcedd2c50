"""English (Latin-script) queries matched on the catalogue's Chinese terms (engine.crosslingual).

A worker keeps one term table per side under INDEX_DIR/terms-<side>/ (job "matching.refresh_terms",
and `flask index terms`): the CJK terms of that side's BM25 vocabulary embedded as queries. Only terms
new since the last table are embedded. Web processes memory-map the table and reload it when the file
changes; without a table (a fresh install before the first run) English queries simply get no
translated terms.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from matchmaker.engine.crosslingual import TermTable, build_table, candidate_terms, latin_grams
from matchmaker.matching import embedding, index

log = logging.getLogger(__name__)

RELOAD_CHECK_SECONDS = 30.0
_lock = threading.Lock()
_tables: dict[Path, tuple[float, float, TermTable | None]] = {}  # folder -> (checked at, file mtime, table)


def table_dir(side: str) -> Path:
    return index.index_dir() / f"terms-{side}"


def refresh_tables(sides: tuple[str, ...] = index.SIDES) -> dict[str, Any]:
    """Bring each side's term table up to the current BM25 vocabulary; embeds only the new terms."""
    embedder = embedding.get_embedder()
    report: dict[str, Any] = {}
    for side in sides:
        terms = candidate_terms(index.reader_lexical(side).idf)
        old = TermTable.load(table_dir(side))
        if old is not None and old.model != embedder.info.name:
            old = None  # another model's vectors are no use
        if old is not None and old.terms == terms:
            report[side] = {"terms": len(terms), "embedded": 0}
            continue
        known = {term: row for row, term in enumerate(old.terms)} if old is not None else {}
        new = [term for term in terms if term not in known]
        vectors = np.zeros((len(terms), embedder.info.dim), dtype=np.float32)
        kept = [(row, known[term]) for row, term in enumerate(terms) if term in known]
        if kept:
            vectors[[row for row, _ in kept]] = old.vectors[[old_row for _, old_row in kept]]
        if new:
            vectors[[row for row, term in enumerate(terms) if term not in known]] = build_table(
                new, embedder.embed_queries, embedder.info.name).vectors
        TermTable(terms, vectors, embedder.info.name).save(table_dir(side))
        with _lock:
            _tables.pop(table_dir(side), None)  # this process reads the new table at once
        report[side] = {"terms": len(terms), "embedded": len(new)}
        log.info("term table %s: %d terms, %d embedded", side, len(terms), len(new))
    return report


def reader_table(side: str) -> TermTable | None:
    """This process's copy of a side's term table, reloaded when the worker wrote a new one."""
    now, folder = time.monotonic(), table_dir(side)
    with _lock:
        checked, mtime, table = _tables.get(folder, (0.0, -1.0, None))
        if folder in _tables and now - checked < RELOAD_CHECK_SECONDS:
            return table
        path = folder / "terms.json"
        current = path.stat().st_mtime if path.exists() else -1.0
        if current != mtime:
            table = TermTable.load(folder) if current >= 0 else None
        _tables[folder] = (now, current, table)
        return table


def query_terms(side: str, text: str | None, table: TermTable | None = None) -> list[str]:
    """The catalogue terms an English query's words and word pairs translate to ([] without any)."""
    grams = latin_grams(text)
    if not grams:
        return []
    table = table if table is not None else reader_table(side)
    embedder = embedding.get_embedder()
    if table is None or table.model != embedder.info.name:
        return []
    return table.translate(np.stack([embedding.query_vector(gram) for gram in grams]))
