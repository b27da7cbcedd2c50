"""Uploads are read in a background job: the request only stores the file, the batch page shows the
progress and then the usual preview; a job over its time limit, a broken job or a killed worker leaves
the upload marked failed with a reason, never half-read and never waiting forever."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker.core import jobs, uploads
from matchmaker.imports import importer
from models import ImportBatch, ImportStatus, Job, JobStatus, ResearchResult, Session, utcnow
from tests.imports.test_import_files import RESULT_CSV, _count, _xlsx_bytes, confirm, upload

ROWS = [["标题", "简介"]] + [[f"成果{n}", f"简介{n}"] for n in range(1, 13)]


class Queue:
    """Stands in for the in-process job thread: holds what was dispatched until the test runs it."""

    def __init__(self) -> None:
        self.waiting: list[tuple] = []

    def submit(self, fn, *args) -> None:
        self.waiting.append((fn, args))

    def run_all(self) -> None:
        while self.waiting:
            fn, args = self.waiting.pop(0)
            fn(*args)
        Session.expire_all()  # see what the job committed


@pytest.fixture
def queue(app, monkeypatch) -> Queue:
    """Jobs are not run eagerly: dispatch takes its `make run` path, to a thread the test controls."""
    held = Queue()
    monkeypatch.setitem(app.config, "JOBS_SYNC", False)
    monkeypatch.setattr(jobs, "_pool", lambda: held)
    return held


def _batch() -> ImportBatch:
    Session.expire_all()
    return Session.scalar(sa.select(ImportBatch))


def test_the_request_stores_the_file_and_returns_before_reading_it(client, staff, university, queue):
    client.get("/?lang=en")
    data = _xlsx_bytes(ROWS)
    response = upload(client, data, "results.xlsx", university)
    assert response.status_code == 302
    batch = _batch()
    assert batch.status == ImportStatus.UPLOADED and batch.total_rows == 0 and batch.rows == []
    assert Session.get(Job, batch.job_id).status == JobStatus.QUEUED
    assert importer.upload_path(batch).read_bytes() == data
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The file is waiting to be read." in page
    assert '<meta http-equiv="refresh"' in page  # the page refreshes itself without a script
    assert "Import 12 listings" not in page
    # Confirming before the rows are read imports nothing.
    refused = confirm(client, batch).get_data(as_text=True)
    assert "still being read" in refused and _count(ResearchResult) == 0


def test_upload_progress_preview_confirm(client, staff, university, queue, monkeypatch):
    client.get("/?lang=en")
    location = upload(client, _xlsx_bytes(ROWS), "results.xlsx", university).headers["Location"]
    reports: list[tuple[int, int | None, str | None]] = []
    real_report = jobs.report_progress

    def report(job_id, done, total=None, message=None):
        reports.append((done, total, message))
        real_report(job_id, done, total, message)
        if len(reports) == 7:  # half-way through reading: what the page shows meanwhile
            pages.append(client.get(location).get_data(as_text=True))

    pages: list[str] = []
    monkeypatch.setattr(jobs, "report_progress", report)
    monkeypatch.setattr(uploads, "PROGRESS_EVERY", 0)
    queue.run_all()

    # "Reading the file", then rows read 1..12, then rows checked 1..12, each of the 12 the file holds,
    # in the uploader's language.
    assert reports[0] == (0, None, "Reading the file…")
    phases = list(dict.fromkeys(message for _d, _t, message in reports[1:]))
    assert phases == ["rows read", "rows checked"]
    for phase in phases:
        assert [(d, t) for d, t, m in reports if m == phase] == [(n, 12) for n in range(1, 13)]
    assert "6 / 12 rows read" in pages[0] and '<meta http-equiv="refresh"' in pages[0]

    batch = _batch()
    assert (batch.status, batch.total_rows, batch.invalid_rows) == (ImportStatus.PREVIEW, 12, 0)
    assert Session.get(Job, batch.job_id).status == JobStatus.DONE
    page = client.get(location).get_data(as_text=True)
    assert "成果1" in page and "Import 12 listings" in page and '<meta http-equiv="refresh"' not in page
    confirm(client, batch)
    assert _count(ResearchResult) == 12
    assert not importer.upload_path(batch).exists()  # kept only until the preview was confirmed


def test_a_read_over_its_time_limit_is_reported_as_failed(client, staff, university, app, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_READ_TIME_LIMIT", 0)
    client.get("/?lang=en")
    response = upload(client, _xlsx_bytes(ROWS), "results.xlsx", university)
    batch = _batch()
    assert batch.status == ImportStatus.READ_FAILED and batch.rows == []
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "took longer than 0 seconds, so it was stopped and nothing was kept" in page
    assert Session.get(Job, batch.job_id).status == JobStatus.FAILED
    assert not importer.upload_path(batch).exists()
    assert "nothing to import" in confirm(client, batch).get_data(as_text=True)
    assert _count(ResearchResult) == 0


def test_a_crash_half_way_keeps_no_row(client, staff, university, monkeypatch):
    checked = []

    def fails_on_the_fifth_row(kind, outcome):
        checked.append(outcome.number)
        if len(checked) == 5:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer, "validate_row", fails_on_the_fifth_row)
    client.get("/?lang=en")
    response = upload(client, _xlsx_bytes(ROWS), "results.xlsx", university)
    batch = _batch()
    assert (batch.status, batch.rows, batch.row_errors, batch.total_rows) == (ImportStatus.READ_FAILED, [], [], 0)
    assert "could not be read (RuntimeError)" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_reads_that_cannot_finish_are_marked_failed_and_a_delivered_again_task_finishes(
        client, staff, university, queue, app):
    client.get("/?lang=en")
    for name in ("killed.xlsx", "running.xlsx", "never-taken.xlsx", "redelivered.xlsx"):
        upload(client, _xlsx_bytes(ROWS), name, university)
    batches = {b.filename: b for b in Session.scalars(sa.select(ImportBatch))}
    limit = app.config["IMPORT_READ_TIME_LIMIT"]
    # Workers took three of them up; one's worker was killed an hour ago, one started a moment ago.
    started = {"killed.xlsx": utcnow() - timedelta(hours=1), "running.xlsx": utcnow() - timedelta(seconds=5),
               "redelivered.xlsx": utcnow() - timedelta(seconds=limit + uploads.STALE_GRACE + 10)}
    for name, when in started.items():
        batches[name].status = ImportStatus.READING
        Session.get(Job, batches[name].job_id).started_at = when
    # No worker took the third up in twice the queue wait.
    batches["never-taken.xlsx"].created_at = utcnow() - timedelta(seconds=2 * app.config["IMPORT_READ_QUEUE_WAIT"])
    Session.commit()
    # The killed worker's task is delivered again to a new worker: it reads the file from the start.
    redelivered = batches["redelivered.xlsx"].id
    started["redelivered.xlsx"] = utcnow()
    importer.read_upload(redelivered)

    assert importer.fail_stale_reads() == 2
    Session.expire_all()
    status = {name: (b.status, b.message) for name, b in batches.items()}
    assert status["killed.xlsx"][0] == ImportStatus.READ_FAILED
    assert "stopped without finishing" in status["killed.xlsx"][1]
    assert status["never-taken.xlsx"][0] == ImportStatus.READ_FAILED
    assert "No background worker took the file up within 15 minutes" in status["never-taken.xlsx"][1]
    assert status["running.xlsx"][0] == ImportStatus.READING
    assert status["redelivered.xlsx"][0] == ImportStatus.PREVIEW and batches["redelivered.xlsx"].total_rows == 12
    assert not importer.upload_path(batches["killed.xlsx"]).exists()
    # The tasks still queued: a late one for a batch marked failed changes nothing.
    ids = {name: b.id for name, b in batches.items()}
    queue.run_all()
    assert Session.get(ImportBatch, ids["killed.xlsx"]).status == ImportStatus.READ_FAILED
    assert Session.get(ImportBatch, ids["running.xlsx"]).status == ImportStatus.PREVIEW


def test_discarding_an_upload_drops_its_file_and_a_late_read(client, staff, university, queue):
    client.get("/?lang=en")
    location = upload(client, RESULT_CSV.encode(), "fair.csv", university).headers["Location"]
    batch = _batch()
    page = client.post(f"{location}/discard", follow_redirects=True).get_data(as_text=True)
    assert "The upload was discarded." in page
    assert not importer.upload_path(batch).exists()
    queue.run_all()  # the read that was queued finds nothing to do
    batch = _batch()
    assert batch.status == ImportStatus.DISCARDED and batch.rows == []
    assert "This upload was discarded" in client.get(location).get_data(as_text=True)
    assert "nothing to import" in confirm(client, batch, valid_only=True).get_data(as_text=True)
    assert _count(ResearchResult) == 0


def test_a_read_preview_can_be_discarded_but_not_after_confirming(client, staff, university):
    client.get("/?lang=en")
    location = upload(client, RESULT_CSV.encode(), "fair.csv", university).headers["Location"]
    assert "Discard this upload" in client.get(location).get_data(as_text=True)
    confirm(client, _batch(), valid_only=True)
    page = client.post(f"{location}/discard", follow_redirects=True).get_data(as_text=True)
    assert "already been confirmed" in page
    assert _batch().status == ImportStatus.DONE and _count(ResearchResult) == 2


def test_a_file_that_kills_every_worker_is_given_up_after_two_starts(client, staff, university, queue):
    client.get("/?lang=en")
    upload(client, _xlsx_bytes(ROWS), "deadly.xlsx", university)
    batch = _batch()
    job = Session.get(Job, batch.job_id)
    # Two workers started reading it and died (nothing recorded but the starts); it is delivered again.
    job.params = {**job.params, "attempts": 2}
    batch.status = ImportStatus.READING
    Session.commit()
    batch_id = batch.id
    queue.run_all()
    batch = Session.get(ImportBatch, batch_id)
    assert batch.status == ImportStatus.READ_FAILED and batch.rows == []
    assert "stopped the background worker 2 times" in batch.message
    assert not importer.upload_path(batch).exists()
