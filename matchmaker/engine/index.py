"""Vector index for one side of the marketplace (results or needs), keyed by listing id.

Exact inner-product search below a size threshold, an IVF index with native removal above it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from matchmaker.engine.lexical_store import file_sha256

# faiss-cpu 1.15.1 defaults this to 128000, which sends small batches down a path 5x slower
# than its BLAS one (measured: 50 queries on 100k vectors, 0.39 s vs 0.08 s).
faiss.cvar.distance_compute_blas_threshold = 1000

_MAGIC = b"MMVIDX01"
_FORMAT_VERSION = 1
_DIGEST_SIZE = 32
_CHUNK = 1 << 20
_MMAP_FLAT = getattr(faiss, "IO_FLAG_MMAP_IFC", 0)  # faiss >= 1.10 maps flat indexes; older ones read them

Hit = tuple[int, float]


class CorruptSnapshotError(Exception):
    """A snapshot file is truncated, fails its checksum or cannot be read by faiss."""


def limit_threads(n: int) -> None:
    """Cap faiss's OpenMP pool and the BLAS it bundles; call once in each worker process.

    faiss's bundled BLAS ignores ``omp_set_num_threads``, hence threadpoolctl as well.
    """
    faiss.omp_set_num_threads(n)
    threadpool_limits(limits=n)


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    if isinstance(ids, np.ndarray):
        return np.ascontiguousarray(ids.astype(np.int64, copy=False).ravel())
    return np.fromiter(ids, dtype=np.int64)


def _as_matrix(vectors: np.ndarray | Sequence[Sequence[float]], dim: int) -> np.ndarray:
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.shape[1] != dim:
        raise ValueError(f"expected vectors of dimension {dim}, got {matrix.shape[1]}")
    return matrix


def _check_batch(ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids) != len(vectors):
        raise ValueError("ids and vectors differ in length")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("duplicate ids")


def _ivf_nlist(n: int) -> int:
    # 2·sqrt(n) lists (2000 at 1M): a quarter of the k-means cost of 4·sqrt(n). With nprobe=64
    # (~3% of a 1M catalogue scanned) recall@10 stays >= 0.95 on hard clustered vectors where
    # nprobe=32 gave 0.94 (benchmarks/query.py); search stays in single-digit milliseconds.
    return max(16, int(2 * math.sqrt(n)))


class VectorIndex:
    """Cosine-similarity index over L2-normalised vectors with int64 listing ids.

    Below ``approx_threshold`` vectors it is exact (``IndexIDMap2(IndexFlatIP)``). Above it, an
    ``IndexIVFFlat`` with a hashtable direct map: it takes external ids, removes them in place
    and reconstructs vectors by id, so withdrawn listings never linger as hidden entries. It is
    retrained when the catalogue has grown 4x past the size it was trained on.

    Not thread-safe for writes; load it lazily in each worker process, never before a fork.
    """

    def __init__(self, dim: int, approx_threshold: int = 50_000, nprobe: int = 64,
                 train_sample_per_list: int = 48, seed: int = 1234) -> None:
        self.dim = dim
        self.approx_threshold = approx_threshold
        self.nprobe = nprobe
        self.train_sample_per_list = train_sample_per_list
        self.seed = seed
        self._trained_on = 0
        self._index: faiss.Index = self._new_exact()
        self._sorted_ids: np.ndarray | None = None  # cache for membership tests, reset on writes

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def build(cls, ids: Iterable[int] | np.ndarray, vectors: np.ndarray,
              **options: int) -> VectorIndex:
        """Build an index from scratch, choosing exact or approximate by size."""
        vectors = np.asarray(vectors, dtype=np.float32)
        index = cls(vectors.shape[1] if vectors.ndim == 2 else len(vectors), **options)
        index._rebuild(_as_ids(ids), _as_matrix(vectors, index.dim))
        return index

    @property
    def is_approximate(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    def _new_exact(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _new_ivf(self, vectors: np.ndarray) -> faiss.IndexIVFFlat:
        nlist = _ivf_nlist(len(vectors))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()
        ivf.cp.niter = 10
        ivf.cp.seed = self.seed
        ivf.cp.min_points_per_centroid = 5  # small catalogues just past the threshold are fine
        # faiss warns below 39 points per list; 48 keeps training to seconds up to 1M vectors.
        sample = self._train_sample(vectors, nlist * self.train_sample_per_list)
        ivf.train(sample)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.nprobe = min(self.nprobe, nlist)
        return ivf

    def _train_sample(self, vectors: np.ndarray, size: int) -> np.ndarray:
        if len(vectors) <= size:
            return vectors
        rows = np.random.default_rng(self.seed).choice(len(vectors), size=size, replace=False)
        return vectors[np.sort(rows)]

    def _rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        _check_batch(ids, vectors)
        if len(ids) > self.approx_threshold:
            self._index = self._new_ivf(vectors)
            self._trained_on = len(ids)
        else:
            self._index = self._new_exact()
            self._trained_on = 0
        if len(ids):
            self._index.add_with_ids(vectors, ids)
        self._sorted_ids = None

    def _reshape_if_needed(self) -> None:
        n = len(self)
        if self.is_approximate:
            grown = n > 4 * self._trained_on
            shrunk = n < self.approx_threshold // 2  # hysteresis: no flapping around the threshold
            if grown or shrunk:
                self._rebuild(*self.items())
        elif n > self.approx_threshold:
            self._rebuild(*self.items())

    # -- updates ------------------------------------------------------------------------------

    def upsert(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors, replacing any already stored under the same ids."""
        id_array = _as_ids(ids)
        matrix = _as_matrix(vectors, self.dim)
        _check_batch(id_array, matrix)
        if not len(id_array):
            return
        self._remove(id_array)
        self._index.add_with_ids(matrix, id_array)
        self._sorted_ids = None
        self._reshape_if_needed()

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove ids (unknown ids are ignored); returns how many were removed."""
        removed = self._remove(_as_ids(ids))
        if removed and self.is_approximate:
            self._reshape_if_needed()
        return removed

    def _remove(self, id_array: np.ndarray) -> int:
        if not len(id_array) or not len(self):
            return 0
        if self.is_approximate:
            # The hashtable direct map only accepts an IDSelectorArray.
            selector = faiss.IDSelectorArray(len(id_array), faiss.swig_ptr(id_array))
        else:
            selector = faiss.IDSelectorBatch(len(id_array), faiss.swig_ptr(id_array))
        removed = int(self._index.remove_ids(selector))
        self._sorted_ids = None
        return removed

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, listing_id: int) -> bool:
        return bool(self._stored_mask(np.array([listing_id], dtype=np.int64))[0])

    def ids(self) -> np.ndarray:
        """All stored ids, sorted."""
        if self._sorted_ids is None:
            self._sorted_ids = self._collect_ids()
        return self._sorted_ids.copy()

    def _collect_ids(self) -> np.ndarray:
        if not self.is_approximate:
            return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))
        invlists = self._index.invlists
        chunks = [faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                  for i in range(invlists.nlist) if invlists.list_size(i)]
        return np.sort(np.concatenate(chunks)) if chunks else np.empty(0, dtype=np.int64)

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything stored, ids sorted."""
        ids = self.ids()
        return ids, self._reconstruct(ids)

    def _reconstruct(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(ids)

    def vectors_for(self, ids: Iterable[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found_ids, vectors) for the requested ids that are stored, in request order."""
        id_array = _as_ids(ids)
        found = id_array[self._stored_mask(id_array)]
        return found, self._reconstruct(found)

    def _stored_mask(self, id_array: np.ndarray) -> np.ndarray:
        if self._sorted_ids is None:
            self._sorted_ids = self._collect_ids()
        stored = self._sorted_ids
        if not len(stored):
            return np.zeros(len(id_array), dtype=bool)
        positions = np.minimum(np.searchsorted(stored, id_array), len(stored) - 1)
        return stored[positions] == id_array

    def similarity(self, query_vec: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        """Exact cosine between the query and each stored id (missing ids are left out)."""
        found, vectors = self.vectors_for(ids)
        query = _as_matrix(query_vec, self.dim)[0]
        return dict(zip(found.tolist(), (vectors @ query).tolist(), strict=True))

    # -- search -------------------------------------------------------------------------------

    def search(self, query_vec: np.ndarray, k: int, allowed: set[int] | None = None) -> list[Hit]:
        """Top-k (id, cosine) for one query, best first, optionally only among ``allowed`` ids."""
        return self.search_many(_as_matrix(query_vec, self.dim), k, allowed)[0]

    def search_many(self, query_vecs: np.ndarray, k: int, allowed: set[int] | None = None,
                    excluded: np.ndarray | None = None) -> list[list[Hit]]:
        """Top-k (id, cosine) for each query row; ``excluded`` ids are skipped (with ``allowed`` None)."""
        queries = _as_matrix(query_vecs, self.dim)
        if k <= 0 or not len(self):
            return [[] for _ in range(len(queries))]
        if allowed is None and excluded is not None and len(excluded):
            skipped = _as_ids(excluded)
            inner = faiss.IDSelectorBatch(len(skipped), faiss.swig_ptr(skipped))
            return self._faiss_search(queries, k, faiss.IDSelectorNot(inner), self.nprobe)
        if allowed is None:
            return self._faiss_search(queries, k, None, self.nprobe)
        allowed_ids = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
        allowed_ids = allowed_ids[self._stored_mask(allowed_ids)]
        if not len(allowed_ids):
            return [[] for _ in range(len(queries))]
        if len(allowed_ids) * 20 <= len(self):
            return self._search_subset(queries, k, allowed_ids)
        return self._search_overfetch(queries, k, np.sort(allowed_ids))

    def _faiss_search(self, queries: np.ndarray, k: int, selector: faiss.IDSelector | None,
                      nprobe: int) -> list[list[Hit]]:
        if self.is_approximate:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=min(nprobe, self._index.nlist))
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, labels = self._index.search(queries, min(k, len(self)), params=params)
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
                for row_ids, row_scores in zip(labels, scores, strict=True)]

    def _search_subset(self, queries: np.ndarray, k: int,
                       allowed_ids: np.ndarray) -> list[list[Hit]]:
        # A small allowed set is scored exactly: cheaper than probing lists mostly filtered out,
        # and never comes back short.
        if not self.is_approximate:
            selector = faiss.IDSelectorBatch(len(allowed_ids), faiss.swig_ptr(allowed_ids))
            return self._faiss_search(queries, k, selector, self.nprobe)
        found, vectors = self.vectors_for(allowed_ids)
        if not len(found):
            return [[] for _ in range(len(queries))]
        scores = queries @ vectors.T
        top = min(k, len(found))
        results = []
        for row in scores:
            best = np.argpartition(-row, top - 1)[:top]
            best = best[np.lexsort((found[best], -row[best]))]
            results.append([(int(found[j]), float(row[j])) for j in best])
        return results

    def _search_overfetch(self, queries: np.ndarray, k: int,
                          allowed_sorted: np.ndarray) -> list[list[Hit]]:
        # For a large allowed set, building a faiss id selector costs more than the search:
        # fetch extra hits in proportion to what is filtered out, and widen until k survive.
        n = len(self)
        wanted = min(k, len(allowed_sorted))
        fetch = k + int(np.ceil(1.5 * k * n / len(allowed_sorted)))
        nprobe = self.nprobe
        nlist = self._index.nlist if self.is_approximate else 1
        while True:
            results = [[hit for hit in hits if _contains(allowed_sorted, hit[0])][:k]
                       for hits in self._faiss_search(queries, fetch, None, nprobe)]
            exhaustive = fetch >= n and nprobe >= nlist
            if exhaustive or all(len(hits) >= wanted for hits in results):
                return results
            fetch, nprobe = min(n, fetch * 4), min(nlist, nprobe * 4)

    # -- snapshots ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checksummed snapshot atomically (temp file in the same folder, then rename)."""
        target = Path(path)
        header = json.dumps({
            "version": _FORMAT_VERSION, "dim": self.dim, "approx_threshold": self.approx_threshold,
            "nprobe": self.nprobe, "train_sample_per_list": self.train_sample_per_list,
            "seed": self.seed, "trained_on": self._trained_on,
        }).encode()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                writer = _HashingWriter(handle)
                writer.write(_MAGIC + struct.pack("<I", len(header)) + header)
                faiss.write_index(self._index, faiss.PyCallbackIOWriter(writer.write))
                handle.write(writer.digest())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def header(self) -> dict[str, int]:
        return {"version": _FORMAT_VERSION, "dim": self.dim, "approx_threshold": self.approx_threshold,
                "nprobe": self.nprobe, "train_sample_per_list": self.train_sample_per_list,
                "seed": self.seed, "trained_on": self._trained_on}

    def save_mappable(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Write the bare FAISS index atomically, so readers can memory-map it (``open_mapped``).

        Returns the header to keep beside it (parameters and the file's SHA-256).
        """
        target = Path(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            faiss.write_index(self._index, tmp_name)
            with open(tmp_name, "rb+") as handle:
                os.fsync(handle.fileno())
            digest = file_sha256(Path(tmp_name))
            os.rename(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return {**self.header(), "sha256": digest}

    @classmethod
    def _from_faiss(cls, faiss_index: Any, header: dict[str, Any], source: Path) -> VectorIndex:
        """An index around a FAISS index read from `source`, with the settings its header recorded."""
        index = cls(header["dim"], approx_threshold=header["approx_threshold"], nprobe=header["nprobe"],
                    train_sample_per_list=header["train_sample_per_list"], seed=header["seed"])
        if faiss_index.d != index.dim:
            raise CorruptSnapshotError(f"{source}: dimension mismatch")
        index._index = faiss_index
        index._trained_on = header["trained_on"]
        if index.is_approximate:
            faiss.extract_index_ivf(faiss_index).nprobe = min(index.nprobe, faiss_index.nlist)
        return index

    @classmethod
    def open_mapped(cls, path: str | os.PathLike[str], header: dict[str, Any], *, mmap: bool = True,
                    verify: bool = True) -> VectorIndex:
        """Open a file written by ``save_mappable``: memory-mapped and read-only (shared by every process
        on the machine) with ``mmap``, else read into this process's memory (a copy a writer may change)."""
        source = Path(path)
        if header.get("version") != _FORMAT_VERSION:
            raise CorruptSnapshotError(f"{source}: unsupported version {header.get('version')}")
        if verify and file_sha256(source) != header.get("sha256"):
            raise CorruptSnapshotError(f"{source}: checksum mismatch")
        try:
            if not mmap:
                faiss_index = faiss.read_index(str(source))
            elif header["trained_on"]:  # IVF: its inverted lists are mapped
                faiss_index = faiss.read_index(str(source), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            else:  # flat: its vectors are mapped
                faiss_index = faiss.read_index(str(source), _MMAP_FLAT | faiss.IO_FLAG_READ_ONLY)
        except (RuntimeError, MemoryError) as error:
            raise CorruptSnapshotError(f"{source}: faiss could not read it: {error}") from error
        return cls._from_faiss(faiss_index, header, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VectorIndex:
        """Read a snapshot written by ``save``; raises CorruptSnapshotError if it is damaged."""
        source = Path(path)
        size = source.stat().st_size
        payload_end = size - _DIGEST_SIZE
        if payload_end < len(_MAGIC) + 4:
            raise CorruptSnapshotError(f"{source}: too short to be a snapshot")
        _verify_digest(source, payload_end)
        with source.open("rb") as handle:
            if handle.read(len(_MAGIC)) != _MAGIC:
                raise CorruptSnapshotError(f"{source}: not a vector index snapshot")
            (header_len,) = struct.unpack("<I", handle.read(4))
            try:
                header = json.loads(handle.read(header_len))
            except ValueError as error:
                raise CorruptSnapshotError(f"{source}: unreadable header") from error
            if header.get("version") != _FORMAT_VERSION:
                raise CorruptSnapshotError(f"{source}: unsupported version {header.get('version')}")
            reader = _BoundedReader(handle, payload_end - handle.tell())
            try:
                faiss_index = faiss.read_index(faiss.PyCallbackIOReader(reader.read))
            except (RuntimeError, MemoryError) as error:
                raise CorruptSnapshotError(f"{source}: faiss could not read it: {error}") from error
        return cls._from_faiss(faiss_index, header, source)


def _contains(sorted_ids: np.ndarray, listing_id: int) -> bool:
    position = int(np.searchsorted(sorted_ids, listing_id))
    return position < len(sorted_ids) and int(sorted_ids[position]) == listing_id


class _HashingWriter:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._handle.write(data)

    def digest(self) -> bytes:
        return self._hash.digest()


class _BoundedReader:
    def __init__(self, handle: BinaryIO, remaining: int) -> None:
        self._handle = handle
        self._remaining = remaining

    def read(self, size: int) -> bytes:
        data = self._handle.read(min(size, self._remaining))
        self._remaining -= len(data)
        return data


def _verify_digest(path: Path, payload_end: int) -> None:
    # Checked before faiss parses anything, so a damaged length field cannot trigger a huge
    # allocation or a crash inside faiss.
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        remaining = payload_end
        while remaining:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                raise CorruptSnapshotError(f"{path}: truncated")
            digest.update(chunk)
            remaining -= len(chunk)
        if handle.read() != digest.digest():
            raise CorruptSnapshotError(f"{path}: checksum mismatch")
