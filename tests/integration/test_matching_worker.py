"""Matching with a real Celery worker process, Redis and PostgreSQL: publish, search, close, and a worker
killed mid-batch then restarted: every listing ends up indexed exactly once."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from matchmaker.listings import lifecycle
from matchmaker.matching import index, outbox
from models import CloseReason, ListingStatus, ListingVector, OutboxEvent, Role, Session
from tests.integration.matching_worker import (
    Worker,
    flush_redis,
    wait_until,
    worker_database_url,  # noqa: F401 (a fixture)
    zhibei_texts,
)

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/13"
BATCH = 8


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture
def app_config(app_config, index_dir):
    return {**app_config, "JOBS_SYNC": False, "REDIS_URL": REDIS_URL, "INDEX_DIR": str(index_dir),
            "MATCH_BATCH_SIZE": BATCH}


@pytest.fixture
def worker(app, database_url, index_dir, tmp_path):
    flush_redis(REDIS_URL)
    env = {"MATCHMAKER_DATABASE_URL": database_url, "MATCHMAKER_REDIS_URL": REDIS_URL,
           "MATCHMAKER_INDEX_DIR": str(index_dir), "MATCHMAKER_MATCH_BATCH_SIZE": str(BATCH)}
    process = Worker(env, tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()
    flush_redis(REDIS_URL)
    index.forget_loaded()


@pytest.fixture
def publish(make):
    staff = make.user(Role.STAFF)
    owner = make.user(Role.RESEARCHER)

    def _publish(kind: str = "result", **fields):
        factory = make.result if kind == "result" else make.need
        listing = factory(owner=owner if kind == "result" else None, status=ListingStatus.PENDING, **fields)
        lifecycle.approve_listing(staff, listing)  # commits: the outbox row is queued to the worker
        return listing

    _publish.staff = staff
    return _publish


def _drained() -> bool:
    Session.rollback()  # see what the worker committed
    return outbox.pending_count() == 0


def _indexed(side: str = "result") -> list[int]:
    Session.rollback()
    return index.reader_index(side).ids().tolist()


def _lexical(side: str = "result") -> list[int]:
    """The ids in the lexical index the worker wrote, as this (web) process maps it."""
    Session.rollback()
    return index.reader_lexical(side).live_ids().tolist()


def test_publish_search_close(client, worker, publish):
    bearing = publish(title="基于振动信号的轴承故障预测系统", summary="提前预测电机轴承故障")
    rice = publish(title="水稻抗倒伏新品种选育", summary="培育抗倒伏高产水稻品种")
    wait_until(lambda: _drained() and set(_indexed()) == {bearing.id, rice.id}, 300)
    assert sorted(_lexical()) == sorted([bearing.id, rice.id])
    html = client.get("/search", query_string={"q": "设备出故障前就知道"}).get_data(as_text=True)
    assert html.index(bearing.title) < html.index(rice.title)
    lifecycle.close_listing(publish.staff, bearing, CloseReason.TRANSFERRED)
    wait_until(lambda: _drained() and _indexed() == [rice.id], 120)
    assert _lexical() == [rice.id]
    html = client.get("/search", query_string={"q": "设备出故障前就知道"}).get_data(as_text=True)
    assert bearing.title not in html and rice.title in html


def test_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(worker, publish):
    published = [publish(**fields).id for fields in zhibei_texts(6 * BATCH)]
    processed = sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.processed_at.is_not(None))

    def some_done() -> bool:
        Session.rollback()
        return (Session.scalar(processed) or 0) > 0

    wait_until(some_done, 300, interval=0.1)
    worker.kill()
    Session.rollback()
    left = outbox.pending_count()
    assert left > 0, "the worker finished before it could be killed; nothing was tested"
    worker.start()  # a restarted worker reconciles at start-up
    wait_until(lambda: _drained() and len(_indexed()) == len(published), 600)
    ids = _indexed()
    assert sorted(ids) == sorted(published) and len(set(ids)) == len(ids)
    assert _lexical() == sorted(published)  # merged batch by batch, across the kill: nothing lost or twice
    assert not list(index.index_dir().glob(".*"))  # no half-written generation left behind
    counts = Session.execute(sa.select(ListingVector.listing_id, sa.func.count())
                             .group_by(ListingVector.listing_id)).all()
    assert sorted(i for i, _ in counts) == sorted(published) and {c for _, c in counts} == {1}
