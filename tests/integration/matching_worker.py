"""A real Celery worker process on a real Redis and PostgreSQL, for the matching integration tests and the
pipeline benchmark: start, stop, kill, and wait for the outbox to drain."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ZHIBEI = ROOT.parent / "shared" / "data" / "zhibei" / "achievements.jsonl"
ZHIBEI_NEEDS = ZHIBEI.with_name("requirements.jsonl")


class Worker:
    """`celery -A workers.celery_app worker` as a subprocess in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 1,
                 app_module: str = "workers.celery_app") -> None:
        self.env = {**os.environ, **env}
        self.app_module = app_module
        self.log_path = log_path
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        log = self.log_path.open("ab")
        celery = str(Path(sys.executable).with_name("celery"))
        self.process = subprocess.Popen(
            [celery, "-A", self.app_module, "worker", "--loglevel=INFO", f"--concurrency={self.concurrency}",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(lambda: b" ready." in self.log_path.read_bytes() or self.process.poll() is not None, timeout)
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited at start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole group: the master and its children die mid-task, as in a crash."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def zhibei_texts(n: int, path: Path = ZHIBEI, skip: int = 0) -> list[dict[str, str]]:
    """The first n Zhibei research results (or, from ZHIBEI_NEEDS, technical needs) with a name and a
    description (real texts), after the first `skip` of them."""
    rows: list[dict[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.get("name") and row.get("context"):
                rows.append({"title": row["name"][:200], "summary": row["context"][:200],
                             "description": row["context"]})
            if len(rows) == n + skip:
                break
    return rows[skip:]


@pytest.fixture(scope="module", name="database_url")
def worker_database_url():
    """A PostgreSQL database of the test module's own, which a worker process can open too (a module that
    imports this fixture uses it instead of the session's SQLite or PostgreSQL database)."""
    import models
    from models.base import Base
    from tests.conftest import create_pg_database, drop_pg_database

    url = create_pg_database()
    Base.metadata.create_all(models.db.get_engine(url))
    yield url
    drop_pg_database(url)
