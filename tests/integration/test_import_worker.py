"""Uploads read by a real Celery worker process on Redis and PostgreSQL: upload → progress → preview →
confirm, and a read over its time limit reported as failed."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from models import ImportBatch, ImportStatus, Job, JobStatus, ResearchResult, Session
from tests.imports.test_background_reading import ROWS
from tests.imports.test_import_files import _xlsx_bytes, confirm, upload
from tests.integration.matching_worker import (
    Worker,
    flush_redis,
    wait_until,
    worker_database_url,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def upload_dir(tmp_path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def app_config(app_config, upload_dir):
    return {**app_config, "JOBS_SYNC": False, "REDIS_URL": REDIS_URL, "IMPORT_UPLOAD_DIR": str(upload_dir)}


@pytest.fixture
def start_worker(app, database_url, upload_dir, tmp_path):
    """A worker sharing this web process's database, Redis and upload folder (as var/ is shared)."""
    flush_redis(REDIS_URL)
    started: list[Worker] = []

    def _start(**settings: str) -> Worker:
        env = {"MATCHMAKER_DATABASE_URL": database_url, "MATCHMAKER_REDIS_URL": REDIS_URL,
               "MATCHMAKER_IMPORT_UPLOAD_DIR": str(upload_dir), "MATCHMAKER_INDEX_DIR": str(tmp_path / "index"),
               **{f"MATCHMAKER_{key}": value for key, value in settings.items()}}
        worker = Worker(env, tmp_path / "worker.log")
        started.append(worker)
        worker.start()
        return worker

    yield _start
    for worker in started:
        worker.stop()
    flush_redis(REDIS_URL)


@pytest.fixture
def staff(make, auth):
    from models import Role

    user = make.user(Role.STAFF)
    auth.login(user)
    return user


@pytest.fixture
def university(make):
    from models import OrgKind

    return make.org(OrgKind.UNIVERSITY, name="泉州理工大学")


def _read() -> ImportBatch:
    Session.rollback()  # see what the worker committed
    return Session.scalar(sa.select(ImportBatch))


def test_upload_is_read_by_the_worker_then_previewed_and_confirmed(client, staff, university, start_worker):
    client.get("/?lang=en")
    response = upload(client, _xlsx_bytes(ROWS), "results.xlsx", university)
    assert response.status_code == 302
    assert _read().status == ImportStatus.UPLOADED  # no worker yet: the request did not read the file
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The file is waiting to be read." in page and '<meta http-equiv="refresh"' in page

    start_worker()
    wait_until(lambda: _read().status not in (ImportStatus.UPLOADED, ImportStatus.READING), 120)
    batch = _read()
    assert (batch.status, batch.total_rows, batch.invalid_rows) == (ImportStatus.PREVIEW, 12, 0)
    job = Session.get(Job, batch.job_id)
    assert (job.status, job.done, job.total) == (JobStatus.DONE, 12, 12)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "成果10" in page and "Import 12 listings" in page
    confirm(client, batch)
    Session.rollback()
    assert Session.scalar(sa.select(sa.func.count()).select_from(ResearchResult)) == 12


def test_a_read_over_its_time_limit_on_the_worker_is_reported_as_failed(client, staff, university, start_worker):
    start_worker(IMPORT_READ_TIME_LIMIT="0")
    client.get("/?lang=en")
    location = upload(client, _xlsx_bytes(ROWS), "results.xlsx", university).headers["Location"]
    wait_until(lambda: _read().status not in (ImportStatus.UPLOADED, ImportStatus.READING), 120)
    batch = _read()
    assert batch.status == ImportStatus.READ_FAILED and batch.rows == []
    assert Session.get(Job, batch.job_id).status == JobStatus.FAILED
    page = client.get(location).get_data(as_text=True)
    assert "took longer than 0 seconds" in page


def test_a_worker_killed_mid_read_leaves_the_upload_failed_not_stuck(client, staff, university, start_worker, app,
                                                                      monkeypatch):
    from matchmaker.core import uploads
    from matchmaker.imports import importer

    worker = start_worker()
    client.get("/?lang=en")
    big = _xlsx_bytes([["标题", "简介"]] + [[f"成果{n}", "简介" * 200] for n in range(20000)])
    location = upload(client, big, "big.xlsx", university).headers["Location"]

    def reading_half_way() -> bool:
        batch = _read()
        job = Session.get(Job, batch.job_id)
        return batch.status == ImportStatus.READING and job.done > 0

    wait_until(reading_half_way, 120, interval=0.1)
    worker.kill()
    batch = _read()
    assert batch.status == ImportStatus.READING, "the read finished before the worker was killed"
    # Later, the periodic check finds a read that started longer ago than its limit allows (here: at once).
    monkeypatch.setitem(app.config, "IMPORT_READ_TIME_LIMIT", 0)
    monkeypatch.setattr(uploads, "STALE_GRACE", 0)
    assert importer.fail_stale_reads() == 1
    batch = _read()
    assert batch.status == ImportStatus.READ_FAILED and batch.rows == []
    assert "stopped without finishing" in client.get(location).get_data(as_text=True)
