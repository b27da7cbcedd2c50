"""Benchmark: latency, recall@10 and memory of one top-10 query on VectorIndex at 10k-1M vectors.

Prints one JSON line. ``BENCH_QUERY_MAX_N`` caps the largest catalogue for quick runs.
memory_mb is the process's RSS growth while building (allocator reuse blurs it at 10k);
snapshot_mb is the index's serialised size.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matchmaker.engine.index import VectorIndex  # noqa: E402

DIM = 384
SIZES = (10_000, 100_000, 1_000_000)
TOP_K = 10
N_QUERIES = 200
N_EXACT_TIMED = 100  # exact search at 1M costs ~0.1 s a query
BUILD_THREADS = 2


class ClusteredEmbeddings:
    """Vectors shaped like sentence embeddings: topics, sub-topics and an anisotropic spectrum.

    Uniform random vectors have no neighbourhood structure, so approximate indexes score a
    misleadingly low recall on them; real embeddings are clustered and share a dominant direction.
    Top-10 neighbours sit at cosine ~0.6 against a mean of ~0.15. ``BENCH_QUERY_NOISE``
    (default 1.5) makes it harder: at 2.0 neighbours drown in noise and every approximate index
    loses recall.
    """

    def __init__(self, n_topics: int = 200, subtopics_per_topic: int = 100,
                 subtopic_scale: float = 0.8, noise_scale: float = 1.5, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self._rng = rng
        self._topics = rng.standard_normal((n_topics, DIM), dtype=np.float32) / np.sqrt(DIM)
        self._noise_scale = noise_scale
        self._subtopics = subtopic_scale * rng.standard_normal(
            (n_topics, subtopics_per_topic, DIM), dtype=np.float32) / np.sqrt(DIM)
        mixing, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        spectrum = (np.arange(1, DIM + 1) ** -0.5).astype(np.float32)
        self._shape = (mixing * spectrum).astype(np.float32) * np.sqrt(DIM / (spectrum**2).sum())
        self._common = rng.standard_normal(DIM).astype(np.float32)
        self._common *= 0.8 / np.linalg.norm(self._common)

    def sample(self, n: int, chunk: int = 100_000) -> np.ndarray:
        out = np.empty((n, DIM), dtype=np.float32)
        for start in range(0, n, chunk):
            out[start:start + chunk] = self._chunk(min(chunk, n - start))
        return out

    def _chunk(self, n: int) -> np.ndarray:
        rng = self._rng
        topic = rng.integers(0, len(self._topics), n)
        sub = rng.integers(0, self._subtopics.shape[1], n)
        noise = self._noise_scale * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
        x = (self._topics[topic] + self._subtopics[topic, sub] + noise) @ self._shape + self._common
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def snapshot_mb(index: VectorIndex) -> float:
    """Size of the index as faiss serialises it, counted without holding a copy in memory."""
    written = 0

    def count(data: bytes) -> int:
        nonlocal written
        written += len(data)
        return len(data)

    faiss.write_index(index._index, faiss.PyCallbackIOWriter(count))
    return written / 2**20


def time_queries(index: VectorIndex, queries: np.ndarray) -> tuple[float, float]:
    latencies = []
    with threadpool_limits(limits=1):
        faiss.omp_set_num_threads(1)
        for row in queries:
            start = time.perf_counter()
            index.search(row, TOP_K)
            latencies.append((time.perf_counter() - start) * 1000)
    faiss.omp_set_num_threads(BUILD_THREADS)
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))


def build(ids: np.ndarray, vectors: np.ndarray,
          approx_threshold: int) -> tuple[VectorIndex, float, float]:
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    with threadpool_limits(limits=BUILD_THREADS):
        faiss.omp_set_num_threads(BUILD_THREADS)
        index = VectorIndex.build(ids, vectors, approx_threshold=approx_threshold)
    seconds = time.perf_counter() - start
    gc.collect()
    return index, seconds, rss_mb() - before


def recall_at_k(found: list[list[tuple[int, float]]],
                truth: list[list[tuple[int, float]]]) -> float:
    hits = [len({i for i, _ in f} & {i for i, _ in t}) / max(1, len(t))
            for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def bench_size(n: int) -> list[dict[str, object]]:
    noise = float(os.environ.get("BENCH_QUERY_NOISE", "1.5"))
    # The topic structure stays fixed as n grows: a bigger catalogue covers the same fields of
    # technology more densely, it does not invent new ones.
    generator = ClusteredEmbeddings(noise_scale=noise)
    vectors = generator.sample(n)
    queries = generator.sample(N_QUERIES)
    ids = np.arange(n, dtype=np.int64) * 7 + 1  # sparse ids like real primary keys

    exact, exact_build, exact_mb = build(ids, vectors, approx_threshold=n + 1)
    with threadpool_limits(limits=BUILD_THREADS):
        truth = exact.search_many(queries, TOP_K)
    exact_p50, exact_p95 = time_queries(exact, queries[:N_EXACT_TIMED])
    exact_size = snapshot_mb(exact)
    del exact
    approx, approx_build, approx_mb = build(ids, vectors, approx_threshold=0)
    del vectors
    approx_p50, approx_p95 = time_queries(approx, queries)
    found = [approx.search(row, TOP_K) for row in queries]
    ivf = faiss.extract_index_ivf(approx._index)
    return [
        {"n": n, "index": "exact", "p50_ms": round(exact_p50, 3), "p95_ms": round(exact_p95, 3),
         "recall_at_10": 1.0, "memory_mb": round(exact_mb), "snapshot_mb": round(exact_size),
         "build_s": round(exact_build, 1)},
        {"n": n, "index": "ivf", "nlist": ivf.nlist, "nprobe": ivf.nprobe,
         "p50_ms": round(approx_p50, 3), "p95_ms": round(approx_p95, 3),
         "recall_at_10": round(recall_at_k(found, truth), 4), "memory_mb": round(approx_mb),
         "snapshot_mb": round(snapshot_mb(approx)), "build_s": round(approx_build, 1)},
    ]


def main() -> None:
    max_n = int(os.environ.get("BENCH_QUERY_MAX_N", SIZES[-1]))
    results = []
    for n in (size for size in SIZES if size <= max_n):
        results.extend(bench_size(n))
        gc.collect()
    print(json.dumps({"name": "query", "results": results}))


if __name__ == "__main__":
    main()
