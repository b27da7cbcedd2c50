"""Uploaded files that a background job reads: what every import (listings, contracts) shares.

The request keeps the file under IMPORT_UPLOAD_DIR (shared by the web processes and the workers) and
queues a job; the job reads it with ReadProgress, which reports rows read and checked to the Job row the
page shows and stops the job once it has run longer than IMPORT_READ_TIME_LIMIT seconds; the job writes
its messages in the uploader's language, kept on the Job as params["lang"].
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import jobs
from matchmaker.core.errors import DomainError
from matchmaker.core.i18n import current_lang
from models import utcnow

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
