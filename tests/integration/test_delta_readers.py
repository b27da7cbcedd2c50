"""Two web processes reading the indexes a real Celery worker writes as deltas: both see a published listing;
a worker killed with SIGKILL while a delta is half written loses nothing and duplicates nothing once restarted
(the outbox replays the batch), and neither reader ever serves a damaged generation."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from matchmaker.engine.segments import Manifest
from matchmaker.listings import lifecycle
from matchmaker.matching import index, outbox
from models import IndexState, ListingStatus, Role, Session
from tests.integration.matching_worker import (
    ROOT,
    Worker,
    flush_redis,
    wait_until,
    worker_database_url,  # noqa: F401 (a fixture)
    zhibei_texts,
)

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/12"
BATCH = 8


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture
def app_config(app_config, index_dir):
    return {**app_config, "JOBS_SYNC": False, "REDIS_URL": REDIS_URL, "INDEX_DIR": str(index_dir),
            "MATCH_BATCH_SIZE": BATCH}


@pytest.fixture
def env(database_url, index_dir) -> dict[str, str]:
    return {"MATCHMAKER_DATABASE_URL": database_url, "MATCHMAKER_REDIS_URL": REDIS_URL,
            "MATCHMAKER_INDEX_DIR": str(index_dir), "MATCHMAKER_MATCH_BATCH_SIZE": str(BATCH)}


@pytest.fixture
def worker(app, env, tmp_path):
    flush_redis(REDIS_URL)
    process = Worker(env, tmp_path / "worker.log", app_module="tests.integration.slow_worker")
    process.start()
    yield process
    process.stop()
    flush_redis(REDIS_URL)
    index.forget_loaded()


@pytest.fixture
def readers(env, tmp_path):
    """Two web processes, each reporting the ids its readers serve."""
    outputs = [tmp_path / f"reader{n}.json" for n in (1, 2)]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.integration.index_reader", str(out)], cwd=ROOT,
                                  env={**os.environ, **env}, stdout=(tmp_path / f"reader{n}.log").open("wb"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
                 for n, out in enumerate(outputs, 1)]
    yield outputs
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def _seen(out: Path) -> dict[str, list[int]]:
    try:
        return json.loads(out.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {"vectors": [], "lexical": []}


def _both_see(readers: list[Path], ids: list[int]) -> bool:
    wanted = sorted(ids)
    return all(_seen(out)["vectors"] == wanted and _seen(out)["lexical"] == wanted for out in readers)


def _manifest() -> Manifest:
    Session.rollback()
    state = Session.query(IndexState).filter_by(side="result").one()
    return Manifest.read(index.index_dir() / state.path)


@pytest.fixture
def publish(make):
    staff = make.user(Role.STAFF)
    owner = make.user(Role.RESEARCHER)

    def _publish(**fields):
        listing = make.result(owner=owner, status=ListingStatus.PENDING, **fields)
        lifecycle.approve_listing(staff, listing)  # commits: the outbox row is queued to the worker
        return listing.id

    return _publish


def test_two_readers_see_deltas_and_a_worker_killed_mid_delta_loses_nothing(worker, readers, publish, index_dir):
    texts = zhibei_texts(6 * BATCH + 2)
    published = [publish(**texts[0])]
    wait_until(lambda: _both_see(readers, published), 300)  # the first change writes a base
    published.append(publish(**texts[1]))
    wait_until(lambda: _both_see(readers, published), 120)  # the second a delta on it
    assert len(_manifest().deltas) == 1

    published += [publish(**fields) for fields in texts[2:]]

    def half_written() -> bool:
        return any(p.name.startswith(".") and ".delta." in p.name for p in index_dir.iterdir())

    wait_until(half_written, 300, interval=0.05)
    worker.kill()
    assert half_written()  # killed inside the delta's write: its temporary folder is left
    Session.rollback()
    assert outbox.pending_count() > 0
    worker.start()  # a restarted worker reconciles at start-up; the killed batch is replayed
    wait_until(lambda: outbox.pending_count() == 0 and _both_see(readers, published) if not Session.rollback()
               else False, 600)
    for out in readers:
        seen = _seen(out)
        assert len(set(seen["vectors"])) == len(seen["vectors"]) == len(published)
        assert len(set(seen["lexical"])) == len(seen["lexical"]) == len(published)
    assert not half_written()  # the next writer removed it
    manifest = _manifest()
    assert manifest.count == len(published) and len(manifest.deltas) >= 2
