"""Uploaded files that a background job reads: what every import (listings, contracts) shares.

The request keeps the file under IMPORT_UPLOAD_DIR (shared by the web processes and the workers) and
queues a job; the job reads it with ReadProgress, which reports rows read and checked to the Job row the
page shows and stops the job once it has run longer than IMPORT_READ_TIME_LIMIT seconds; the job writes
its messages in the uploader's language, kept on the Job as params["lang"].

PreviewedUpload is the whole flow for an import whose rows wait for confirmation on a Job of their own
(contracts, fair participants): upload() keeps the file and queues the read; read_upload() reads and
checks it and gives the preview its rows in one commit, or fails with the reason; fail_stale_reads()
gives up reads whose worker died; preview() and rows_to_confirm() serve the preview page and the
confirmation; discard() drops a preview.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from matchmaker.core import jobs
from matchmaker.core.errors import Conflict, DomainError, NotFound
from matchmaker.core.i18n import current_lang
from models import Job, JobStatus, Session, utcnow

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between progress reports of a reading job
# A read whose worker died (the task is delivered again) is tried this often in all: a file that kills
# every worker that reads it must not be delivered forever.
MAX_ATTEMPTS = 2
# A reading job that started longer ago than its time limit plus this is dead (its worker was killed).
STALE_GRACE = 60


def path(name: str) -> Path:
    return Path(current_app.config["IMPORT_UPLOAD_DIR"]) / name


def store(name: str, data: bytes) -> Path:
    """Write the upload whole or not at all (a reader never sees half a file)."""
    target = path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)
    return target


def remove(name: str) -> None:
    path(name).unlink(missing_ok=True)


def time_limit() -> float:
    return float(current_app.config["IMPORT_READ_TIME_LIMIT"])


def queue_wait() -> float:
    return float(current_app.config["IMPORT_READ_QUEUE_WAIT"])


def job_params(**params: Any) -> dict[str, Any]:
    """A reading job's params: the caller's, and the uploader's language."""
    return {**params, "lang": current_lang()}


def start_attempt(job: Any) -> bool:
    """Count one more start of a reading job (on its params, committed with the claim); False once it has
    been started MAX_ATTEMPTS times already, each ended by its worker dying."""
    attempts = int((job.params or {}).get("attempts", 0)) + 1
    job.params = {**(job.params or {}), "attempts": attempts}
    job.started_at = utcnow()
    return attempts <= MAX_ATTEMPTS


def too_many_attempts_message() -> str:
    return _("Reading the file stopped the background worker %(n)s times, so it was given up. Nothing was kept; "
             "check the file (or export it as CSV) and upload it again.", n=MAX_ATTEMPTS)


def uploader_language(params: dict[str, Any] | None) -> str:
    """The language the upload was made in, in which its job writes messages and row errors."""
    lang = (params or {}).get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


class ReadTimeLimit(DomainError):
    """The reading job went over IMPORT_READ_TIME_LIMIT."""


def time_limit_message(seconds: float) -> str:
    return _("Reading the file took longer than %(seconds)s seconds, so it was stopped and nothing was kept. "
             "Split it into smaller files, or export it as CSV, and upload them again.", seconds=f"{seconds:g}")


def stale_message(started: bool) -> str:
    """Why a read that can no longer finish was given up: its worker died, or no worker took it up."""
    if started:
        return _("Reading the file stopped without finishing: the worker was stopped, or it ran longer than "
                 "%(seconds)s seconds. Nothing was kept; upload the file again.", seconds=f"{time_limit():g}")
    return _("No background worker took the file up within %(minutes)s minutes. Nothing was kept; upload it "
             "again later.", minutes=f"{queue_wait() / 60:g}")


def failure_message(progress: ReadProgress, exc: BaseException) -> str | None:
    """What to tell the uploader when reading raised `exc`; None for an unexpected error (to be logged)."""
    if progress.stopped or (progress.limit > 0 and progress.elapsed() >= progress.limit):
        return time_limit_message(progress.limit)  # ours, or Celery's soft time limit
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return _("The uploaded file is no longer there. Upload it again.")
    return None


def unexpected_message(exc: BaseException) -> str:
    return _("The file could not be read (%(error)s). Nothing was kept; check the file and upload it again.",
             error=type(exc).__name__)


class ReadProgress:
    """Rows read, then rows checked, reported to the job row at most every PROGRESS_EVERY seconds; stops
    the job (ReadTimeLimit) once it has run longer than `limit` seconds."""

    def __init__(self, job_id: int | None, limit: float | None = None) -> None:
        self.job_id = job_id
        self.limit = time_limit() if limit is None else limit
        self.started = time.monotonic()
        self.last_report = 0.0
        self.stopped = False
        self.read_text = _("rows read")
        self.checked_text = _("rows checked")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _tick(self, done: int, total: int | None, text: str) -> None:
        if self.elapsed() >= self.limit:
            self.stopped = True
            raise ReadTimeLimit(time_limit_message(self.limit))
        now = time.monotonic()
        if self.job_id and (now - self.last_report >= PROGRESS_EVERY or done == total):
            self.last_report = now
            jobs.report_progress(self.job_id, done, total, text)  # commits; the reader has nothing pending

    def reading(self, done: int, total: int | None) -> None:
        self._tick(done, total, self.read_text)

    def checking(self, done: int, total: int | None) -> None:
        self._tick(done, total, self.checked_text)


@dataclass
class UploadPreview:
    """What a preview page shows: the rows once read (each {"row": n, "errors": ..., ...}), or the job
    reading them."""

    job_id: int
    filename: str
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    invalid: int = 0
    read: bool = True  # False while the file is still being read (or could not be)
    reading: Job | None = None  # the job that reads the file
    discarded: bool = False
    imported: bool = False

    @property
    def valid(self) -> int:
        return self.total - self.invalid

    @property
    def being_read(self) -> bool:
        return not self.read and self.reading is not None and self.reading.status in (JobStatus.QUEUED,
                                                                                      JobStatus.RUNNING)


# Reads the stored file's bytes with the reading job's params; returns every row (JSON) and how many have errors.
RowChecker = Callable[[dict[str, Any], bytes, ReadProgress], tuple[list[dict[str, Any]], int]]


@dataclass(frozen=True)
class PreviewedUpload:
    """An import read by a job of kind `read_kind` into a preview Job of kind `preview_kind`, whose params
    get {"rows": [...], "invalid": n} in one commit once the file is read; until then the preview's params
    hold {"user_id", "filename", "read_job", **extra}. `check` reads and checks the rows."""

    prefix: str  # of the stored file's name
    read_kind: str
    preview_kind: str
    check: RowChecker

    def upload(self, user_id: int, filename: str, file_format: str, data: bytes, **extra: Any) -> int:
        """Keep the file and queue its read; returns the preview's id. The caller has checked the file's
        format (what costs nothing) and the user's right to import."""
        reader = Job(kind=self.read_kind, status=JobStatus.QUEUED, created_by_id=user_id)
        waiting = Job(kind=self.preview_kind, status=JobStatus.QUEUED, created_by_id=user_id)
        Session.add_all([reader, waiting])
        Session.flush()
        name = f"{self.prefix}-{reader.id}.{file_format}"
        reader.params = job_params(**extra, user_id=user_id, filename=filename, file=name, preview=waiting.id)
        waiting.params = {**extra, "user_id": user_id, "filename": filename, "read_job": reader.id}
        store(name, data)
        try:
            Session.commit()
        except Exception:
            Session.rollback()
            remove(name)
            raise
        jobs.dispatch(self.read_kind, reader.id)
        return waiting.id

    def read_upload(self, job_id: int) -> dict[str, Any]:
        """The job: read and check the stored file and give the preview its rows in one commit, or fail
        with the reason. Runs again after a killed worker (the task is delivered again)."""
        params = Session.scalar(sa.select(Job.params).where(Job.id == job_id, Job.kind == self.read_kind))
        if params is None:
            return {}
        with force_locale(uploader_language(params)):
            return self._read_upload(job_id, params)

    def _read_upload(self, job_id: int, params: dict[str, Any]) -> dict[str, Any]:
        claimed = Session.execute(
            sa.update(Job).where(Job.id == job_id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            .values(status=JobStatus.RUNNING, message=_("Reading the file…"))).rowcount
        if not claimed:
            Session.rollback()
            return {}
        allowed = start_attempt(Session.get(Job, job_id))
        Session.commit()
        if not allowed:
            return self._read_failed(job_id, too_many_attempts_message())
        progress = ReadProgress(job_id)
        try:
            rows, invalid = self.check(params, path(params["file"]).read_bytes(), progress)
        except Exception as exc:  # whatever stops the reading (Celery's soft time limit too) fails the upload
            Session.rollback()
            message = failure_message(progress, exc)
            if message is None:
                log.exception("reading upload %s (%s) failed", job_id, self.read_kind)
                message = unexpected_message(exc)
            return self._read_failed(job_id, message)
        finished = Session.execute(
            sa.update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING)
            .values(status=JobStatus.DONE, finished_at=utcnow(), done=len(rows), total=len(rows),
                    result={"rows": len(rows), "invalid": invalid})).rowcount
        waiting = Session.get(Job, params["preview"])
        if not finished or waiting is None or waiting.status != JobStatus.QUEUED:  # discarded meanwhile
            Session.rollback()
            remove(params["file"])
            return {}
        waiting.params = {**(waiting.params or {}), "rows": rows, "invalid": invalid}
        waiting.total = len(rows)
        Session.commit()
        remove(params["file"])  # the rows are in the preview now
        return {"preview": waiting.id, "rows": len(rows), "invalid": invalid}

    def _read_failed(self, job_id: int, message: str) -> dict[str, Any]:
        failed = Session.execute(
            sa.update(Job).where(Job.id == job_id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
            .values(status=JobStatus.FAILED, message=message, finished_at=utcnow())).rowcount
        Session.commit()
        params = Session.scalar(sa.select(Job.params).where(Job.id == job_id)) or {}
        if params.get("file"):
            remove(params["file"])
        return {"error": message} if failed else {}

    def fail_stale_reads(self) -> int:
        """Fail the reads that can no longer finish: started longer ago than the time limit allows (a killed
        worker), or taken up by no worker within IMPORT_READ_QUEUE_WAIT. Periodic; returns how many."""
        now = utcnow()
        dead = sa.select(Job.id, Job.params, Job.started_at).where(
            Job.kind == self.read_kind, Job.status == JobStatus.RUNNING,
            Job.started_at < now - timedelta(seconds=time_limit() + STALE_GRACE))
        unclaimed = sa.select(Job.id, Job.params, Job.started_at).where(
            Job.kind == self.read_kind, Job.status == JobStatus.QUEUED,
            Job.created_at < now - timedelta(seconds=queue_wait()))
        stale = [*Session.execute(dead), *Session.execute(unclaimed)]
        Session.rollback()
        for row in stale:
            with force_locale(uploader_language(row.params)):
                self._read_failed(row.id, stale_message(started=row.started_at is not None))
        return len(stale)

    def preview(self, job_id: int) -> tuple[Job, Job | None]:
        """The preview Job and the Job that reads (or read) its file; NotFound for any other id."""
        job = Session.get(Job, job_id)
        if job is None or job.kind != self.preview_kind:
            raise NotFound(_("This import does not exist."))
        read_job = (job.params or {}).get("read_job")
        return job, Session.get(Job, read_job) if read_job else None

    def load(self, job_id: int) -> UploadPreview:
        job, reading = self.preview(job_id)
        params = job.params or {}
        rows = params.get("rows", [])
        return UploadPreview(job.id, params.get("filename", ""), len(rows), rows, int(params.get("invalid", 0)),
                             read="rows" in params, reading=reading,
                             discarded=job.status == JobStatus.FAILED, imported=job.status == JobStatus.DONE)

    def rows_to_confirm(self, job_id: int, valid_only: bool) -> tuple[Job, list[dict[str, Any]]]:
        """The preview and its rows, once they may be saved: read, not imported or discarded yet, and
        without errors unless `valid_only`."""
        job, _reading = self.preview(job_id)
        if job.status == JobStatus.DONE:
            raise Conflict(_("This file has already been imported."))
        if job.status == JobStatus.FAILED:
            raise Conflict(_("This upload was discarded; upload the file again."))
        params = job.params or {}
        if "rows" not in params:
            raise Conflict(_("The file is still being read, or could not be read; there is nothing to import "
                             "yet."))
        if params.get("invalid") and not valid_only:
            raise Conflict(_("Some rows have errors, so nothing was saved. Fix the file and upload it again, "
                             "or import the valid rows only."))
        return job, params["rows"]

    def finish(self, job: Job, saved: int, skipped: int) -> None:
        """Mark the preview imported, in the caller's transaction."""
        job.status, job.done, job.finished_at = JobStatus.DONE, saved, utcnow()
        job.result = {"saved": saved, "skipped": skipped}

    def discard(self, job_id: int) -> None:
        """Drop a preview that is not imported: its rows are forgotten, a read still under way is stopped."""
        job, reading = self.preview(job_id)
        if job.status == JobStatus.DONE:
            raise Conflict(_("This file has already been imported."))
        job.status, job.finished_at, job.message = JobStatus.FAILED, utcnow(), _("Discarded.")
        job.params = {k: v for k, v in (job.params or {}).items() if k != "rows"}
        Session.commit()
        if reading is not None:
            self._read_failed(reading.id, _("Discarded."))
