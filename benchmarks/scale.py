"""Scale benchmark (issue 11): a province-size catalogue served by the real stack; prints one JSON line.

    make bench BENCH=scale                      # 10,000 listings
    .venv/bin/python benchmarks/scale.py --listings 1000000

What it builds, on a fresh PostgreSQL database and index folder:
- N published research results. Texts are real CSL/ChinaXiv tokens, recombined past the ~29k real papers
  (`benchmarks/lexical_corpus.py`). Vectors are synthetic but clustered like real ones: each is a real
  e5 embedding of a Zhibei result plus noise (cosine ≈ 0.85 to its centre), since embedding a million
  texts takes a day here. Listings, vectors and search tokens are loaded with COPY.
- 200 real Zhibei needs, published: their match pages are the load, so the query side is the real model.

What it measures:
- `build_seconds`: both indexes of the result side from scratch (`matching.index.rebuild`, as
  `flask index rebuild`: vectors read from the database, FAISS and the BM25 folder written).
- `publish_to_search`: a trickle of one new (real Zhibei) result per second for `--trickle-seconds`,
  published through the site's service while the catalogue is live; a real Celery worker embeds and
  indexes it; the time until a search on the site (gunicorn, 2 workers) shows it: p50 / p95 / max.
- `match_page`: `/matches/need/<id>` under `--clients` concurrent HTTP clients for `--load-seconds`
  (each client a thread with its own keep-alive connection): p50 / p95 / p99 ms, requests/s, errors.
- `web_memory_mb`: per gunicorn worker after the load: rss, pss, private (its own) and shared
  (memory-mapped index pages, pages shared with the master).
- `vector_recall@10`: the served vector index (IVF above `EXACT_SEARCH_MAX`) against exact search over
  every stored vector, for the 200 needs' real query vectors.
- `lexical_overlap@10`: the served BM25 index after the trickle (built incrementally) against one built
  from scratch from the database, top-10 overlap for the same needs' terms.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_env import children, create_database, drop_database, memory_mb, stop_group  # noqa: E402
from lexical_corpus import catalogue  # noqa: E402

import models  # noqa: E402
from matchmaker import create_app  # noqa: E402
from models import ListingStatus, Organization, OrgKind, ResearchResult, Role, Session, TechNeed, User  # noqa: E402
from models.base import Base  # noqa: E402
from tests.integration.matching_worker import ZHIBEI_NEEDS, Worker, flush_redis, wait_until, zhibei_texts  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CHUNK = 20_000


def _progress(stage: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {stage}", file=sys.stderr, flush=True)


def _percentiles(values: list[float], scale: float = 1.0, digits: int = 1) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    arr = np.asarray(values) * scale
    return {"p50": round(float(np.percentile(arr, 50)), digits), "p95": round(float(np.percentile(arr, 95)), digits),
            "max": round(float(arr.max()), digits)}


# --- the catalogue -----------------------------------------------------------------------------------

def _centres(count: int) -> np.ndarray:
    from matchmaker.matching import embedding

    texts = [f"{t['title']}\n{t['description']}" for t in zhibei_texts(count)]
    return np.asarray(embedding.get_embedder().embed_passages(texts), dtype=np.float32)


def _vectors(start: int, count: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = centres[(np.arange(start, start + count) * 2654435761) % len(centres)]
    noisy = picks + rng.normal(0.0, 0.03, size=picks.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def _load_catalogue(url: str, n: int, org_id: int, centres: np.ndarray, model_name: str) -> None:
    """COPY n published results (ids 1..n), their search tokens and their vectors."""
    from matchmaker.matching import embedding

    docs = catalogue(n)
    hashes: dict[int, str] = {}
    now = datetime.now(UTC)
    rng = np.random.default_rng(7)
    dim = centres.shape[1]
    raw = models.db.get_engine(url).raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            for start in range(0, n, CHUNK):
                count = min(CHUNK, n - start)
                vectors = _vectors(start, count, centres, rng)
                with cur.copy("COPY research_results (id, title, summary, description, keywords, transfer_modes,"
                              " patent_numbers, region, language, status, published_at, confidential,"
                              " organization_id, search_text, created_at, updated_at) FROM STDIN") as copy:
                    for offset in range(count):
                        listing_id = start + offset + 1
                        tokens = docs[listing_id]
                        words = tokens[: max(1, len(tokens) // 2)]  # the words; the pairs follow them
                        title = "".join(words[:8])[:200] or f"成果{listing_id}"
                        description = "".join(words[:300])
                        # The hash of the text the worker would embed, so its reconcile sees a current vector.
                        hashes[listing_id] = embedding.content_hash(embedding.listing_text(title, [], "", description))
                        copy.write_row((listing_id, title, "", description, "[]", '["transfer"]', "[]",
                                        "350500", "zh", ListingStatus.PUBLISHED.value, now, False, org_id,
                                        f" {' '.join(tokens)} ", now, now))
                with cur.copy("COPY listing_vectors (kind, listing_id, model_name, dim, content_hash, vector,"
                              " updated_at) FROM STDIN") as copy:
                    for offset in range(count):
                        listing_id = start + offset + 1
                        copy.write_row(("result", listing_id, model_name, dim,
                                        hashes.pop(listing_id),
                                        vectors[offset].astype("<f4").tobytes(), now))
            cur.execute("SELECT setval(pg_get_serial_sequence('research_results', 'id'), %s)", (n,))
        conn.commit()
    finally:
        raw.close()


def _people() -> tuple[User, int, int]:
    university = Organization(name="规模测试大学", kind=OrgKind.UNIVERSITY, entity_type="022", region="350500",
                              verified=True)
    enterprise = Organization(name="规模测试企业", kind=OrgKind.ENTERPRISE, entity_type="110", region="350500",
                              verified=True)
    bureau = Organization(name="规模测试科技局", kind=OrgKind.BUREAU, entity_type="150", region="350500", verified=True)
    staff = User(email="scale-staff@example.cn", name="基准", role=Role.STAFF, organization=bureau, password_hash="x")
    Session.add_all([university, enterprise, bureau, staff])
    Session.commit()
    return staff, university.id, enterprise.id


def _needs(org_id: int, count: int) -> list[TechNeed]:
    needs = [TechNeed(title=t["title"], summary=t["summary"], description=t["description"], keywords=[],
                      transfer_modes=["transfer"], region="350500", status=ListingStatus.PUBLISHED,
                      published_at=datetime.now(UTC), organization_id=org_id)
             for t in zhibei_texts(count, path=ZHIBEI_NEEDS)]
    Session.add_all(needs)
    Session.commit()
    return needs


# --- the servers -------------------------------------------------------------------------------------

class Web:
    """gunicorn with 2 workers, as in the Procfile, on a local port."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.port, self.env, self.log_path = port, {**os.environ, **env}, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [gunicorn, "--workers", "2", "--timeout", "300", "--bind", f"127.0.0.1:{self.port}",
             "matchmaker:create_app()"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        wait_until(lambda: self.get("/")[0] == 200, 120)

    def get(self, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            if own:
                conn.close()

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []


def _trickle(web: Web, staff: User, org_id: int, seconds: int, skip: int) -> dict[str, object]:
    from matchmaker.listings import lifecycle

    texts = zhibei_texts(seconds, skip=skip)
    pending: list[tuple[int, str, float]] = []
    seen: dict[int, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=300)
        give_up = float("inf")
        while not (done.is_set() and len(seen) == len(pending)) and time.monotonic() < give_up:
            if done.is_set() and give_up == float("inf"):
                give_up = time.monotonic() + 300  # a listing not searchable 5 minutes after the last publish
            with lock:
                waiting = [p for p in pending if p[0] not in seen]
            if not waiting:
                time.sleep(0.2)
                continue
            listing_id, title, published = waiting[0]
            status, body = web.get(f"/search?side=result&q={quote(title)}", conn)
            if status == 0:
                conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=300)
            if f'/result/{listing_id}"'.encode() in body:
                seen[listing_id] = time.monotonic() - published
            else:
                time.sleep(0.25)

    def publish(text: dict[str, str]) -> int:
        listing = ResearchResult(title=text["title"], summary=text["summary"], description=text["description"],
                                 keywords=[], transfer_modes=["transfer"], region="350500",
                                 status=ListingStatus.PENDING, organization_id=org_id)
        Session.add(listing)
        Session.commit()
        lifecycle.approve_listing(staff, listing)
        return listing.id

    # The worker loads its model on its first batch: one listing first, not timed.
    warmup = zhibei_texts(1, skip=skip - 1)[0]
    warmup_id = publish(warmup)
    warmup_path = f"/search?side=result&q={quote(warmup['title'])}"
    wait_until(lambda: f'/result/{warmup_id}"'.encode() in web.get(warmup_path)[1], 900, interval=1)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    for i, text in enumerate(texts):
        wait = started + i - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        listing_id = publish(text)
        with lock:
            pending.append((listing_id, text["title"], time.monotonic()))
    done.set()
    watcher.join(timeout=600)
    lags = list(seen.values())
    return {"published": len(pending), "searchable": len(seen), **_percentiles(lags, digits=2)}


def _load(web: Web, need_ids: list[int], clients: int, seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=300)
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            status, _body = web.get(f"/matches/need/{rng.choice(need_ids)}", conn)
            took = time.perf_counter() - began
            with lock:
                if status == 200:
                    latencies.append(took)
                else:
                    errors[0] += 1
            if status == 0:
                conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=300)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    arr = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return {"clients": clients, "requests": len(latencies), "errors": errors[0],
            "per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(arr, 50)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1),
            "p99_ms": round(float(np.percentile(arr, 99)), 1)}


# --- quality of the served indexes -------------------------------------------------------------------

def _vector_recall(queries: np.ndarray) -> float:
    from matchmaker.matching import index

    index.forget_loaded()
    served = index.reader_index("result")
    ids, stored = served.items()
    exact = np.argsort(-(queries @ stored.T), axis=1)[:, :10]
    hits = 0
    for row, found in enumerate(served.search_many(queries, 10)):
        hits += len({i for i, _s in found} & set(ids[exact[row]].tolist()))
    return round(hits / (10 * len(queries)), 4)


def _lexical_overlap(needs: list[TechNeed], scratch: Path) -> float:
    from matchmaker.engine import lexical_store
    from matchmaker.listings.search import match_terms
    from matchmaker.matching import index

    index.forget_loaded()
    served = index.reader_lexical("result")
    lexical_store.write(scratch, index.lexical_documents("result"))
    fresh = lexical_store.MappedBM25.open(scratch)
    same = total = 0
    for need in needs:
        terms = match_terms(f"{need.title}\n{need.description}")
        want = {i for i, _s in fresh.top(terms, 10)}
        same += len(want & {i for i, _s in served.top(terms, 10)})
        total += len(want)
    return round(same / total, 4) if total else 1.0


# --- the run -----------------------------------------------------------------------------------------

def run(n: int, trickle_seconds: int, clients: int, load_seconds: float, port: int) -> dict[str, object]:
    from matchmaker.matching import embedding, index, outbox

    url = create_database("mm_scale")
    index_dir = Path(tempfile.mkdtemp(prefix="mm-scale-index-"))
    env = {"MATCHMAKER_DATABASE_URL": url, "MATCHMAKER_REDIS_URL": REDIS_URL,
           "MATCHMAKER_INDEX_DIR": str(index_dir), "MATCHMAKER_SECRET_KEY": "scale-benchmark",
           "MATCHMAKER_RATELIMIT_ENABLED": "false"}
    worker = web = None
    report: dict[str, object] = {"name": "scale", "listings": n, "worker_processes": 2}
    try:
        Base.metadata.create_all(models.db.get_engine(url))
        app = create_app({"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "INDEX_DIR": str(index_dir),
                          "SECRET_KEY": "scale-benchmark", "INDEX_OPEN_IN_BACKGROUND": False})
        flush_redis(REDIS_URL)
        with app.app_context():
            info = embedding.get_embedder().info
            staff, university_id, enterprise_id = _people()
            _progress(f"copying {n:,} listings and vectors")
            began = time.perf_counter()
            _load_catalogue(url, n, university_id, _centres(256), info.name)
            report["catalogue_copy_seconds"] = round(time.perf_counter() - began, 1)
            needs = _needs(enterprise_id, 200)
            _progress("building both indexes from scratch")
            began = time.perf_counter()
            index.rebuild("result")
            Session.commit()
            report["build_seconds"] = round(time.perf_counter() - began, 1)
            # The needs are embedded and indexed here, before the worker starts, as on a site whose
            # catalogue is already indexed; their match notices are not part of the measurement.
            _progress("embedding the 200 needs")
            outbox.reconcile()
            outbox.process_outbox()
            flush_redis(REDIS_URL)
            _progress("starting the worker and gunicorn")
            worker = Worker(env, index_dir / "worker.log", concurrency=2)
            worker.start()
            web = Web(env, port, index_dir / "web.log")
            web.start()
            for need in needs[:20]:  # both web workers load the model and open the indexes
                web.get(f"/matches/need/{need.id}")
            _progress(f"trickle: one publish a second for {trickle_seconds} s")
            report["publish_to_search_s"] = _trickle(web, staff, university_id, trickle_seconds, skip=300)
            need_ids = [need.id for need in needs]
            _progress(f"match pages: {clients} clients for {load_seconds:.0f} s")
            report["match_page"] = _load(web, need_ids, clients, load_seconds)
            report["web_memory_mb"] = [memory_mb(pid) for pid in web.worker_pids()]
            _progress("recall of the served indexes")
            queries = np.asarray(embedding.get_embedder().embed_queries(
                [f"{need.title}\n{need.description}" for need in needs]), dtype=np.float32)
            report["vector_recall@10"] = _vector_recall(queries)
            report["lexical_overlap@10"] = _lexical_overlap(needs, index_dir / "scratch.lex")
        return report
    finally:
        stop_group(web.process if web else None)
        if worker is not None:
            worker.stop()
        flush_redis(REDIS_URL)
        drop_database(url)
        shutil.rmtree(index_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=int(os.environ.get("BENCH_SCALE_LISTINGS", 10_000)))
    parser.add_argument("--trickle-seconds", type=int, default=120)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.listings, args.trickle_seconds, args.clients, args.load_seconds, args.port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
