"""One vector index and one BM25 index per side (results, needs), written under INDEX_DIR per generation.

A generation is a manifest (`<side>-<model>-g<generation>-<tag>.gen`, see engine.segments) naming a base
(a memory-mappable FAISS file `….faiss` and its lexical folder `….lex` of memory-mapped arrays, see
engine.lexical_store) and the deltas written since. The worker that applies an outbox batch writes one
small delta (`….delta`: the batch's vectors, the changed listings' postings, the ids that left) and a new
manifest, and announces it in `index_states`; once there are MATCH_MERGE_DELTAS deltas or
MATCH_MERGE_CHANGES changed listings, the job `matching.merge_index` folds them into a new base
(`<side>-<model>-b<generation>-<tag>`). `flask index rebuild` writes a base from the database alone.

Every other process notices the generation move on its next search and opens the new manifest in the
background, answering from the old generation meanwhile (engine.generations); bases are memory-mapped
read-only and opened once per process, so only the small deltas are read per generation. A generation that
cannot be read is logged and the old one kept; a process with nothing open rebuilds its vector index from
the stored vectors (and serves no lexical matches until a readable generation exists), so the database is
the only thing that must survive.
"""
from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from matchmaker.engine import lexical_store, segments
from matchmaker.engine.generations import GenerationReader
from matchmaker.engine.index import CorruptSnapshotError, VectorIndex
from matchmaker.engine.lexical_store import CorruptLexicalError, MappedBM25
from matchmaker.engine.segments import CorruptSegmentError, Delta, LayeredBM25, LayeredVectors, Manifest
from matchmaker.listings.search import published_filter
from matchmaker.matching import embedding
from models import IndexState, ListingVector, Session, listing_model, utcnow

log = logging.getLogger(__name__)

SIDES = ("result", "need")
KEEP_GENERATIONS = 3  # files only older manifests name are deleted; a reader still opening one keeps its own
MERGE_DELTAS = 16  # a merge folds the deltas into a new base once there are this many,
MERGE_CHANGES = 4096  # or once they changed this many listings
PRUNE_GRACE_SECONDS = 600  # a merged base not announced yet (its merge is waiting for the lock) is kept
UNREADABLE = (OSError, CorruptSegmentError, CorruptSnapshotError, CorruptLexicalError, KeyError, ValueError)

Searchable = VectorIndex | LayeredVectors
Lexical = MappedBM25 | LayeredBM25


@dataclass
class Generation:
    """An opened generation: its manifest, base and deltas (the writer's view; readers keep the layered ones)."""

    name: str
    manifest: Manifest
    base: VectorIndex
    deltas: list[Delta] = field(default_factory=list)
    _vectors: Searchable | None = None

    @property
    def vectors(self) -> Searchable:
        if self._vectors is None:
            self._vectors = LayeredVectors(self.base, self.deltas) if self.deltas else self.base
        return self._vectors


# Per process: readers (searches) and the writer (jobs) hold separate objects. Opened bases and deltas are
# read-only (memory-mapped) and shared by every generation that names them.
_readers: dict[tuple[str, str, str], Searchable] = {}
_writers: dict[tuple[str, str, str], Generation] = {}
_vector_readers: dict[tuple[str, str, str], GenerationReader[Searchable]] = {}
_lexical_readers: dict[tuple[str, str, str], GenerationReader[Lexical]] = {}
_opened: OrderedDict[tuple[str, str], Any] = OrderedDict()
_OPENED_MAX = 64
_lock = threading.Lock()
_open_lock = threading.Lock()


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
    return VectorIndex.build(ids, vectors, approx_threshold=int(current_app.config.get("EXACT_SEARCH_MAX", 50_000)))


def state_for(side: str, model_name: str) -> IndexState | None:
    return Session.scalar(sa.select(IndexState).where(IndexState.side == side, IndexState.model_name == model_name))


# --- opening generations -----------------------------------------------------------------------------

def _legacy(name: str) -> bool:
    """A generation announced before deltas: one checksummed snapshot file and its lexical folder."""
    return name.endswith(".faiss")


def lexical_name(snapshot: str) -> str:
    """The lexical folder beside a vector base (or a snapshot announced before deltas)."""
    return segments.lexical_name(snapshot)


def _shared(folder: Path, name: str, opener: Callable[[], Any]) -> Any:
    """A base or delta opened once per process (checked then), shared by the generations naming it."""
    key = (str(folder), name)
    with _open_lock:
        if key in _opened:
            _opened.move_to_end(key)
            return _opened[key]
    value = opener()
    with _open_lock:
        _opened[key] = value
        while len(_opened) > _OPENED_MAX:
            _opened.popitem(last=False)
    return value


def _open_base(folder: Path, manifest: Manifest, dim: int, shared: bool = True) -> VectorIndex:
    def opener() -> VectorIndex:
        return VectorIndex.open_mapped(folder / manifest.base, manifest.base_header)

    base = _shared(folder, manifest.base, opener) if shared else opener()
    if base.dim != dim:
        raise CorruptSnapshotError(f"{manifest.base} has dimension {base.dim}, the model has {dim}")
    return base


def _open_deltas(folder: Path, manifest: Manifest, dim: int, shared: bool = True) -> list[Delta]:
    return [_shared(folder, name, lambda n=name: segments.read_delta(folder / n, dim)) if shared
            else segments.read_delta(folder / name, dim) for name, _ in manifest.deltas]


def open_vectors(path: Path, dim: int) -> Searchable:
    """The vector side of generation `path` (a manifest, or a snapshot announced before deltas)."""
    if _legacy(path.name):
        index = VectorIndex.load(path)
        if index.dim != dim:
            raise CorruptSnapshotError(f"{path.name} has dimension {index.dim}, the model has {dim}")
        return index
    manifest = Manifest.read(path)
    base = _open_base(path.parent, manifest, dim)
    deltas = _open_deltas(path.parent, manifest, dim)
    return LayeredVectors(base, deltas) if deltas else base


def open_lexical(path: Path, dim: int, shared: bool = True) -> Lexical:
    """The BM25 side of generation `path`; with `shared` False every file is read and checked again."""
    if _legacy(path.name):
        return MappedBM25.open(path.parent / lexical_name(path.name))
    manifest = Manifest.read(path)
    folder = path.parent
    opener = lambda: MappedBM25.open(folder / manifest.base_lexical)  # noqa: E731
    base = _shared(folder, manifest.base_lexical, opener) if shared else opener()
    deltas = _open_deltas(folder, manifest, dim, shared)
    return LayeredBM25(base, deltas) if deltas else base


def _load_snapshot(state: IndexState | None, side: str, model_name: str, dim: int) -> Searchable:
    """The index of `state`'s generation; rebuilt from stored vectors if it is missing or damaged."""
    if state is not None and state.path:
        try:
            return open_vectors(index_dir() / state.path, dim)
        except FileNotFoundError:
            log.warning("index generation %s is missing: rebuilding %s index from stored vectors", state.path, side)
        except UNREADABLE as error:
            log.warning("index generation %s cannot be read (%s): rebuilding %s index from stored vectors",
                        state.path, error, side)
    return build_from_vectors(side, model_name, dim)


def reader_index(side: str) -> Searchable:
    """The side's index as last announced in the database, or the previous one while the new one opens.

    With nothing open and an announced generation that cannot be read, the index is rebuilt from the
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
            return loaded
    dim = info.dim
    opened = _generation_reader(_vector_readers, key, lambda path: open_vectors(path, dim),
                                f"{side} vector index", mapped=True)
    found = opened.get(state.path)
    if found is None:
        found = _load_snapshot(state, side, info.name, info.dim)
        opened.put(state.path, found)
    return found


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


def reader_lexical(side: str) -> Lexical:
    """The side's BM25 index of the announced generation, or of the previous one while that opens."""
    info = embedding.get_embedder().info
    state = state_for(side, info.name)
    if state is None or not state.path:
        return MappedBM25.empty()
    dim = info.dim
    opened = _generation_reader(_lexical_readers, _key(side, state.model_name),
                                lambda path: open_lexical(path, dim), f"{side} lexical index", mapped=True)
    return opened.get(state.path) or MappedBM25.empty()


def lexical_documents(side: str, ids: set[int] | None = None) -> dict[int, list[str]]:
    """{listing id: BM25 tokens} of the side's searchable listings (their stored search tokens), or of
    those among `ids`."""
    model = listing_model(side)
    stmt = sa.select(model.id, model.search_text).where(*searchable_filter(model))
    if ids is not None:
        stmt = stmt.where(model.id.in_(sorted(ids)))
    return {row.id: (row.search_text or "").split() for row in Session.execute(stmt)}


# --- writing -----------------------------------------------------------------------------------------

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


def _slug(model_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", model_name).strip("-")[:60]


def _stem(side: str, model_name: str, generation: int, kind: str = "g") -> str:
    return f"{side}-{_slug(model_name)}-{kind}{generation:08d}-{uuid.uuid4().hex[:8]}"


def _writer(state: IndexState | None, side: str, model_name: str, dim: int) -> Generation | None:
    """The announced generation as this process's writer sees it; None if there is none or it cannot be
    read (the caller then builds a base from the database)."""
    key = _key(side, model_name)
    if state is None or not state.path or _legacy(state.path):
        return None
    cached = _writers.get(key)
    if cached is not None and cached.name == state.path:
        return cached
    folder = index_dir()
    try:
        manifest = Manifest.read(folder / state.path)
        generation = Generation(state.path, manifest, _open_base(folder, manifest, dim),
                                _open_deltas(folder, manifest, dim, shared=False))
        # Checked (once per process and base): the next deltas are written on top of it.
        _shared(folder, manifest.base_lexical, lambda: MappedBM25.open(folder / manifest.base_lexical))
    except UNREADABLE as error:
        log.warning("index generation %s cannot be read (%s): building the %s indexes from the database",
                    state.path, error, side)
        return None
    _writers[key] = generation
    return generation


def _settings() -> tuple[float, float]:
    return 1.5, 0.75  # BM25 k1 and b (lexical_store's defaults, as every base is written)


def apply_changes(side: str, upserts: dict[int, np.ndarray], removals: set[int]) -> IndexState:
    """Write the batch as a delta on top of the side's generation and announce the new generation.

    A side with no readable generation yet gets a base built from the database instead. Flushes; the
    caller commits (until then, readers keep the previous generation).
    """
    info = embedding.get_embedder().info
    state = _locked_state(side, info.name, info.dim)
    # Checked again under the lock: a close that committed while this batch was embedding wins.
    still_open = searchable_ids(side, list(upserts))
    removals = (set(removals) | (set(upserts) - still_open))
    upserts = {i: v for i, v in upserts.items() if i in still_open}
    current = _writer(state, side, info.name, info.dim)
    if current is None:
        _write_base(state, side, info.name, info.dim)
        return state
    changed = set(upserts) | removals
    stem = _stem(side, info.name, state.generation)
    docs = lexical_documents(side, changed)
    k1, b = _settings()
    folder = index_dir()
    segments.write_delta(folder / f"{stem}.delta", upserts, removals, docs, changed - set(docs), info.dim, k1, b)
    deltas = [*current.deltas, segments.read_delta(folder / f"{stem}.delta", info.dim)]
    generation = Generation(f"{stem}.gen", current.manifest, current.base, deltas)
    manifest = current.manifest.with_delta(f"{stem}.delta", len(changed), len(generation.vectors))
    _announce(state, side, info.name, manifest, generation)
    return state


def _write_base(state: IndexState, side: str, model_name: str, dim: int) -> None:
    """A base of every searchable listing, from the stored vectors and tokens, announced with no deltas."""
    stem = _stem(side, model_name, state.generation)
    folder = index_dir()
    vectors = build_from_vectors(side, model_name, dim)
    header = vectors.save_mappable(folder / f"{stem}.faiss")
    lexical_store.write(folder / f"{stem}.lex", lexical_documents(side))
    manifest = Manifest(f"{stem}.faiss", header, (), len(vectors))
    base = _open_base(folder, manifest, dim)
    _announce(state, side, model_name, manifest, Generation(f"{stem}.gen", manifest, base))


def _announce(state: IndexState, side: str, model_name: str, manifest: Manifest, generation: Generation) -> None:
    """Write the generation's manifest and point the side's state row at it (flushed, not committed)."""
    generation.manifest = manifest
    manifest.write(index_dir() / generation.name)
    state.path, state.count, state.built_at, state.dim = generation.name, manifest.count, utcnow(), generation.base.dim
    Session.flush()
    _writers[_key(side, model_name)] = generation
    _prune(side, _slug(model_name))


def writer_ids(side: str) -> list[int]:
    """The listing ids in the side's announced index (as this process's writer sees it)."""
    info = embedding.get_embedder().info
    state = state_for(side, info.name)
    generation = _writer(state, side, info.name, info.dim)
    if generation is not None:
        return generation.vectors.ids().tolist()
    return _load_snapshot(state, side, info.name, info.dim).ids().tolist()


def searchable_ids(side: str, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    model = listing_model(side)
    return set(Session.scalars(sa.select(model.id).where(model.id.in_(ids), *searchable_filter(model))))


def rebuild(side: str) -> IndexState:
    """Build the side's index from stored vectors and tokens alone and announce it (`flask index rebuild`)."""
    info = embedding.get_embedder().info
    state = _locked_state(side, info.name, info.dim)
    _write_base(state, side, info.name, info.dim)
    return state


def repair_lexical(side: str) -> bool:
    """Rebuild the side's indexes from the database if the announced lexical index cannot be read
    (the periodic reconcile checks); True if it did. Readers keep the previous generation meanwhile."""
    info = embedding.get_embedder().info
    state = state_for(side, info.name)
    if state is None or not state.path:
        return False
    try:
        open_lexical(index_dir() / state.path, info.dim, shared=False)
        return False
    except UNREADABLE as error:
        log.warning("lexical index of %s cannot be read (%s): rebuilding the %s indexes from the database",
                    state.path, error, side)
    rebuild(side)
    return True


# --- merging -----------------------------------------------------------------------------------------

def _merge_limits() -> tuple[int, int]:
    config = current_app.config
    return (int(config.get("MATCH_MERGE_DELTAS") or MERGE_DELTAS),
            int(config.get("MATCH_MERGE_CHANGES") or MERGE_CHANGES))


def merge_due(side: str) -> bool:
    """Whether the side's announced generation has enough deltas or changes to be merged."""
    state = state_for(side, embedding.get_embedder().info.name)
    if state is None or not state.path or _legacy(state.path):
        return False
    try:
        manifest = Manifest.read(index_dir() / state.path)
    except UNREADABLE:
        return False
    deltas, changes = _merge_limits()
    return len(manifest.deltas) >= deltas or manifest.changes >= changes


def merge(side: str | None = None, force: bool = False) -> dict[str, Any]:
    """Fold each side's deltas into a new base (the job `matching.merge_index`), if due or `force`d."""
    return {name: _merge_side(name, force) for name in ([side] if side else SIDES)}


def _merge_side(side: str, force: bool) -> dict[str, Any]:
    if not (force or merge_due(side)):
        return {"merged": 0}
    started = time.perf_counter()
    info = embedding.get_embedder().info
    state = state_for(side, info.name)
    generation = _writer(state, side, info.name, info.dim)
    number = state.generation if state else 0
    Session.rollback()  # nothing is locked while the new base is written
    if generation is None or not generation.manifest.deltas:
        return {"merged": 0}
    folder = index_dir()
    source = generation.manifest
    # Written without the lock (outbox batches keep adding deltas meanwhile), as a `b` stem that writers'
    # pruning leaves alone until it is announced or PRUNE_GRACE_SECONDS old.
    base = VectorIndex.open_mapped(folder / source.base, source.base_header, mmap=False, verify=False)
    vectors = segments.fold_vectors(base, generation.vectors)  # type: ignore[arg-type]
    lexical = LayeredBM25(MappedBM25.open(folder / source.base_lexical, verify=False), generation.deltas)
    stem = _stem(side, info.name, number, kind="b")
    header = vectors.save_mappable(folder / f"{stem}.faiss")
    lexical_store.write_arrays(folder / f"{stem}.lex", segments.fold_lexical(lexical), lexical.k1, lexical.b)
    locked = _locked_state(side, info.name, info.dim)
    current = _writer(locked, side, info.name, info.dim)
    if (current is None or current.manifest.base != source.base
            or current.manifest.deltas[:len(source.deltas)] != source.deltas):
        Session.rollback()  # a rebuild or another merge announced a new base meanwhile: this one is dropped
        (folder / f"{stem}.faiss").unlink(missing_ok=True)
        shutil.rmtree(folder / f"{stem}.lex", ignore_errors=True)
        return {"merged": 0, "superseded": True}
    remaining = current.manifest.deltas[len(source.deltas):]
    manifest = Manifest(f"{stem}.faiss", header, remaining, current.manifest.count)
    merged = Generation(f"{_stem(side, info.name, locked.generation)}.gen", manifest,
                        _open_base(folder, manifest, info.dim), current.deltas[len(source.deltas):])
    _announce(locked, side, info.name, manifest, merged)
    Session.commit()
    return {"merged": len(source.deltas), "changes": source.changes, "count": manifest.count,
            "seconds": round(time.perf_counter() - started, 3)}


def describe(state: IndexState) -> dict[str, Any]:
    """Base size and deltas of a side's announced generation (for `flask index status`)."""
    if not state.path or _legacy(state.path):
        return {"base": state.path, "deltas": 0, "delta_changes": 0}
    folder = index_dir()
    try:
        manifest = Manifest.read(folder / state.path)
    except UNREADABLE as error:
        return {"error": f"{type(error).__name__}: {error}"}
    lexical = folder / manifest.base_lexical
    size = sum(p.stat().st_size for p in [folder / manifest.base, *lexical.glob("*")] if p.exists())
    delta_bytes = sum(p.stat().st_size for name, _ in manifest.deltas for p in (folder / name).rglob("*")
                      if p.is_file())
    return {"base": manifest.base, "base_bytes": size, "deltas": len(manifest.deltas),
            "delta_changes": manifest.changes, "delta_bytes": delta_bytes}


# --- pruning -----------------------------------------------------------------------------------------

def _generation_number(path: Path) -> tuple[int, float]:
    match = re.search(r"-g(\d{8})-", path.name)
    return (int(match.group(1)) if match else -1, path.stat().st_mtime)


def _prune(side: str, slug: str) -> None:
    """Delete what no kept manifest names. Runs under the side's state row lock, so no other writer of the
    side is writing `g` files now; merges write `b` files without it, so those wait for the grace period."""
    folder = index_dir()
    manifests = sorted(folder.glob(f"{side}-{slug}-g*.gen"), key=_generation_number)
    kept = manifests[-KEEP_GENERATIONS:]
    named = {path.name for path in kept}
    for path in kept:
        try:
            manifest = Manifest.read(path)
        except UNREADABLE:
            continue
        named |= {manifest.base, manifest.base_lexical, *(name for name, _ in manifest.deltas)}
    now = time.time()
    # A reader still mapping a deleted file keeps its pages until it moves on (POSIX).
    for path in [*folder.glob(f"{side}-{slug}-[gb]*"), *folder.glob(f".{side}-{slug}-[gb]*")]:
        if path.name in named:
            continue
        merged = path.name.removeprefix(".").startswith(f"{side}-{slug}-b")
        try:
            if merged and now - path.stat().st_mtime < PRUNE_GRACE_SECONDS:
                continue
        except FileNotFoundError:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def forget_loaded() -> None:
    """Drop this process's cached indexes (tests, and after a model change)."""
    with _lock:
        _readers.clear()
        _writers.clear()
        _vector_readers.clear()
        _lexical_readers.clear()
    with _open_lock:
        _opened.clear()
