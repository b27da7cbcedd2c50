"""BM25 written once to a folder of numpy arrays and memory-mapped by every reader.

A worker writes one folder per index generation (``write``); web processes open it read-only
(``MappedBM25.open``): the arrays are ``np.load(mmap_mode="r")``, so N processes on one machine
share the same pages of the page cache and nobody builds an index on a request. Scores equal
``lexical.BM25Index``'s over the same documents (same float32 formula, same column order).

Layout (CSC postings, one column per term, columns numbered in order of first appearance):

- ``ids``: listing id of each row, ascending; ``lengths``: tokens per row
- ``indptr``: postings of column c are ``[indptr[c], indptr[c+1])`` in ``rows``/``tf``/``weights``
- ``idf``: per column; ``term_bytes``/``term_offsets``: the UTF-8 text of each column's term
- ``term_hashes``/``term_cols``: 64-bit hash of every term, sorted, and its column (vocabulary lookup)
- ``meta.json``, written last: format, sizes, k1, b and the SHA-256 of every array file

A folder is written under a temporary name and renamed into place, so a reader never sees half of
one; a damaged one fails its checksums (``CorruptLexicalError``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from matchmaker.engine.lexical import BM25Scoring, bm25_weights, tokenize

FORMAT = 1
ARRAYS = ("ids", "lengths", "indptr", "rows", "tf", "weights", "idf", "term_bytes", "term_offsets",
          "term_hashes", "term_cols")
_CHUNK = 1 << 20


class CorruptLexicalError(Exception):
    """A lexical index folder is incomplete, fails a checksum or has inconsistent arrays."""


def term_hash(term: str) -> int:
    """A stable 64-bit hash of a term (Python's own hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


# --- writing -----------------------------------------------------------------------------------------

def build_arrays(doc_tokens: Mapping[int, Iterable[str]], k1: float = 1.5,
                 b: float = 0.75) -> dict[str, np.ndarray]:
    """The arrays of an index over {listing id: tokens}, rows in ascending id order.

    One pass of Python maps tokens to column numbers; counting and sorting postings is numpy.
    """
    ids = np.array(sorted(doc_tokens), dtype=np.int64)
    vocab: dict[str, int] = {}
    cols, rows, tf, lengths = _postings(ids, doc_tokens, lambda token: vocab.setdefault(token, len(vocab)))
    return _finish(ids, lengths, cols, rows, tf, *_encode(list(vocab)), _hashes(list(vocab)), k1, b)


def merge_arrays(base: MappedBM25, changes: Mapping[int, Iterable[str]], removals: Iterable[int],
                 k1: float = 1.5, b: float = 0.75) -> dict[str, np.ndarray]:
    """The arrays of ``base`` with the documents in ``changes`` replaced or added and ``removals`` gone.

    Vectorised over the base's postings; only the changed documents are counted in Python. Weights
    and IDF are recomputed for the new document count and average length, so the result has the
    same IDF and, up to float32 rounding in the order of summing a query's terms, the same scores
    as a fresh build over the same documents (a term first seen in a changed document may get
    another column number). Terms no document has any more are dropped.
    """
    base_ids = np.asarray(base.arrays["ids"])
    gone = np.fromiter(set(removals) | set(changes), dtype=np.int64)
    kept_rows = ~np.isin(base_ids, gone)
    new_ids = np.array(sorted(changes), dtype=np.int64)
    n_base_terms = len(base.arrays["idf"])
    new_terms: dict[str, int] = {}
    wanted = sorted({t for tokens in changes.values() for t in tokens})
    known = dict(zip(wanted, base.columns(wanted), strict=True))

    def column(token: str) -> int:
        found = known.get(token)
        if found is not None:
            return found
        return new_terms.setdefault(token, n_base_terms + len(new_terms))

    cols_new, rows_new, tf_new, lengths_new = _postings(new_ids, changes, column)
    # Rows: kept base rows and new documents, in ascending id order.
    all_ids = np.concatenate([base_ids[kept_rows], new_ids])
    order = np.argsort(all_ids, kind="stable")
    position = np.empty(len(all_ids), dtype=np.int64)
    position[order] = np.arange(len(all_ids))
    row_map = np.full(len(base_ids), -1, dtype=np.int64)
    row_map[kept_rows] = position[:int(kept_rows.sum())]
    indptr = np.asarray(base.arrays["indptr"])
    cols_base = np.repeat(np.arange(n_base_terms, dtype=np.int64), np.diff(indptr))
    rows_base = row_map[np.asarray(base.arrays["rows"])]
    keep = rows_base >= 0
    cols = np.concatenate([cols_base[keep], cols_new])
    rows = np.concatenate([rows_base[keep], position[int(kept_rows.sum()) + rows_new]])
    tf = np.concatenate([np.asarray(base.arrays["tf"])[keep], tf_new])
    lengths = np.concatenate([np.asarray(base.arrays["lengths"])[kept_rows], lengths_new])[order]
    # Texts and hashes of every column, base then new, for _finish to keep the used ones.
    base_bytes = np.asarray(base.arrays["term_bytes"])
    new_bytes, new_offsets = _encode(list(new_terms))
    term_bytes = np.concatenate([base_bytes, new_bytes])
    term_offsets = np.concatenate([np.asarray(base.arrays["term_offsets"])[:-1], len(base_bytes) + new_offsets])
    hashes = np.empty(n_base_terms, dtype=np.uint64)
    hashes[np.asarray(base.arrays["term_cols"])] = np.asarray(base.arrays["term_hashes"])
    hashes = np.concatenate([hashes, _hashes(list(new_terms))])
    return _finish(all_ids[order], lengths, cols, rows, tf, term_bytes, term_offsets, hashes, k1, b)


def _postings(ids: np.ndarray, doc_tokens: Mapping[int, Iterable[str]],
              column: Callable[[str], int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(column, row, tf) of every distinct term of each document, and each document's length.

    ``column(token)`` numbers terms (a fresh build numbers them by first appearance).
    """
    codes: list[int] = []
    lengths = np.zeros(len(ids), dtype=np.int64)
    for row, listing_id in enumerate(ids.tolist()):
        tokens = list(doc_tokens[listing_id])
        lengths[row] = len(tokens)
        codes.extend([column(token) for token in tokens])
    n_docs = max(len(ids), 1)
    col_of_token = np.asarray(codes, dtype=np.int64)
    row_of_token = np.repeat(np.arange(len(ids), dtype=np.int64), lengths)
    # One key per (column, row): unique() sorts by column then row and counts tf.
    keys, tf = np.unique(col_of_token * n_docs + row_of_token, return_counts=True)
    cols, rows = np.divmod(keys, n_docs)
    return cols, rows, tf, lengths


def _encode(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 texts of terms end to end, and where each starts (one more offset: the end)."""
    encoded = [term.encode("utf-8") for term in terms]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _hashes(terms: list[str]) -> np.ndarray:
    return np.fromiter((term_hash(term) for term in terms), dtype=np.uint64, count=len(terms))


def _finish(ids: np.ndarray, lengths: np.ndarray, cols: np.ndarray, rows: np.ndarray, tf: np.ndarray,
            term_bytes: np.ndarray, term_offsets: np.ndarray, hashes: np.ndarray, k1: float,
            b: float) -> dict[str, np.ndarray]:
    """Postings sorted by column (unused columns dropped), BM25 weights and the vocabulary arrays."""
    order = np.argsort(cols, kind="stable")
    cols, rows, tf = cols[order], rows[order], tf[order]
    used = np.bincount(cols, minlength=len(hashes)) > 0
    if not used.all():
        cols = (np.cumsum(used) - 1)[cols]
        lengths_of_terms = np.diff(term_offsets)[used]
        starts = term_offsets[:-1][used]
        term_offsets = np.zeros(len(lengths_of_terms) + 1, dtype=np.int64)
        np.cumsum(lengths_of_terms, out=term_offsets[1:])
        # Gather the kept texts: byte j of kept term t comes from starts[t] + j.
        term_bytes = term_bytes[np.repeat(starts - term_offsets[:-1], lengths_of_terms)
                                + np.arange(term_offsets[-1])]
        hashes = hashes[used]
    n_terms = len(hashes)
    weights, idf = bm25_weights(rows, cols, tf, np.asarray(lengths, dtype=np.float32), n_terms, k1, b)
    by_hash = np.argsort(hashes, kind="stable")
    return {
        "ids": np.asarray(ids, dtype=np.int64), "lengths": np.asarray(lengths, dtype=np.int32),
        "indptr": np.searchsorted(cols, np.arange(n_terms + 1)).astype(np.int64),
        "rows": rows.astype(np.int32), "tf": tf.astype(np.int32), "weights": weights.astype(np.float32),
        "idf": idf.astype(np.float32), "term_bytes": np.asarray(term_bytes, dtype=np.uint8),
        "term_offsets": np.asarray(term_offsets, dtype=np.int64),
        "term_hashes": hashes[by_hash], "term_cols": by_hash.astype(np.int32),
    }


def write(path: str | os.PathLike[str], doc_tokens: Mapping[int, Iterable[str]], k1: float = 1.5,
          b: float = 0.75) -> None:
    """Write an index folder at ``path`` atomically (a temporary folder beside it, then a rename)."""
    write_arrays(path, build_arrays(doc_tokens, k1, b), k1, b)


def write_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], k1: float, b: float) -> None:
    target = Path(path)
    if target.exists():
        raise FileExistsError(f"{target} already exists: each generation is written once")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        digests = {}
        for name in ARRAYS:
            file = tmp / f"{name}.npy"
            with file.open("wb") as handle:
                np.save(handle, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            digests[name] = file_sha256(file)
        meta = {"format": FORMAT, "docs": int(len(arrays["ids"])), "terms": int(len(arrays["idf"])),
                "postings": int(len(arrays["rows"])), "k1": k1, "b": b, "sha256": digests}
        with (tmp / "meta.json").open("w", encoding="utf-8") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(file: Path) -> str:
    """The file's SHA-256 (hex), read in chunks."""
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading -----------------------------------------------------------------------------------------

class TermIdf(Mapping[str, float]):
    """{term: IDF} over the mapped vocabulary, without a Python dict per process.

    ``rarest`` is the largest IDF (what ``max(idf.values())`` would give, precomputed).
    """

    def __init__(self, store: MappedBM25) -> None:
        self._store = store
        self.rarest = float(store._idf.max()) if len(store._idf) else 0.0

    def __getitem__(self, term: str) -> float:
        column = self._store.column(term)
        if column is None:
            raise KeyError(term)
        return float(self._store._idf[column])

    def __len__(self) -> int:
        return len(self._store._idf)

    def __iter__(self) -> Iterator[str]:
        return (self._store.term(c) for c in range(len(self)))


def read_meta(folder: Path, corrupt: type[Exception]) -> dict[str, Any]:
    """The `meta.json` of an index folder written atomically; `corrupt` is raised when the folder exists
    but its meta.json is missing (an unfinished write) or unreadable, FileNotFoundError when it does not."""
    try:
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not folder.is_dir():
            raise
        raise corrupt(f"{folder}: no meta.json (an unfinished write?)") from None
    except ValueError as error:
        raise corrupt(f"{folder}: unreadable meta.json") from error


class MappedBM25(BM25Scoring):
    """A BM25 index folder opened read-only: queries like BM25Index, memory shared between processes."""

    def __init__(self, arrays: Mapping[str, np.ndarray], k1: float, b: float, path: Path | None = None) -> None:
        self.path = path
        self.k1, self.b = k1, b
        self.arrays = dict(arrays)
        self._ids = arrays["ids"]
        self._indptr = arrays["indptr"]
        self._rows_of = arrays["rows"]
        self._weights = arrays["weights"]
        self._idf = arrays["idf"]
        self._term_bytes = arrays["term_bytes"]
        self._term_offsets = arrays["term_offsets"]
        self._term_hashes = arrays["term_hashes"]
        self._term_cols = arrays["term_cols"]
        self.idf = TermIdf(self)

    @classmethod
    def open(cls, path: str | os.PathLike[str], verify: bool = True) -> MappedBM25:
        """Map a folder written by ``write``; ``verify`` checks every file's SHA-256 first."""
        folder = Path(path)
        meta = read_meta(folder, CorruptLexicalError)
        if meta.get("format") != FORMAT:
            raise CorruptLexicalError(f"{folder}: unsupported format {meta.get('format')}")
        arrays = {}
        for name in ARRAYS:
            file = folder / f"{name}.npy"
            if not file.exists():
                raise CorruptLexicalError(f"{folder}: {name}.npy is missing")
            if verify and file_sha256(file) != meta["sha256"].get(name):
                raise CorruptLexicalError(f"{folder}: {name}.npy fails its checksum")
            arrays[name] = _load(file)
        store = cls(arrays, float(meta["k1"]), float(meta["b"]), folder)
        store._check(meta)
        return store

    def _check(self, meta: Mapping[str, int]) -> None:
        n_docs, n_terms, n_postings = meta["docs"], meta["terms"], meta["postings"]
        consistent = (len(self._ids) == n_docs and len(self._idf) == n_terms
                      and len(self._indptr) == n_terms + 1 and len(self._rows_of) == n_postings
                      and len(self._weights) == n_postings and len(self._term_offsets) == n_terms + 1
                      and len(self._term_hashes) == n_terms and len(self._term_cols) == n_terms
                      and (n_terms == 0 or int(self._indptr[-1]) == n_postings))
        if not consistent:
            raise CorruptLexicalError(f"{self.path}: array sizes disagree with meta.json")

    @classmethod
    def empty(cls) -> MappedBM25:
        """An index of no documents (what a reader serves before any generation exists)."""
        return cls(build_arrays({}), 1.5, 0.75)

    def column(self, term: str) -> int | None:
        """The term's column, or None if no document has it."""
        return self.columns([term])[0]

    def columns(self, terms: list[str]) -> list[int | None]:
        """The column of each term (None where no document has it), looked up in one search."""
        if not terms or not len(self._term_hashes):
            return [None] * len(terms)
        wanted = np.fromiter((term_hash(t) for t in terms), dtype=np.uint64, count=len(terms))
        positions = np.searchsorted(self._term_hashes, wanted).tolist()
        found: list[int | None] = []
        for term, hashed, position in zip(terms, wanted.tolist(), positions, strict=True):
            column, encoded = None, term.encode("utf-8")
            # Equal hashes sit side by side; the stored text settles a (very unlikely) collision.
            while position < len(self._term_hashes) and int(self._term_hashes[position]) == hashed:
                if self._term_bytes_of(int(self._term_cols[position])) == encoded:
                    column = int(self._term_cols[position])
                    break
                position += 1
            found.append(column)
        return found

    def term(self, column: int) -> str:
        return self._term_bytes_of(column).decode("utf-8")

    def _term_bytes_of(self, column: int) -> bytes:
        return self._term_bytes[self._term_offsets[column]:self._term_offsets[column + 1]].tobytes()

    def _score_vector(self, query: str | Iterable[str]) -> np.ndarray:
        tokens = tokenize(query) if isinstance(query, str) else query
        columns = sorted({c for c in self.columns(list(set(tokens))) if c is not None})
        scores = np.zeros(len(self._ids), dtype=np.float32)
        for column in columns:  # in column order, as BM25Index sums them: equal float32 results
            start, end = self._indptr[column], self._indptr[column + 1]
            scores[self._rows_of[start:end]] += self._weights[start:end]
        return scores

    def _rows(self, ids: Iterable[int]) -> np.ndarray:
        wanted = np.fromiter(ids, dtype=np.int64)
        if not len(wanted) or not len(self._ids):
            return np.empty(0, dtype=np.int64)
        positions = np.minimum(np.searchsorted(self._ids, wanted), len(self._ids) - 1)
        return positions[self._ids[positions] == wanted].astype(np.int64)


def _load(file: Path) -> np.ndarray:
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        if file.stat().st_size > 256:  # an empty array cannot be mapped; anything else is damage
            raise CorruptLexicalError(f"{file}: unreadable array ({error})") from error
        try:
            return np.load(file, allow_pickle=False)
        except ValueError as inner:
            raise CorruptLexicalError(f"{file}: unreadable array ({inner})") from inner
