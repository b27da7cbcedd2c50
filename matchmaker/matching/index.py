"""One vector index per side (results, needs), snapshotted under INDEX_DIR with a generation number.

Workers apply changes and announce each new snapshot in `index_states`; every other process notices the
generation move on its next search and loads the new file. A missing or corrupt snapshot is rebuilt from
the stored vectors (and logged), so the database is the only thing that must survive.
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from matchmaker.engine.index import CorruptSnapshotError, VectorIndex
from matchmaker.listings.search import published_filter
from matchmaker.matching import embedding
from models import IndexState, ListingVector, Session, listing_model, utcnow

log = logging.getLogger(__name__)

SIDES = ("result", "need")
KEEP_SNAPSHOTS = 3  # older files are deleted; a reader still loading one falls back to a rebuild


@dataclass
class LoadedIndex:
    path: str | None
    index: VectorIndex


# Per process: readers (searches) and the writer (jobs) hold separate copies, so an in-process job
# thread never mutates an index a request thread is searching.
_readers: dict[tuple[str, str, str], LoadedIndex] = {}
_writers: dict[tuple[str, str, str], LoadedIndex] = {}
_lock = threading.Lock()


def index_dir() -> Path:
    path = Path(current_app.config["INDEX_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(side: str, model_name: str) -> tuple[str, str, str]:
    return (str(index_dir()), side, model_name)


def _new_index(dim: int) -> VectorIndex:
    return VectorIndex(dim, approx_threshold=int(current_app.config.get("EXACT_SEARCH_MAX", 50_000)))


def searchable_filter(model: type) -> list[sa.ColumnElement[bool]]:
    """Published and not past its validity date: the only listings anyone is matched with."""
    return [published_filter(model)]


def build_from_vectors(side: str, model_name: str, dim: int) -> VectorIndex:
    """The index of every searchable listing of `side` that has a current vector of this model."""
    model = listing_model(side)
    stmt = (sa.select(ListingVector.listing_id, ListingVector.vector)
            .join(model, model.id == ListingVector.listing_id)
            .where(ListingVector.kind == side, ListingVector.model_name == model_name,
                   ListingVector.dim == dim, *searchable_filter(model))
            .order_by(ListingVector.listing_id))
    rows = Session.execute(stmt).all()
    if not rows:
        return _new_index(dim)
    ids = np.array([r.listing_id for r in rows], dtype=np.int64)
    vectors = np.stack([embedding.from_bytes(r.vector, dim) for r in rows])
    index = VectorIndex.build(ids, vectors, approx_threshold=int(current_app.config.get("EXACT_SEARCH_MAX", 50_000)))
    return index


def state_for(side: str, model_name: str) -> IndexState | None:
    return Session.scalar(sa.select(IndexState).where(IndexState.side == side, IndexState.model_name == model_name))


def _load_snapshot(state: IndexState | None, side: str, model_name: str, dim: int) -> LoadedIndex:
    """The index at `state`'s snapshot; rebuilt from stored vectors if the file is missing or damaged."""
    if state is not None and state.path:
        try:
            index = VectorIndex.load(index_dir() / state.path)
            if index.dim == dim:
                return LoadedIndex(state.path, index)
            log.warning("index snapshot %s has dimension %d, model has %d: rebuilding", state.path, index.dim, dim)
        except FileNotFoundError:
            log.warning("index snapshot %s is missing: rebuilding %s index from stored vectors", state.path, side)
        except CorruptSnapshotError as error:
            log.warning("index snapshot is corrupt (%s): rebuilding %s index from stored vectors", error, side)
    return LoadedIndex(state.path if state else None, build_from_vectors(side, model_name, dim))


def reader_index(side: str) -> VectorIndex:
    """The side's index as last announced in the database (reloaded when the generation moved)."""
    info = embedding.get_embedder().info
    state = state_for(side, info.name)
    key = _key(side, info.name)
    with _lock:
        loaded = _readers.get(key)
        wanted = state.path if state else None
        if loaded is None or loaded.path != wanted:
            loaded = _load_snapshot(state, side, info.name, info.dim)
            _readers[key] = loaded
        return loaded.index


def _locked_state(side: str, model_name: str, dim: int) -> IndexState:
    """The side's state row, write-locked for this transaction (PostgreSQL row lock, SQLite write lock)."""
    if state_for(side, model_name) is None:
        try:
            with Session.begin_nested():
                Session.add(IndexState(side=side, model_name=model_name, dim=dim, generation=0))
        except IntegrityError:
            pass  # another process created it first
    Session.execute(sa.update(IndexState)
                    .where(IndexState.side == side, IndexState.model_name == model_name)
                    .values(generation=IndexState.generation + 1))
    state = state_for(side, model_name)
    assert state is not None
    Session.refresh(state)
    return state


def apply_changes(side: str, upserts: dict[int, np.ndarray], removals: set[int]) -> IndexState:
    """Apply upserts and removals to the side's index, write a new snapshot and announce it.

    Flushes; the caller commits (until then, readers keep the previous generation).
    """
    info = embedding.get_embedder().info
    state = _locked_state(side, info.name, info.dim)
    loaded = _writer(state, side, info.name, info.dim)
    # Checked again under the lock: a close that committed while this batch was embedding wins.
    still_open = searchable_ids(side, list(upserts))
    removals = (set(removals) | (set(upserts) - still_open))
    upserts = {i: v for i, v in upserts.items() if i in still_open}
    if removals:
        loaded.index.remove(np.fromiter(removals, dtype=np.int64, count=len(removals)))
    if upserts:
        ids = np.fromiter(upserts, dtype=np.int64, count=len(upserts))
        loaded.index.upsert(ids, np.stack([upserts[i] for i in ids.tolist()]))
    _save(state, side, info.name, loaded)
    _writers[_key(side, info.name)] = loaded
    return state


def _writer(state: IndexState | None, side: str, model_name: str, dim: int) -> LoadedIndex:
    loaded = _writers.get(_key(side, model_name))
    if loaded is None or state is None or loaded.path != state.path:
        loaded = _load_snapshot(state, side, model_name, dim)
        _writers[_key(side, model_name)] = loaded
    return loaded


def writer_ids(side: str) -> list[int]:
    """The listing ids in the side's announced index (as this process's writer copy sees it)."""
    info = embedding.get_embedder().info
    return _writer(state_for(side, info.name), side, info.name, info.dim).index.ids().tolist()


def searchable_ids(side: str, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    model = listing_model(side)
    return set(Session.scalars(sa.select(model.id).where(model.id.in_(ids), *searchable_filter(model))))


def rebuild(side: str) -> IndexState:
    """Build the side's index from stored vectors alone and announce it (`flask index rebuild`)."""
    info = embedding.get_embedder().info
    state = _locked_state(side, info.name, info.dim)
    loaded = LoadedIndex(None, build_from_vectors(side, info.name, info.dim))
    _save(state, side, info.name, loaded)
    _writers[_key(side, info.name)] = loaded
    return state


def _save(state: IndexState, side: str, model_name: str, loaded: LoadedIndex) -> None:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model_name).strip("-")[:60]
    name = f"{side}-{slug}-g{state.generation:08d}-{uuid.uuid4().hex[:8]}.faiss"
    loaded.index.save(index_dir() / name)
    loaded.path = name
    state.path, state.count, state.built_at, state.dim = name, len(loaded.index), utcnow(), loaded.index.dim
    Session.flush()
    _prune(side, slug)


def _prune(side: str, slug: str) -> None:
    snapshots = sorted(index_dir().glob(f"{side}-{slug}-g*.faiss"), key=lambda p: p.stat().st_mtime)
    for old in snapshots[:-KEEP_SNAPSHOTS]:
        old.unlink(missing_ok=True)


def forget_loaded() -> None:
    """Drop this process's cached indexes (tests, and after a model change)."""
    with _lock:
        _readers.clear()
        _writers.clear()
