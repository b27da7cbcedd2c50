"""One vector index and one BM25 index per side (results, needs), written under INDEX_DIR per generation.

Workers apply changes, write a new vector snapshot (`<side>-<model>-g<generation>-<tag>.faiss`) and the
lexical index of the same generation beside it (the same name ending in `.lex`, a folder of memory-mapped
arrays, see engine.lexical_store), and announce the generation in `index_states`. Every other process
notices the generation move on its next search and opens the new files in the background, answering
from the old generation meanwhile (engine.generations). A generation that cannot be read is logged and
the old one kept; a process with nothing open rebuilds its vector index from the stored vectors (and
serves no lexical matches until a readable generation exists), so the database is the only thing that
must survive.
"""
from __future__ import annotations

import logging
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from matchmaker.engine import lexical_store
from matchmaker.engine.generations import GenerationReader
from matchmaker.engine.index import CorruptSnapshotError, VectorIndex
from matchmaker.engine.lexical_store import CorruptLexicalError, MappedBM25
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
_vector_readers: dict[tuple[str, str, str], GenerationReader[VectorIndex]] = {}
_lexical_readers: dict[tuple[str, str, str], GenerationReader[MappedBM25]] = {}
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
    """The side's index as last announced in the database, or the previous one while the new one opens.

    With nothing open and an announced snapshot that cannot be read, the index is rebuilt from the
    stored vectors (logged); with nothing announced yet, it is built from them.
    """
    info = embedding.get_embedder().info
    state = state_for(side, info.name)
    key = _key(side, info.name)
    if state is None or not state.path:
        with _lock:
            loaded = _readers.get(key)
            if loaded is None:
                loaded = _readers[key] = _load_snapshot(state, side, info.name, info.dim)
            return loaded.index
    opened = _generation_reader(_vector_readers, key, _snapshot_opener(info.dim), f"{side} vector index")
    found = opened.get(state.path)
    if found is None:
        found = _load_snapshot(state, side, info.name, info.dim).index
        opened.put(state.path, found)
    return found


def _snapshot_opener(dim: int) -> Callable[[Path], VectorIndex]:
    def open_snapshot(path: Path) -> VectorIndex:
        index = VectorIndex.load(path)
        if index.dim != dim:
            raise CorruptSnapshotError(f"{path.name} has dimension {index.dim}, the model has {dim}")
        return index

    return open_snapshot


def _generation_reader(readers: dict[tuple[str, str, str], GenerationReader[Any]], key: tuple[str, str, str],
                       opener: Callable[[Path], Any], label: str, mapped: bool = False) -> GenerationReader[Any]:
    """This process's reader of one index's generations (files named relative to INDEX_DIR).

    A `mapped` index is read from its files while in use: once they are deleted, the next
    generation opens before the process answers again.
    """
    with _lock:
        reader = readers.get(key)
        if reader is None:
            folder = index_dir()  # captured: the background thread has no app context
            reader = readers[key] = GenerationReader(
                lambda name: opener(folder / name), label=label,
                background=bool(current_app.config.get("INDEX_OPEN_IN_BACKGROUND", True)),
                exists=(lambda name: (folder / name).exists()) if mapped else None)
        return reader


def lexical_name(snapshot: str) -> str:
    """The lexical index folder of the generation whose vector snapshot is `snapshot`."""
    return snapshot.removesuffix(".faiss") + ".lex"


def reader_lexical(side: str) -> MappedBM25:
    """The side's BM25 index of the announced generation, or of the previous one while that opens."""
    state = state_for(side, embedding.get_embedder().info.name)
    if state is None or not state.path:
        return MappedBM25.empty()
    opened = _generation_reader(_lexical_readers, _key(side, state.model_name),
                                lambda path: MappedBM25.open(path), f"{side} lexical index", mapped=True)
    return opened.get(lexical_name(state.path)) or MappedBM25.empty()


def lexical_documents(side: str, ids: set[int] | None = None) -> dict[int, list[str]]:
    """{listing id: BM25 tokens} of the side's searchable listings (their stored search tokens), or of
    those among `ids`."""
    model = listing_model(side)
    stmt = sa.select(model.id, model.search_text).where(*searchable_filter(model))
    if ids is not None:
        stmt = stmt.where(model.id.in_(sorted(ids)))
    return {row.id: (row.search_text or "").split() for row in Session.execute(stmt)}


def _write_lexical(side: str, name: str, previous: str | None, changed: set[int] | None) -> None:
    """Generation `name`'s lexical index: the previous generation's with the `changed` listings read
    again, or built from every searchable listing (a rebuild, or a previous one that cannot be read)."""
    target = index_dir() / lexical_name(name)
    if changed is not None and previous:
        try:
            base = MappedBM25.open(index_dir() / lexical_name(previous))
        except (OSError, CorruptLexicalError) as error:
            log.warning("lexical index of %s cannot be read (%s): building the %s lexical index from the database",
                        previous, error, side)
        else:
            docs = lexical_documents(side, changed)
            merged = lexical_store.merge_arrays(base, docs, changed - set(docs), base.k1, base.b)
            lexical_store.write_arrays(target, merged, base.k1, base.b)
            return
    lexical_store.write(target, lexical_documents(side))


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
    _save(state, side, info.name, loaded, lexical_changes=set(upserts) | removals)
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


def repair_lexical(side: str) -> bool:
    """Rebuild the side's indexes from the database if the announced lexical index cannot be read
    (the periodic reconcile checks); True if it did. Readers keep the previous generation meanwhile."""
    state = state_for(side, embedding.get_embedder().info.name)
    if state is None or not state.path:
        return False
    try:
        MappedBM25.open(index_dir() / lexical_name(state.path))
        return False
    except (OSError, CorruptLexicalError) as error:
        log.warning("lexical index of %s cannot be read (%s): rebuilding the %s indexes from the database",
                    state.path, error, side)
    rebuild(side)
    return True


def _save(state: IndexState, side: str, model_name: str, loaded: LoadedIndex,
          lexical_changes: set[int] | None = None) -> None:
    """Write the generation's vector snapshot and lexical index (merged from the previous generation's
    when `lexical_changes` names the listings that changed, else built from all) and announce them."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model_name).strip("-")[:60]
    name = f"{side}-{slug}-g{state.generation:08d}-{uuid.uuid4().hex[:8]}.faiss"
    loaded.index.save(index_dir() / name)
    _write_lexical(side, name, state.path, lexical_changes)
    loaded.path = name
    state.path, state.count, state.built_at, state.dim = name, len(loaded.index), utcnow(), loaded.index.dim
    Session.flush()
    _prune(side, slug)


def _prune(side: str, slug: str) -> None:
    # A reader still mapping a deleted lexical folder keeps its pages until it moves on (POSIX).
    snapshots = sorted(index_dir().glob(f"{side}-{slug}-g*.faiss"), key=lambda p: p.stat().st_mtime)
    for old in snapshots[:-KEEP_SNAPSHOTS]:
        old.unlink(missing_ok=True)
        shutil.rmtree(index_dir() / lexical_name(old.name), ignore_errors=True)
    # Temporary files of a writer killed mid-write: this transaction holds the side's state row
    # lock, so no other writer of the side is writing now.
    for leftover in index_dir().glob(f".{side}-{slug}-g*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def forget_loaded() -> None:
    """Drop this process's cached indexes (tests, and after a model change)."""
    with _lock:
        _readers.clear()
        _writers.clear()
        _vector_readers.clear()
        _lexical_readers.clear()
