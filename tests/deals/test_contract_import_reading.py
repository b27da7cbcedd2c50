"""The contract import reads its file in a background job too: the request only keeps the file; the preview
page shows the progress until the rows are read, then the usual preview; a read over its time limit or
lost with its worker is reported as failed and imports nothing."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from matchmaker.core import jobs, uploads
from matchmaker.deals import contract_import
from models import Job, JobStatus, Session, utcnow
from tests.deals.test_contracts import BAD_3, GOOD_1, GOOD_2, HEADER, contract_count, upload
from tests.imports.test_background_reading import queue  # noqa: F401  (jobs held until the test runs them)

FILE = "\n".join([HEADER, GOOD_1, GOOD_2, BAD_3])


def _reader() -> Job:
    Session.expire_all()
    return Session.scalar(sa.select(Job).where(Job.kind == contract_import.READ_JOB))


def test_upload_returns_at_once_then_progress_preview_confirm(client, auth, people, queue, monkeypatch):  # noqa: F811
    auth.login(people["staff"])
    response = upload(client, FILE)
    assert response.status_code == 302
    location = response.headers["Location"]
    reader = _reader()
    assert reader.status == JobStatus.QUEUED and uploads.path(reader.params["file"]).exists()
    page = client.get(location + "?lang=en").get_data(as_text=True)
    assert "The file is waiting to be read." in page and '<meta http-equiv="refresh"' in page
    assert "3 rows" not in page
    refused = client.post(location + "/confirm", data={"valid_only": "y"}, follow_redirects=True)
    assert "still being read" in refused.get_data(as_text=True) and contract_count() == 0

    pages: list[str] = []
    real_report = jobs.report_progress

    def report(job_id, done, total=None, message=None):
        real_report(job_id, done, total, message)
        if (done, total) == (2, 3) and not pages:
            pages.append(client.get(location + "?lang=en").get_data(as_text=True))

    monkeypatch.setattr(jobs, "report_progress", report)
    monkeypatch.setattr(uploads, "PROGRESS_EVERY", 0)
    queue.run_all()
    assert "2 / 3 rows read" in pages[0] and '<meta http-equiv="refresh"' in pages[0]

    reader = _reader()
    assert reader.status == JobStatus.DONE and not uploads.path(reader.params["file"]).exists()
    page = client.get(location + "?lang=en").get_data(as_text=True)
    assert "3 rows: 2 valid, 1 with errors." in page and '<meta http-equiv="refresh"' not in page
    client.post(location + "/confirm", data={"valid_only": "y"})
    assert contract_count() == 2


def test_a_read_over_its_time_limit_is_reported_as_failed(client, auth, people, app, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_READ_TIME_LIMIT", 0)
    auth.login(people["staff"])
    client.get("/?lang=en")
    location = upload(client, FILE).headers["Location"]
    assert _reader().status == JobStatus.FAILED
    page = client.get(location).get_data(as_text=True)
    assert "took longer than 0 seconds" in page
    client.post(location + "/confirm", data={"valid_only": "y"})
    assert contract_count() == 0


def test_reads_lost_with_their_worker_are_marked_failed(client, auth, people, app, queue):  # noqa: F811
    auth.login(people["staff"])
    client.get("/?lang=en")
    killed = upload(client, FILE).headers["Location"]
    running = upload(client, FILE).headers["Location"]
    readers = list(Session.scalars(sa.select(Job).where(Job.kind == contract_import.READ_JOB).order_by(Job.id)))
    readers[0].status, readers[0].started_at = JobStatus.RUNNING, utcnow() - timedelta(hours=1)
    readers[1].status, readers[1].started_at = JobStatus.RUNNING, utcnow()
    Session.commit()
    assert contract_import.fail_stale_reads() == 1
    assert "stopped without finishing" in client.get(killed).get_data(as_text=True)
    assert "Reading and checking the file" in client.get(running).get_data(as_text=True)


def test_a_file_that_kills_every_worker_is_given_up(client, auth, people, queue):  # noqa: F811
    auth.login(people["staff"])
    client.get("/?lang=en")
    location = upload(client, FILE).headers["Location"]
    reader = _reader()
    reader.params = {**reader.params, "attempts": 2}
    Session.commit()
    queue.run_all()
    assert _reader().status == JobStatus.FAILED
    assert "stopped the background worker 2 times" in client.get(location).get_data(as_text=True)
