"""Delta segments: small per-batch changes on top of a base generation of both indexes.

A generation is a *manifest* (``<stem>.gen``, a small checksummed JSON file) naming a base (a
memory-mappable FAISS file ``<stem>.faiss`` and its lexical folder ``<stem>.lex``) and the deltas
written since, oldest first. A delta (``<stem>.delta/``) holds what one batch of listing changes
did: the new or changed vectors, the lexical postings of the changed listings (a lexical_store
folder ``lex/``) and the ids that left each index. Any id a delta mentions hides that id in every
older layer, so an update is "delete, then add" and readers see each listing at most once.

Readers search the base and the deltas together (``LayeredVectors``, ``LayeredBM25``). BM25
statistics (document count, average length, document frequencies) are those of the live documents
of all layers, so the scores are those of an index built from scratch over the same documents.
A background merge (``fold_*``) writes a new base with the deltas folded in.

Every file is written under a temporary name and renamed into place, and carries a SHA-256 in its
meta data; a damaged one raises ``CorruptSegmentError`` when opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matchmaker.engine import lexical_store
from matchmaker.engine.index import Hit, VectorIndex, _as_ids, _as_matrix
from matchmaker.engine.lexical import BM25Scoring, tokenize
from matchmaker.engine.lexical_store import MappedBM25

FORMAT = 1
_DELTA_ARRAYS = ("vec_ids", "vectors", "vec_removed", "lex_removed")


class CorruptSegmentError(Exception):
    """A manifest or delta is incomplete or fails its checksum."""


# --- manifests ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Manifest:
    """One generation: a base and the deltas on top of it, oldest first, each with its change count."""

    base: str  # the FAISS file of the base; its lexical folder is the same stem ending in .lex
    base_header: dict[str, Any]  # VectorIndex parameters and the FAISS file's sha256
    deltas: tuple[tuple[str, int], ...] = ()
    count: int = 0  # vectors searchable in this generation
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(n for _, n in self.deltas)

    @property
    def base_lexical(self) -> str:
        return lexical_name(self.base)

    def with_delta(self, name: str, changes: int, count: int) -> Manifest:
        return Manifest(self.base, self.base_header, (*self.deltas, (name, changes)), count)

    def _body(self) -> dict[str, Any]:
        return {"format": FORMAT, "base": self.base, "base_header": self.base_header,
                "deltas": [list(d) for d in self.deltas], "count": self.count}

    def write(self, path: str | os.PathLike[str]) -> None:
        body = self._body()
        text = json.dumps(body, sort_keys=True)
        payload = json.dumps({**body, "sha256": hashlib.sha256(text.encode()).hexdigest()}, sort_keys=True)
        _write_atomic(Path(path), payload.encode())

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            digest = data.pop("sha256")
        except (ValueError, KeyError, AttributeError, UnicodeDecodeError) as error:
            raise CorruptSegmentError(f"{path}: unreadable manifest") from error
        if hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest() != digest:
            raise CorruptSegmentError(f"{path}: manifest fails its checksum")
        if data.get("format") != FORMAT:
            raise CorruptSegmentError(f"{path}: unsupported manifest format {data.get('format')}")
        return cls(data["base"], data["base_header"], tuple((str(n), int(c)) for n, c in data["deltas"]),
                   int(data["count"]))


def lexical_name(base: str) -> str:
    """The lexical folder of the base whose FAISS file is ``base``."""
    return base.removesuffix(".faiss") + ".lex"


def _write_atomic(target: Path, data: bytes) -> None:
    if target.exists():
        raise FileExistsError(f"{target} already exists: each file is written once")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, target)
        lexical_store.fsync_dir(target.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- deltas ------------------------------------------------------------------------------------------

@dataclass
class Delta:
    """One batch of changes: vectors added or replaced, ids removed, the changed listings' postings."""

    vec_ids: np.ndarray  # sorted
    vectors: np.ndarray
    vec_removed: np.ndarray
    lexical: MappedBM25
    lex_removed: np.ndarray
    name: str = ""

    @property
    def vec_mentioned(self) -> np.ndarray:
        return np.union1d(self.vec_ids, self.vec_removed)

    @property
    def lex_mentioned(self) -> np.ndarray:
        return np.union1d(np.asarray(self.lexical._ids), self.lex_removed)


def write_delta(path: str | os.PathLike[str], vectors: Mapping[int, np.ndarray], vec_removed: Iterable[int],
                lex_docs: Mapping[int, Iterable[str]], lex_removed: Iterable[int], dim: int,
                k1: float = 1.5, b: float = 0.75) -> None:
    """Write a delta folder atomically (temporary folder beside it, then a rename)."""
    target = Path(path)
    if target.exists():
        raise FileExistsError(f"{target} already exists: each delta is written once")
    ids = np.array(sorted(vectors), dtype=np.int64)
    matrix = (np.stack([np.asarray(vectors[i], dtype=np.float32) for i in ids.tolist()]) if len(ids)
              else np.empty((0, dim), dtype=np.float32))
    arrays = {"vec_ids": ids, "vectors": _as_matrix(matrix, dim) if len(ids) else matrix,
              "vec_removed": np.array(sorted(set(vec_removed)), dtype=np.int64),
              "lex_removed": np.array(sorted(set(lex_removed)), dtype=np.int64)}
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        digests = {}
        for name in _DELTA_ARRAYS:
            file = tmp / f"{name}.npy"
            with file.open("wb") as handle:
                np.save(handle, arrays[name], allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            digests[name] = lexical_store.file_sha256(file)
        lexical_store.write_arrays(tmp / "lex", lexical_store.build_arrays(lex_docs, k1, b), k1, b)
        meta = {"format": FORMAT, "dim": dim, "sha256": digests,
                "lex_sha256": lexical_store.file_sha256(tmp / "lex" / "meta.json")}
        with (tmp / "meta.json").open("w", encoding="utf-8") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, target)
        lexical_store.fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_delta(path: str | os.PathLike[str], dim: int) -> Delta:
    """Open a delta folder, checking every checksum; raises CorruptSegmentError if it is damaged."""
    folder = Path(path)
    meta = lexical_store.read_meta(folder, CorruptSegmentError)
    if meta.get("format") != FORMAT or meta.get("dim") != dim:
        raise CorruptSegmentError(f"{folder}: format {meta.get('format')} of dimension {meta.get('dim')}, "
                                  f"expected {FORMAT} of {dim}")
    arrays = {}
    for name in _DELTA_ARRAYS:
        file = folder / f"{name}.npy"
        if not file.exists() or lexical_store.file_sha256(file) != meta["sha256"].get(name):
            raise CorruptSegmentError(f"{folder}: {name}.npy is missing or fails its checksum")
        try:
            arrays[name] = np.load(file, allow_pickle=False)
        except ValueError as error:
            raise CorruptSegmentError(f"{folder}: unreadable {name}.npy") from error
    lex_meta = folder / "lex" / "meta.json"
    if not lex_meta.exists() or lexical_store.file_sha256(lex_meta) != meta.get("lex_sha256"):
        raise CorruptSegmentError(f"{folder}: lexical part is missing or fails its checksum")
    try:
        lexical = MappedBM25.open(folder / "lex")
    except lexical_store.CorruptLexicalError as error:
        raise CorruptSegmentError(str(error)) from error
    vectors = arrays["vectors"].reshape(-1, dim) if arrays["vectors"].size else np.empty((0, dim), np.float32)
    if len(vectors) != len(arrays["vec_ids"]):
        raise CorruptSegmentError(f"{folder}: {len(arrays['vec_ids'])} ids for {len(vectors)} vectors")
    return Delta(arrays["vec_ids"], np.ascontiguousarray(vectors, dtype=np.float32), arrays["vec_removed"],
                 lexical, arrays["lex_removed"], folder.name)


def _live(layer_ids: Sequence[np.ndarray], mentioned: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Which rows of each layer (oldest first) are live: not mentioned by any newer layer.

    Also returns every id the layers after the first mention (hidden in the first, the base).
    """
    hidden = np.empty(0, dtype=np.int64)
    live: list[np.ndarray] = [np.empty(0, dtype=bool)] * len(layer_ids)
    for i in range(len(layer_ids) - 1, -1, -1):
        live[i] = ~np.isin(layer_ids[i], hidden)
        if i:
            hidden = np.union1d(hidden, mentioned[i])
    return live, hidden


# --- vectors -----------------------------------------------------------------------------------------

class LayeredVectors:
    """A base VectorIndex and deltas read as one index (the read side of VectorIndex's interface)."""

    def __init__(self, base: VectorIndex, deltas: Sequence[Delta]) -> None:
        self.base = base
        self.dim = base.dim
        layer_ids = [np.empty(0, dtype=np.int64)] + [d.vec_ids for d in deltas]
        live, hidden = _live(layer_ids, [np.empty(0, dtype=np.int64)] + [d.vec_mentioned for d in deltas])
        ids = np.concatenate([d.vec_ids[keep] for d, keep in zip(deltas, live[1:], strict=True)]
                             or [np.empty(0, dtype=np.int64)])
        vectors = np.concatenate([d.vectors[keep] for d, keep in zip(deltas, live[1:], strict=True)]
                                 or [np.empty((0, self.dim), dtype=np.float32)])
        order = np.argsort(ids, kind="stable")
        self._delta_ids, self._delta_vectors = ids[order], np.ascontiguousarray(vectors[order])
        base_ids = base.ids()
        self._base_hidden = np.intersect1d(base_ids, hidden)
        self._ids = np.union1d(np.setdiff1d(base_ids, hidden, assume_unique=True), self._delta_ids)

    @property
    def is_approximate(self) -> bool:
        return self.base.is_approximate

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, listing_id: int) -> bool:
        return bool(_member(self._ids, np.array([listing_id], dtype=np.int64))[0])

    def ids(self) -> np.ndarray:
        return self._ids.copy()

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vectors_for(self._ids)

    def vectors_for(self, ids: Iterable[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found_ids, vectors) for the requested ids that are live, in request order."""
        wanted = _as_ids(ids)
        found = wanted[_member(self._ids, wanted)]
        vectors = np.empty((len(found), self.dim), dtype=np.float32)
        in_delta = _member(self._delta_ids, found)
        if in_delta.any():
            vectors[in_delta] = self._delta_vectors[np.searchsorted(self._delta_ids, found[in_delta])]
        if (~in_delta).any():
            vectors[~in_delta] = self.base.vectors_for(found[~in_delta])[1]
        return found, vectors

    def similarity(self, query_vec: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        found, vectors = self.vectors_for(ids)
        query = _as_matrix(query_vec, self.dim)[0]
        return dict(zip(found.tolist(), (vectors @ query).tolist(), strict=True))

    def search(self, query_vec: np.ndarray, k: int, allowed: set[int] | None = None) -> list[Hit]:
        return self.search_many(_as_matrix(query_vec, self.dim), k, allowed)[0]

    def search_many(self, query_vecs: np.ndarray, k: int,
                    allowed: set[int] | None = None) -> list[list[Hit]]:
        """Top-k (id, cosine) per query over the base (without the ids deltas replaced) and the deltas."""
        queries = _as_matrix(query_vecs, self.dim)
        if k <= 0 or not len(self):
            return [[] for _ in range(len(queries))]
        if allowed is None:
            base_hits = self.base.search_many(queries, k, excluded=self._base_hidden)
            delta_rows = np.arange(len(self._delta_ids))
        else:
            wanted = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
            base_allowed = np.setdiff1d(wanted, self._base_hidden)
            base_hits = (self.base.search_many(queries, k, set(base_allowed.tolist())) if len(base_allowed)
                         else [[] for _ in range(len(queries))])
            delta_rows = np.flatnonzero(np.isin(self._delta_ids, wanted))
        if not len(delta_rows):
            return base_hits
        scores = queries @ self._delta_vectors[delta_rows].T
        ids = self._delta_ids[delta_rows].tolist()
        merged = []
        for hits, row in zip(base_hits, scores, strict=True):
            combined = hits + list(zip(ids, row.tolist(), strict=True))
            merged.append(sorted(combined, key=lambda hit: -hit[1])[:k])
        return merged


def _member(sorted_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    if not len(sorted_ids) or not len(wanted):
        return np.zeros(len(wanted), dtype=bool)
    positions = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return sorted_ids[positions] == wanted


def fold_vectors(base: VectorIndex, layered: LayeredVectors) -> VectorIndex:
    """``base`` (a writable copy of the layered index's base) with the deltas applied: the new base."""
    if len(layered._base_hidden):
        base.remove(layered._base_hidden)
    if len(layered._delta_ids):
        base.upsert(layered._delta_ids, layered._delta_vectors)
    return base


# --- lexical -----------------------------------------------------------------------------------------

class LayeredIdf(Mapping[str, float]):
    """{term: IDF} over the live documents of every layer."""

    def __init__(self, index: LayeredBM25) -> None:
        self._index = index
        positive = index._base_df[index._base_df > 0]
        dfs = ([int(positive.min())] if len(positive) else []) + [d for d in index._delta_df.values() if d > 0]
        self.rarest = float(index._idf(np.array([min(dfs)], dtype=np.float32))[0]) if dfs else 0.0
        # Counted once: `len()` and truthiness are asked per candidate (engine.reasons), and walking the
        # vocabulary each time cost ~4 s per match page at 10k listings (benchmarks/scale.py).
        self._len = int(np.count_nonzero(index._base_df > 0)) + sum(
            1 for term, df in index._delta_df.items()
            if df and ((column := index.base.column(term)) is None or not index._base_df[column]))

    def __getitem__(self, term: str) -> float:
        df = self._index._df(term)
        if not df:
            raise KeyError(term)
        return float(self._index._idf(np.array([df], dtype=np.float32))[0])

    def __iter__(self) -> Iterator[str]:
        base = self._index.base
        for column in np.flatnonzero(self._index._base_df > 0).tolist():
            yield base.term(column)
        for term, df in self._index._delta_df.items():
            column = base.column(term)
            if df and (column is None or not self._index._base_df[column]):
                yield term

    def __len__(self) -> int:
        return self._len


class LayeredBM25(BM25Scoring):
    """A base MappedBM25 and the lexical parts of deltas read as one BM25 index.

    Weights are computed at query time from the stored term frequencies and document lengths with
    the statistics of all live documents, by the same float32 formula as ``lexical.bm25_weights``;
    terms are summed in the order a merge would number their columns (base columns, then terms new
    in the deltas), so scores equal those of the merged index. Rows are the base's, then each
    delta's: the base's postings are used as they are, and rows a newer layer hides score zero.
    """

    def __init__(self, base: MappedBM25, deltas: Sequence[Delta]) -> None:
        self.base = base
        self.path = base.path
        self.k1, self.b = base.k1, base.b
        self.layers = [base] + [d.lexical for d in deltas]
        layer_ids = [np.asarray(layer._ids) for layer in self.layers]
        live, hidden = _live(layer_ids, [np.empty(0, dtype=np.int64)] + [d.lex_mentioned for d in deltas])
        self._hidden = hidden
        self._live_by_layer = live
        self._offsets = np.cumsum([0] + [len(i) for i in layer_ids]).tolist()
        self._ids = np.concatenate(layer_ids)
        alive = np.concatenate(live)
        self._dead_rows = np.flatnonzero(~alive)
        alive_rows = np.flatnonzero(alive)
        by_id = np.argsort(self._ids[alive_rows], kind="stable")
        self._sorted_rows = alive_rows[by_id]  # live rows in id order
        self._sorted_ids = self._ids[self._sorted_rows]
        self._n = len(alive_rows)
        lengths = np.concatenate([np.asarray(layer.arrays["lengths"]) for layer in self.layers]).astype(np.float32)
        live_lengths = lengths[self._sorted_rows]  # in id order, as a fresh build averages them
        avg = float(live_lengths.mean()) if self._n and live_lengths.mean() > 0 else 1.0
        self._norm = self.k1 * (1 - self.b + self.b * lengths / avg)
        indptr = np.asarray(base.arrays["indptr"])
        self._base_df = np.diff(indptr).astype(np.int64)
        if not live[0].all() and len(self._base_df):
            dead = (~live[0]).astype(np.int64)[np.asarray(base.arrays["rows"])]
            self._base_df -= np.add.reduceat(dead, indptr[:-1]) if len(dead) else 0
        # Plain arrays (not np.memmap objects: slicing those costs microseconds each) of every layer.
        self._arrays = [(np.asarray(layer.arrays["indptr"]), np.asarray(layer.arrays["rows"]),
                         np.asarray(layer.arrays["tf"])) for layer in self.layers]
        self._delta_df: dict[str, int] = {}
        self._delta_columns: dict[str, list[tuple[int, int]]] = {}  # term: (layer, column) in each delta
        for layer_no, (layer, keep) in enumerate(zip(self.layers[1:], live[1:], strict=True), 1):
            layer_indptr, layer_rows, _ = self._arrays[layer_no]
            counted = keep[layer_rows]
            counts = np.add.reduceat(counted.astype(np.int64), layer_indptr[:-1]) if len(counted) else []
            for column, count in enumerate(np.asarray(counts).tolist()):
                term = layer.term(column)
                self._delta_columns.setdefault(term, []).append((layer_no, column))
                if count:
                    self._delta_df[term] = self._delta_df.get(term, 0) + count
        self.idf = LayeredIdf(self)

    def __len__(self) -> int:
        return self._n

    def _idf(self, df: np.ndarray) -> np.ndarray:
        return np.log1p((self._n - df + 0.5) / (df + 0.5))  # as lexical.bm25_weights

    def _df(self, term: str) -> int:
        column = self.base.column(term)
        return (int(self._base_df[column]) if column is not None else 0) + self._delta_df.get(term, 0)

    def _score_vector(self, query: str | Iterable[str]) -> np.ndarray:
        terms = sorted(set(tokenize(query) if isinstance(query, str) else query))
        found = []  # (merge column order, df, where the term's postings are)
        for term, column in zip(terms, self.base.columns(terms), strict=True):
            places = ([(0, column)] if column is not None else []) + self._delta_columns.get(term, [])
            df = (int(self._base_df[column]) if column is not None else 0) + self._delta_df.get(term, 0)
            if df:
                found.append((places[0], df, places))
        found.sort(key=lambda item: item[0])
        scores = np.zeros(len(self._ids), dtype=np.float32)
        if found:
            idf = self._idf(np.array([df for _, df, _ in found], dtype=np.float32))
            k1, norm = self.k1, self._norm
            for term_idf, (_, _, places) in zip(idf, found, strict=True):
                for layer_no, column in places:
                    indptr, layer_rows, layer_tf = self._arrays[layer_no]
                    start, end = indptr[column], indptr[column + 1]
                    rows = layer_rows[start:end]
                    if layer_no:
                        rows = rows + self._offsets[layer_no]
                    tf = layer_tf[start:end].astype(np.float32)
                    scores[rows] += term_idf * tf * (k1 + 1) / (tf + norm[rows])
            scores[self._dead_rows] = 0
        return scores

    def _rows(self, ids: Iterable[int]) -> np.ndarray:
        wanted = np.fromiter(ids, dtype=np.int64)
        if not len(wanted) or not self._n:
            return np.empty(0, dtype=np.int64)
        positions = np.minimum(np.searchsorted(self._sorted_ids, wanted), self._n - 1)
        return self._sorted_rows[positions[self._sorted_ids[positions] == wanted]]

    def live_ids(self) -> np.ndarray:
        """The ids of every live document, sorted."""
        return self._sorted_ids.copy()

    def live_delta_documents(self) -> dict[int, list[str]]:
        """{listing id: tokens} of the live documents of the deltas (a term repeated tf times)."""
        docs: dict[int, list[str]] = {}
        for layer, keep in zip(self.layers[1:], self._live_by_layer[1:], strict=True):
            indptr = np.asarray(layer.arrays["indptr"])
            rows = np.asarray(layer.arrays["rows"])
            tf = np.asarray(layer.arrays["tf"])
            layer_ids = np.asarray(layer._ids)
            for column in range(len(indptr) - 1):
                term = None
                for p in range(int(indptr[column]), int(indptr[column + 1])):
                    if not keep[rows[p]]:
                        continue
                    term = term or layer.term(column)
                    docs.setdefault(int(layer_ids[rows[p]]), []).extend([term] * int(tf[p]))
        return docs


def fold_lexical(layered: LayeredBM25) -> dict[str, np.ndarray]:
    """The arrays of a new lexical base: the layered index's base with its deltas merged in."""
    changes = layered.live_delta_documents()
    return lexical_store.merge_arrays(layered.base, changes, layered._hidden.tolist(), layered.k1, layered.b)
