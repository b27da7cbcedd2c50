"""Publish 1,000 Zhibei research results and time until every one is searchable.

A real Celery worker process (2 children) on Redis and a fresh PostgreSQL database does the embedding
and indexing, exactly as in production. The worker's one-time model load is done before timing starts.
Prints {"name": "pipeline", "listings": 1000, "seconds": ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_env import create_database, drop_database  # noqa: E402

import models  # noqa: E402
from matchmaker import create_app  # noqa: E402
from models import ListingStatus, Organization, OrgKind, ResearchResult, Role, Session, User  # noqa: E402
from models.base import Base  # noqa: E402
from tests.integration.matching_worker import Worker, flush_redis, wait_until, zhibei_texts  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def _pending_listings(n: int) -> tuple[User, list[int]]:
    org = Organization(name="基准测试大学", kind=OrgKind.UNIVERSITY, entity_type="022", region="350500", verified=True)
    staff_org = Organization(name="基准测试科技局", kind=OrgKind.BUREAU, entity_type="150", region="350500",
                             verified=True)
    staff = User(email="bench-staff@example.cn", name="基准", role=Role.STAFF, organization=staff_org,
                 password_hash="x")
    Session.add_all([org, staff_org, staff])
    Session.flush()
    rows = [ResearchResult(title=t["title"], summary=t["summary"], description=t["description"], keywords=[],
                           transfer_modes=["transfer"], region="350500", status=ListingStatus.PENDING,
                           organization_id=org.id) for t in zhibei_texts(n + 1)]
    Session.add_all(rows)
    Session.commit()
    return staff, [row.id for row in rows]


def _searchable() -> set[int]:
    from matchmaker.matching import index

    Session.rollback()
    return set(index.reader_index("result").ids().tolist())


def run(n: int, concurrency: int) -> dict[str, object]:
    from matchmaker.listings import lifecycle

    url = create_database()
    index_dir = tempfile.mkdtemp(prefix="mm-bench-index-")
    worker = None
    try:
        Base.metadata.create_all(models.db.get_engine(url))
        app = create_app({"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "INDEX_DIR": index_dir})
        flush_redis(REDIS_URL)
        log_path = Path(index_dir) / "worker.log"
        worker = Worker({"MATCHMAKER_DATABASE_URL": url, "MATCHMAKER_REDIS_URL": REDIS_URL,
                         "MATCHMAKER_INDEX_DIR": index_dir}, log_path, concurrency=concurrency)
        with app.app_context():
            staff, ids = _pending_listings(n)
            warmup, timed = ids[0], ids[1:]
            worker.start()
            # Load the model in the worker (and here, for reading the index) before the clock starts.
            lifecycle.approve_listing(staff, Session.get(ResearchResult, warmup))
            wait_until(lambda: warmup in _searchable(), 600)
            started = time.perf_counter()
            for listing_id in timed:
                lifecycle.approve_listing(staff, Session.get(ResearchResult, listing_id))
            published = time.perf_counter() - started
            wanted = set(timed)
            wait_until(lambda: wanted <= _searchable(), 3600, interval=0.25)
            seconds = time.perf_counter() - started
        return {"name": "pipeline", "listings": len(timed), "seconds": round(seconds, 2),
                "publish_seconds": round(published, 2), "worker_processes": concurrency}
    finally:
        if worker is not None:
            worker.stop()
        flush_redis(REDIS_URL)
        drop_database(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker child processes")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.listings, args.concurrency)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
