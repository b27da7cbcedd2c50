"""Benchmark: the lexical (BM25) index as each web process built it vs built once by a worker and mapped.

For each catalogue size (real CSL/ChinaXiv tokens, see lexical_corpus.py) and each engine, a fresh
child process measures one side, and the parent prints one JSON line per size:

- ``scipy``: ``BM25Index`` built in the process that serves (what every web process did per generation):
  build seconds, anonymous (private) memory it keeps, query latency;
- ``mapped``: ``lexical_store.write`` in a worker (build+write seconds, size on disk; ``merge_batch_s``:
  the next generation for one outbox batch of 64 changed or new listings, merged), then a reader
  process: open seconds, private memory (RssAnon) and page-cache memory it maps (RssFile, shared by
  every reader on the machine), query latency;
- ``tantivy`` (only when the package imports; ``BENCH_TANTIVY_PATH`` may name a folder to import it
  from): the same pre-tokenised tokens in a whitespace-tokenised field, one writer thread.

A query is the first 80 search tokens of a real document (a listing's match terms are about that
long), top 100 (the candidate pool of matching). ``top10_agree`` is the share of top-10 ids equal to
``BM25Index``'s, ``same_scores`` whether every top-100 score is equal.
Run: python benchmarks/lexical.py [--sizes 10000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

QUERY_TOKENS = 80
POOL = 100
BATCH = 64


def memory() -> dict[str, float]:
    """RssAnon (private) and RssFile (mapped files, shareable) of this process, in MB."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) / 1024
    return fields


def latencies(run, queries) -> tuple[dict[str, float], list]:
    run(queries[0])  # first query pays for lazy set-up (tokeniser, page faults of small arrays)
    times, results = [], []
    for query in queries:
        start = time.perf_counter()
        results.append(run(query))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"query_p50_ms": round(statistics.median(times), 2),
            "query_p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}, results


def child(engine: str, n: int, folder: Path, queries_file: Path) -> dict:
    queries = json.loads(queries_file.read_text(encoding="utf-8"))
    out: dict = {}
    if engine in ("scipy", "mapped-write", "tantivy-write"):
        from lexical_corpus import catalogue

        docs = catalogue(n)
        gc.collect()
        before = memory()
        start = time.perf_counter()
        if engine == "scipy":
            from matchmaker.engine.lexical import BM25Index

            index = BM25Index(docs)
            out["build_s"] = round(time.perf_counter() - start, 2)
            del docs
            gc.collect()
            out["private_mb"] = round(memory()["RssAnon"] - before["RssAnon"])
            stats, results = latencies(lambda q: index.top(q, POOL), queries)
            out.update(stats)
            out["top"] = results
        elif engine == "mapped-write":
            from matchmaker.engine import lexical_store

            lexical_store.write(folder / "lexical", docs)
            out["build_s"] = round(time.perf_counter() - start, 2)
            out["disk_mb"] = round(sum(f.stat().st_size for f in (folder / "lexical").iterdir()) / 2**20)
            # One outbox batch: 32 listings changed and 32 new, merged into the next generation.
            changed = {i: docs[n - i] for i in range(1, BATCH // 2 + 1)}
            changed |= {n + i: docs[i] for i in range(1, BATCH // 2 + 1)}
            start = time.perf_counter()
            base = lexical_store.MappedBM25.open(folder / "lexical")
            merged = lexical_store.merge_arrays(base, changed, [])
            lexical_store.write_arrays(folder / "lexical-next", merged, base.k1, base.b)
            out["merge_batch_s"] = round(time.perf_counter() - start, 2)
        else:
            import tantivy

            builder = tantivy.SchemaBuilder()
            builder.add_integer_field("id", stored=True, fast=True, indexed=True)
            builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
            (folder / "tantivy").mkdir()
            index = tantivy.Index(builder.build(), path=str(folder / "tantivy"))
            writer = index.writer(200_000_000, 1)
            for listing_id, tokens in docs.items():
                writer.add_document(tantivy.Document(id=listing_id, body=" ".join(tokens)))
            writer.commit()
            writer.wait_merging_threads()
            out["build_s"] = round(time.perf_counter() - start, 2)
            out["disk_mb"] = round(sum(f.stat().st_size for f in (folder / "tantivy").iterdir()) / 2**20)
        return out
    if engine == "mapped-read":
        from matchmaker.engine.lexical_store import MappedBM25
    else:
        import tantivy
    gc.collect()
    before = memory()
    start = time.perf_counter()
    if engine == "mapped-read":
        reader = MappedBM25.open(folder / "lexical", verify=False)
        run = lambda q: reader.top(q, POOL)  # noqa: E731
    else:
        index = tantivy.Index.open(str(folder / "tantivy"))
        searcher = index.searcher()
        schema = index.schema

        def run(q):
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in set(q)])
            return [(searcher.doc(address)["id"][0], score) for score, address in searcher.search(query, POOL).hits]
    out["open_s"] = round(time.perf_counter() - start, 3)
    stats, results = latencies(run, queries)
    after = memory()
    out.update(stats)
    out["private_mb"] = round(after["RssAnon"] - before["RssAnon"])
    out["mapped_shared_mb"] = round(after["RssFile"] - before["RssFile"])
    out["top"] = results
    return out


def run_child(engine: str, n: int, folder: Path, queries_file: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", engine, "--n", str(n), "--folder", str(folder),
                           "--queries-file", str(queries_file)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(reference: list, other: list) -> dict:
    top10 = [len({i for i, _ in a[:10]} & {i for i, _ in b[:10]}) / max(1, min(10, len(a)))
             for a, b in zip(reference, other, strict=True)]
    same = all([[i, s] for i, s in a] == [[i, s] for i, s in b] for a, b in zip(reference, other, strict=True))
    return {"top10_agree": round(statistics.mean(top10), 4), "same_scores": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=os.environ.get("BENCH_LEXICAL_SIZES", "10000,100000"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--child")
    parser.add_argument("--n", type=int)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--queries-file", type=Path)
    args = parser.parse_args()
    if os.environ.get("BENCH_TANTIVY_PATH"):
        sys.path.insert(0, os.environ["BENCH_TANTIVY_PATH"])
    if args.child:
        print(json.dumps(child(args.child, args.n, args.folder, args.queries_file)))
        return
    from lexical_corpus import real_tokens

    real = real_tokens()
    picks = random.Random(11).sample(range(len(real)), args.queries)
    try:
        import tantivy  # noqa: F401
        engines = ("scipy", "mapped", "tantivy")
    except ImportError:
        engines = ("scipy", "mapped")
    for n in (int(s) for s in args.sizes.split(",")):
        folder = Path(tempfile.mkdtemp(prefix="bench-lexical-"))
        try:
            queries_file = folder / "queries.json"
            queries_file.write_text(json.dumps([real[i][:QUERY_TOKENS] for i in picks], ensure_ascii=False))
            row: dict = {"bench": "lexical", "docs": n, "queries": args.queries, "load_1m": os.getloadavg()[0]}
            reference = None
            for engine in engines:
                if engine == "scipy":
                    figures = run_child("scipy", n, folder, queries_file)
                else:
                    figures = {"write": run_child(f"{engine}-write", n, folder, queries_file),
                               "read": run_child(f"{engine}-read", n, folder, queries_file)}
                top = figures.pop("top", None) or figures["read"].pop("top")
                if reference is None:
                    reference = top
                else:
                    figures.update(agreement(reference, top))
                row[engine] = figures
            print(json.dumps(row), flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
