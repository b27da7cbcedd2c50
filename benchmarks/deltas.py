"""Benchmark: an outbox batch written as a whole new generation vs as a delta, and readers of base + deltas.

At ``--n`` listings (100k: real CSL/ChinaXiv tokens recombined, see lexical_corpus.py; synthetic clustered
unit vectors of dimension 384, an IVF index as the site builds above EXACT_SEARCH_MAX) it prints one JSON line:

- ``full_batch_bytes``/``full_batch_s``: what a worker wrote per batch of 64 new listings before deltas
  (the whole vector snapshot, and the lexical index merged and written again), median of 3 batches;
- ``delta_batch_bytes``/``delta_batch_s``: the same batch as a delta and a new manifest, median of 16
  deltas (each 48 new listings, 12 changed, 4 withdrawn);
- ``bm25_p50_ms_0_deltas``/``bm25_p50_ms_16_deltas``: top-100 BM25 query latency on the base alone and on
  the base with 16 deltas (a query is the first 80 search tokens of a real document);
  ``layered_open_s``: what a reader spends opening a generation of 16 deltas on an open base;
- ``merge_s``: folding the 16 deltas into a new base (vectors and lexical, written);
  ``merged_same_top10_ids``/``fresh_same_top10_ids``: share of queries whose top-10 ids on base + 16 deltas
  equal those of the merged base / of a base built from scratch over the same documents, and the largest
  relative difference of a top-10 score (float32 rounding of the order a query's terms are summed in);
  ``…_same_top10_up_to_ties``: the same where documents of equal score may be ordered either way;
- ``reader_uss_mb``: private memory (USS: Private_Clean + Private_Dirty of /proc/PID/smaps_rollup, what
  psutil reports as uss) of each of two reader processes alive together, after opening the vector index
  and running the same 200 searches, ``load`` (the snapshot read into each process, as before) vs
  ``mmap`` (IO_FLAG_MMAP | IO_FLAG_READ_ONLY: the page cache is shared); ``reader_uss_index_mb`` is the
  part above the process's USS before it opened the index.

Run: python benchmarks/deltas.py [--n 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

DIM = 384
BATCH = 64
DELTAS = 16
QUERY_TOKENS = 80
POOL = 100


def unit_vectors(n: int, seed: int, centers: int = 256) -> np.ndarray:
    """Clustered unit vectors (topics), like sentence embeddings of a catalogue."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centers, DIM)).astype(np.float32)
    vectors = middle[rng.integers(0, centers, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def uss_kb() -> int:
    total = 0
    with open("/proc/self/smaps_rollup", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("Private_Clean", "Private_Dirty", "Private_Hugetlb"):
                total += int(value.split()[0])
    return total


def reader_child(mode: str, folder: Path) -> None:
    """One reader process: open the vector index, search, say ready, wait for the go, report USS."""
    from matchmaker.engine.index import VectorIndex

    before = uss_kb()
    if mode == "load":
        index = VectorIndex.load(folder / "full.faiss")
    else:
        header = json.loads((folder / "b.header.json").read_text())
        index = VectorIndex.open_mapped(folder / "b.faiss", header)
    queries = unit_vectors(200, seed=99)
    for row in queries:
        index.search(row, 10)
    print("ready", flush=True)
    sys.stdin.readline()
    after = uss_kb()
    print(json.dumps({"uss_mb": round(after / 1024, 1), "index_mb": round((after - before) / 1024, 1)}), flush=True)


def two_readers(mode: str, folder: Path) -> list[dict[str, float]]:
    children = [subprocess.Popen([sys.executable, __file__, "--reader", mode, "--folder", str(folder)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:  # both are alive and have searched: now measure each
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [json.loads(child.stdout.readline()) for child in children if child.stdout is not None]
    for child in children:
        child.wait(60)
    return results


def p50_ms(index, queries) -> float:
    index.top(queries[0], POOL)
    times = []
    for query in queries:
        start = time.perf_counter()
        index.top(query, POOL)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reader")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.reader:
        reader_child(args.reader, args.folder)
        return

    from lexical_corpus import catalogue, real_tokens

    from matchmaker.engine import lexical_store, segments
    from matchmaker.engine.index import VectorIndex
    from matchmaker.engine.lexical_store import MappedBM25
    from matchmaker.engine.segments import LayeredBM25, LayeredVectors, Manifest

    real = real_tokens()
    n = args.n
    docs = catalogue(n + (3 + 2 * DELTAS) * BATCH, real)  # new listings, then the changed ones' new texts
    rng = np.random.default_rng(5)
    queries = [real[i][:QUERY_TOKENS] for i in rng.choice(len(real), args.queries, replace=False)]
    base_docs = {i: docs[i] for i in range(1, n + 1)}
    folder = Path(tempfile.mkdtemp(prefix="bench-deltas-", dir=ROOT / "var"))
    row: dict[str, object] = {"benchmark": "deltas", "listings": n, "batch": BATCH, "dim": DIM}
    try:
        ids = np.arange(1, n + 1, dtype=np.int64)
        vectors = unit_vectors(n, seed=1)
        start = time.perf_counter()
        index = VectorIndex.build(ids, vectors)
        header = index.save_mappable(folder / "b.faiss")
        (folder / "b.header.json").write_text(json.dumps(header))
        lexical_store.write(folder / "b.lex", base_docs)
        row["base_build_s"] = round(time.perf_counter() - start, 2)
        row["base_bytes"] = size_of(folder / "b.faiss") + size_of(folder / "b.lex")
        row["ivf"] = index.is_approximate

        # Before deltas: each batch wrote the whole snapshot and the whole merged lexical index again.
        next_id = n + 1
        full_times, full_bytes = [], []
        previous = MappedBM25.open(folder / "b.lex")
        for batch in range(3):
            new = {i: docs[i] for i in range(next_id, next_id + BATCH)}
            new_vectors = unit_vectors(BATCH, seed=100 + batch)
            start = time.perf_counter()
            index.upsert(np.array(sorted(new), dtype=np.int64), new_vectors)
            index.save(folder / f"full{batch}.faiss")
            arrays = lexical_store.merge_arrays(previous, new, [])
            lexical_store.write_arrays(folder / f"full{batch}.lex", arrays, 1.5, 0.75)
            full_times.append(time.perf_counter() - start)
            full_bytes.append(size_of(folder / f"full{batch}.faiss") + size_of(folder / f"full{batch}.lex"))
            previous = MappedBM25.open(folder / f"full{batch}.lex")
            next_id += BATCH
        shutil.copy(folder / "full2.faiss", folder / "full.faiss")
        for batch in range(3):
            (folder / f"full{batch}.faiss").unlink()
            shutil.rmtree(folder / f"full{batch}.lex")
        row["full_batch_bytes"] = int(statistics.median(full_bytes))
        row["full_batch_s"] = round(statistics.median(full_times), 3)
        del previous, index

        # Deltas: 48 new listings, 12 changed (new text and vector), 4 withdrawn per batch.
        manifest = Manifest("b.faiss", header)
        delta_times, delta_bytes, deltas = [], [], []
        for batch in range(DELTAS):
            new_ids = list(range(next_id, next_id + 48))
            changed = [int(i) for i in rng.choice(n, 12, replace=False) + 1]
            gone = [int(i) for i in rng.choice(n, 4, replace=False) + 1 if int(i) not in changed]
            texts = {i: docs[i] for i in new_ids}
            spare = n + (3 + DELTAS) * BATCH + batch * 12 + 1
            texts.update({i: docs[spare + j] for j, i in enumerate(changed)})
            batch_vectors = dict(zip([*new_ids, *changed], unit_vectors(60, seed=200 + batch), strict=True))
            name = f"d{batch:02d}.delta"
            start = time.perf_counter()
            segments.write_delta(folder / name, batch_vectors, gone, texts, gone, DIM)
            manifest = manifest.with_delta(name, 64, 0)
            manifest.write(folder / f"g{batch:02d}.gen")
            delta_times.append(time.perf_counter() - start)
            delta_bytes.append(size_of(folder / name) + size_of(folder / f"g{batch:02d}.gen"))
            deltas.append(segments.read_delta(folder / name, DIM))
            next_id += 48
        row["delta_batch_bytes"] = int(statistics.median(delta_bytes))
        row["delta_batch_s"] = round(statistics.median(delta_times), 4)

        base_lex = MappedBM25.open(folder / "b.lex")
        row["bm25_p50_ms_0_deltas"] = p50_ms(base_lex, queries)
        start = time.perf_counter()
        layered = LayeredBM25(base_lex, deltas)
        base_vectors = VectorIndex.open_mapped(folder / "b.faiss", header)
        layered_vectors = LayeredVectors(base_vectors, deltas)
        row["layered_open_s"] = round(time.perf_counter() - start, 3)
        row["bm25_p50_ms_16_deltas"] = p50_ms(layered, queries)

        start = time.perf_counter()
        writable = VectorIndex.open_mapped(folder / "b.faiss", header, mmap=False, verify=False)
        merged_vectors = segments.fold_vectors(writable, layered_vectors)
        merged_vectors.save_mappable(folder / "m.faiss")
        lexical_store.write_arrays(folder / "m.lex", segments.fold_lexical(layered), 1.5, 0.75)
        row["merge_s"] = round(time.perf_counter() - start, 2)
        row["merged_count"] = len(merged_vectors)
        # The same ranking as the merged base and as a base built from scratch over the same documents.
        final = dict(base_docs)
        for delta in deltas:
            for i in delta.lex_mentioned.tolist():
                final.pop(i, None)
        final.update(layered.live_delta_documents())
        lexical_store.write(folder / "fresh.lex", dict(sorted(final.items())))
        for name in ("merged", "fresh"):
            other = MappedBM25.open(folder / ("m.lex" if name == "merged" else "fresh.lex"))
            same, same_but_ties, worst = 0, 0, 0.0
            for query in queries:
                got, expected = layered.top(query, 10), other.top(query, 10)
                same += [i for i, _ in got] == [i for i, _ in expected]
                scores = other.scores(query, [i for i, _ in got] + [i for i, _ in expected])
                worst = max([worst] + [abs(s - scores.get(i, 0.0)) / s for i, s in got])
                # Where the ids differ, the two documents have the same score (a tie broken another way).
                same_but_ties += all(a == b or abs(scores.get(a, 0.0) - scores.get(b, 0.0)) <= 1e-6 * sa
                                     for (a, sa), (b, _) in zip(got, expected, strict=True))
            row[f"{name}_same_top10_ids"] = round(same / len(queries), 3)
            row[f"{name}_same_top10_up_to_ties"] = round(same_but_ties / len(queries), 3)
            row[f"{name}_max_rel_score_diff"] = float(f"{worst:.2g}")

        row["reader_uss_mb"] = {}
        row["reader_uss_index_mb"] = {}
        for mode in ("load", "mmap"):
            readers = two_readers(mode, folder)
            row["reader_uss_mb"][mode] = [r["uss_mb"] for r in readers]
            row["reader_uss_index_mb"][mode] = [r["index_mb"] for r in readers]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
