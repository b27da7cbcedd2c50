"""Bulk import of research results and technical needs from the tables bureaus collect before a fair.

upload(): the cheap checks while the uploader waits, then the file is kept under IMPORT_UPLOAD_DIR and
the job imports.read is queued; the request returns at once and the batch page shows the progress.
read_upload() (the job, with a time limit): read the file, map its columns onto listing fields (our own
headers in Chinese or English, or the Zhibei market's field names), check every row with the listing
form's rules (listings.clean_values) and keep the outcome in the ImportBatch in one commit, or mark it
failed with the reason; nothing else is saved. fail_stale_reads() (periodic) marks reads that can no
longer finish (a killed worker, no worker at all) as failed. preview_upload() does the same reading in
one go for the command line.
confirm() → run_batch(): create the listings, skipping rows already imported (same external_ref),
in chunks of CHUNK_ROWS with progress on a Job; big files run in the background.
Reading the file is formats.py, one cell cells.py, one row rows.py; this module keeps the batches.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _

from matchmaker.core import audit, jobs, uploads
from matchmaker.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from matchmaker.core.permissions import require
from matchmaker.imports.cells import FIELD_LABELS, BadValue, ColumnMap, check_required_columns, map_columns
from matchmaker.imports.formats import ImportFileError, Progress, RawTable, check_upload, read_table
from matchmaker.imports.rows import (
    OrgResolver,
    RowOutcome,
    RowReader,
    check_owner_kind,
    fields_from_json,
    fields_to_json,
    validate_row,
)
from matchmaker.listings.events import listing_changed
from matchmaker.listings.lifecycle import KINDS
from models import (
    ImportBatch,
    ImportStatus,
    Job,
    JobStatus,
    ListingStatus,
    Organization,
    Session,
    User,
    listing_model,
    utcnow,
)

log = logging.getLogger(__name__)

IMPORT_STATUSES = (ListingStatus.PUBLISHED, ListingStatus.DRAFT)
# Files with more valid rows than this import in a background job with a progress bar.
BACKGROUND_ROWS = 200
CHUNK_ROWS = 100
READ_JOB = "imports.read"
# Uploads that are still waiting for (or being read by) a job.
READ_PENDING = (ImportStatus.UPLOADED, ImportStatus.READING)


# --- preview ---------------------------------------------------------------------------------

def _require(actor: User | None) -> None:
    """None is the trusted command line; web callers pass the logged-in user."""
    if actor is not None:
        require(actor, "import.run", _("Only bureau staff can import listings."))


def _chosen_organization(kind: str, organization_id: int | None) -> Organization | None:
    if organization_id is None:
        return None
    org = Session.get(Organization, organization_id)
    if org is None:
        raise ImportFileError(_("The chosen organization does not exist."))
    try:
        check_owner_kind(kind, org)
    except BadValue as exc:
        raise ImportFileError(str(exc)) from None
    return org


def existing_refs(kind: str, refs: list[str]) -> set[str]:
    model = listing_model(kind)
    found: set[str] = set()
    unique = sorted(set(refs))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        found.update(Session.scalars(sa.select(model.external_ref).where(model.external_ref.in_(chunk))))
    return found


def read_rows(kind: str, table: RawTable, default_org: Organization | None,
              progress: Progress | None = None) -> tuple[ColumnMap, list[RowOutcome]]:
    columns = map_columns(kind, table.headers)
    check_required_columns(columns)
    if default_org is None and columns.header("organization") is None:
        raise ImportFileError(_("Choose the organization the listings belong to, or add an organization "
                                "column to the file."))
    reader = RowReader(columns, OrgResolver(kind, default_org))
    outcomes = []
    for number, raw in table.rows:
        outcome = reader.read(number, raw)
        validate_row(kind, outcome)
        outcomes.append(outcome)
        if progress is not None:
            progress(len(outcomes), len(table.rows))
    return columns, outcomes


def _check_choices(kind: str, listing_status: str, organization_id: int | None) -> Organization | None:
    if kind not in KINDS:
        raise ValidationFailed({"kind": [_("Choose research results or technical needs.")]})
    if listing_status not in IMPORT_STATUSES:
        raise ValidationFailed({"listing_status": [_("Choose published or draft.")]})
    return _chosen_organization(kind, organization_id)


def _checked_rows(kind: str, filename: str, data: bytes, default_org: Organization | None,
                  progress: uploads.ReadProgress | None = None) -> dict[str, Any]:
    """Read and check the whole file: what the batch keeps of it. Bad files raise ImportFileError."""
    table = read_table(filename, data, int(current_app.config["IMPORT_MAX_ROWS"]),
                       progress.reading if progress else None)
    columns, outcomes = read_rows(kind, table, default_org, progress.checking if progress else None)
    return {
        "file_format": table.file_format,
        "rows": [{"row": o.number, "ref": o.ref, "org": o.organization_id, "ok": not o.errors,
                  "posted": o.posted.isoformat() if o.posted else None, "fields": fields_to_json(o.fields)}
                 for o in outcomes],
        "row_errors": [{"row": o.number, "field": field, "column": columns.header(field) or "", "message": message}
                       for o in outcomes for field, messages in o.errors.items() for message in messages],
        "total_rows": len(outcomes), "invalid_rows": sum(1 for o in outcomes if o.errors),
        "message": _("Ignored columns: %(columns)s", columns="、".join(columns.ignored)) if columns.ignored else None,
    }


def preview_upload(actor: User | None, kind: str, filename: str, data: bytes, organization_id: int | None,
                   listing_status: str = ListingStatus.PUBLISHED) -> ImportBatch:
    """Read and check the file at once (the command line); keep the outcome as a batch to confirm.
    Bad files raise ImportFileError."""
    _require(actor)
    default_org = _check_choices(kind, listing_status, organization_id)
    checked = _checked_rows(kind, filename, data, default_org)
    batch = ImportBatch(
        kind=kind, filename=Path(filename).name[:255], status=ImportStatus.PREVIEW, listing_status=listing_status,
        organization_id=default_org.id if default_org else None, created_by_id=actor.id if actor else None,
        **checked)
    Session.add(batch)
    audit.record(actor.id if actor else None, "import.upload", batch,
                 {"filename": batch.filename, "kind": kind, "rows": batch.total_rows, "invalid": batch.invalid_rows})
    Session.commit()
    return batch


# --- upload and read in the background --------------------------------------------------------

def _file_name(batch: ImportBatch) -> str:
    return f"import-{batch.id}.{batch.file_format}"


def upload_path(batch: ImportBatch) -> Path:
    return uploads.path(_file_name(batch))


def _remove_file(batch: ImportBatch) -> None:
    uploads.remove(_file_name(batch))


def upload(actor: User | None, kind: str, filename: str, data: bytes, organization_id: int | None,
           listing_status: str = ListingStatus.PUBLISHED) -> ImportBatch:
    """Keep the file and queue the job that reads it; returns at once. Only the checks that cost nothing
    (choices, extension, empty file, what a workbook's zip directory says) refuse a file here."""
    _require(actor)
    default_org = _check_choices(kind, listing_status, organization_id)
    file_format = check_upload(filename, data)
    job = Job(kind=READ_JOB, params={}, created_by_id=actor.id if actor else None)
    batch = ImportBatch(
        kind=kind, filename=Path(filename).name[:255], file_format=file_format, status=ImportStatus.UPLOADED,
        listing_status=listing_status, organization_id=default_org.id if default_org else None,
        created_by_id=actor.id if actor else None)
    Session.add_all([job, batch])
    Session.flush()
    job.params = uploads.job_params(batch_id=batch.id)
    batch.job_id = job.id
    path = uploads.store(_file_name(batch), data)
    audit.record(actor.id if actor else None, "import.upload", batch,
                 {"filename": batch.filename, "kind": kind, "bytes": len(data)})
    try:
        Session.commit()
    except Exception:
        Session.rollback()
        path.unlink(missing_ok=True)
        raise
    jobs.dispatch(READ_JOB, batch.id)
    return batch


def read_upload(batch_id: int) -> dict[str, Any]:
    """The job: read and check a stored upload, keep the outcome for the preview in one commit, or mark
    the upload failed with the reason. Runs again after a killed worker (the task is delivered again)."""
    params = Session.scalar(sa.select(Job.params).join(ImportBatch, ImportBatch.job_id == Job.id)
                            .where(ImportBatch.id == batch_id))
    with force_locale(uploads.uploader_language(params)):
        return _read_upload(batch_id)


def _read_upload(batch_id: int) -> dict[str, Any]:
    claimed = Session.execute(
        sa.update(ImportBatch).where(ImportBatch.id == batch_id, ImportBatch.status.in_(READ_PENDING))
        .values(status=ImportStatus.READING)).rowcount
    if not claimed:
        Session.rollback()
        return {}
    batch = Session.get(ImportBatch, batch_id)
    job = Session.get(Job, batch.job_id) if batch.job_id else None
    if job is not None and not uploads.start_attempt(job):
        Session.commit()
        return _read_failed(batch_id, uploads.too_many_attempts_message())
    progress = uploads.ReadProgress(batch.job_id)
    if job is not None:
        jobs.report_progress(job.id, 0, None, _("Reading the file…"))  # commits the claim
    else:
        Session.commit()
    try:
        data = upload_path(batch).read_bytes()
        default_org = Session.get(Organization, batch.organization_id) if batch.organization_id else None
        checked = _checked_rows(batch.kind, batch.filename, data, default_org, progress)
    except Exception as exc:  # whatever stops the reading (Celery's soft time limit too) fails the upload
        Session.rollback()
        message = uploads.failure_message(progress, exc)
        if message is None:
            log.exception("reading import batch %s failed", batch_id)
            message = uploads.unexpected_message(exc)
        return _read_failed(batch_id, message)
    # Keep the outcome only if the upload is still being read: not discarded nor given up meanwhile.
    kept = Session.execute(
        sa.update(ImportBatch).where(ImportBatch.id == batch_id, ImportBatch.status == ImportStatus.READING)
        .values(status=ImportStatus.PREVIEW, **checked)).rowcount
    if not kept:
        Session.rollback()
        return {}
    Session.expire(batch)
    audit.record(batch.created_by_id, "import.read", batch,
                 {"rows": checked["total_rows"], "invalid": checked["invalid_rows"]})
    result = {"batch": batch_id, "rows": checked["total_rows"], "invalid": checked["invalid_rows"]}
    if batch.job_id:
        jobs.finish_job(batch.job_id, result=result)  # commits
    else:
        Session.commit()
    return result


def _read_failed(batch_id: int, message: str) -> dict[str, Any]:
    failed = Session.execute(
        sa.update(ImportBatch).where(ImportBatch.id == batch_id, ImportBatch.status.in_(READ_PENDING))
        .values(status=ImportStatus.READ_FAILED, message=message, finished_at=utcnow())).rowcount
    batch = Session.get(ImportBatch, batch_id)
    if not failed or batch is None:
        Session.rollback()
        return {}
    Session.expire(batch)
    audit.record(batch.created_by_id, "import.read_failed", batch, {"message": message})
    if batch.job_id:
        jobs.finish_job(batch.job_id, error=message)  # commits the batch and its job together
    else:
        Session.commit()
    _remove_file(batch)
    return {"batch": batch_id, "error": message}


def fail_stale_reads() -> int:
    """Mark as failed the uploads whose reading can no longer finish: a job that started longer ago than its
    time limit allows (its worker was killed), or an upload no worker took up within IMPORT_READ_QUEUE_WAIT.
    Periodic; returns how many were marked."""
    now = utcnow()
    limit, wait = uploads.time_limit(), uploads.queue_wait()
    stmt = (sa.select(ImportBatch.id, Job.started_at, Job.params).outerjoin(Job, Job.id == ImportBatch.job_id)
            .where(ImportBatch.status.in_(READ_PENDING)))
    dead = stmt.where(ImportBatch.status == ImportStatus.READING,
                      Job.started_at < now - timedelta(seconds=limit + uploads.STALE_GRACE))
    unclaimed = stmt.where(Job.started_at.is_(None), ImportBatch.created_at < now - timedelta(seconds=wait))
    stale = {row.id: row for row in [*Session.execute(dead), *Session.execute(unclaimed)]}
    Session.rollback()
    for batch_id, row in sorted(stale.items()):
        with force_locale(uploads.uploader_language(row.params)):
            _read_failed(batch_id, uploads.stale_message(started=row.started_at is not None))
    return len(stale)


def discard(actor: User | None, batch_id: int) -> ImportBatch:
    """Drop an upload that was not confirmed, with its stored file; a read under way is left to finish unseen."""
    batch = get_batch(actor, batch_id)
    droppable = (*READ_PENDING, ImportStatus.READ_FAILED, ImportStatus.PREVIEW)
    dropped = Session.execute(
        sa.update(ImportBatch).where(ImportBatch.id == batch.id, ImportBatch.status.in_(droppable))
        .values(status=ImportStatus.DISCARDED, finished_at=utcnow())).rowcount
    if not dropped:
        Session.rollback()
        raise Conflict(_("This import has already been confirmed."))
    Session.expire(batch)
    audit.record(actor.id if actor else None, "import.discard", batch, {"filename": batch.filename})
    job = job_for(batch)
    if job is not None and job.kind == READ_JOB and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        job.status, job.finished_at = JobStatus.FAILED, utcnow()
        job.message = _("The upload was discarded.")
    Session.commit()
    _remove_file(batch)
    return batch


def get_batch(actor: User | None, batch_id: int) -> ImportBatch:
    _require(actor)
    batch = Session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(_("No such import."))
    return batch


def recent_batches(limit: int = 20) -> list[ImportBatch]:
    stmt = sa.select(ImportBatch).order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc()).limit(limit)
    return list(Session.scalars(stmt))


def duplicate_rows(batch: ImportBatch) -> int:
    """Valid rows that would be skipped now: already imported, or repeated earlier in the same file."""
    refs = [row["ref"] for row in batch.rows if row["ok"]]
    existing = existing_refs(batch.kind, refs)
    seen: set[str] = set()
    count = 0
    for ref in refs:
        if ref in existing or ref in seen:
            count += 1
        seen.add(ref)
    return count


def error_reasons(batch: ImportBatch, limit: int = 10) -> list[tuple[str, str, int]]:
    """(column or field, message, rows) for the most common errors, most frequent first."""
    counts = Counter((e["column"] or str(FIELD_LABELS.get(e["field"], e["field"])), e["message"])
                     for e in batch.row_errors)
    return [(column, message, n) for (column, message), n in counts.most_common(limit)]


def summary(batch: ImportBatch) -> dict[str, Any]:
    return {
        "batch": batch.id, "kind": batch.kind, "file": batch.filename, "status": batch.status,
        "rows": batch.total_rows, "valid": batch.valid_rows, "invalid": batch.invalid_rows,
        "imported": batch.imported_count, "duplicates": batch.duplicate_count,
        "left_out": batch.invalid_rows if batch.status == ImportStatus.DONE else 0,
        "reasons": [{"column": c, "message": m, "rows": n} for c, m, n in error_reasons(batch)],
    }


# --- confirm and run -------------------------------------------------------------------------

def confirm(actor: User | None, batch_id: int, valid_only: bool, background: bool | None = None) -> ImportBatch:
    """Start importing the batch's valid rows. A file with errors imports nothing unless valid_only.

    background=None picks a background job for files over BACKGROUND_ROWS valid rows.
    """
    batch = get_batch(actor, batch_id)
    if batch.status in READ_PENDING:
        raise Conflict(_("The file is still being read. Confirm it once its rows are shown."))
    if batch.status in (ImportStatus.READ_FAILED, ImportStatus.DISCARDED):
        raise Conflict(_("This upload was not read or was discarded, so there is nothing to import. Upload the "
                         "file again."))
    if batch.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED):
        raise Conflict(_("This import has already been confirmed."))
    if batch.invalid_rows and not valid_only:
        raise DomainError(_("%(n)s rows have errors, so nothing was imported. Fix the file and upload it again, "
                            "or tick “import only the valid rows”.", n=batch.invalid_rows), field="valid_only")
    if batch.valid_rows == 0:
        raise DomainError(_("No row of this file is valid; there is nothing to import."))
    # Claim the batch with a conditional update so a double click cannot import it twice.
    claimed = Session.execute(
        sa.update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status.in_([ImportStatus.PREVIEW, ImportStatus.FAILED]))
        .values(status=ImportStatus.QUEUED, valid_only=valid_only)
    ).rowcount
    if not claimed:
        Session.rollback()
        raise Conflict(_("This import has already been confirmed."))
    run_in_background = batch.valid_rows > BACKGROUND_ROWS if background is None else background
    if run_in_background:
        job = Job(kind="imports.run", params={"batch_id": batch.id}, total=batch.valid_rows,
                  created_by_id=actor.id if actor else None)
        Session.add(job)
        Session.flush()
        batch.job_id = job.id
    else:
        batch.job_id = None  # (the job that read the file) the import reports no progress of its own
    audit.record(actor.id if actor else None, "import.confirm", batch,
                 {"valid_only": valid_only, "rows": batch.valid_rows, "background": run_in_background})
    Session.commit()
    _remove_file(batch)  # the rows are in the batch; the file is not needed any more
    if run_in_background:
        jobs.dispatch("imports.run", batch.id)
    else:
        run_batch(batch.id)
    return batch


def _new_listing(batch: ImportBatch, row: dict[str, Any]) -> Any:
    fields = fields_from_json(row["fields"])
    listing = listing_model(batch.kind)(**fields)
    listing.organization_id = row["org"]
    listing.owner_id = None  # the organization's members manage it; the uploader is in the audit log
    listing.external_ref = row["ref"]
    listing.status = batch.listing_status
    if batch.listing_status == ListingStatus.PUBLISHED:
        posted = date.fromisoformat(row["posted"]) if row.get("posted") else None
        listing.published_at = datetime.combine(posted, dtime(), UTC) if posted else utcnow()
    return listing


@contextmanager
def outside_requests_locale() -> Iterator[None]:
    """Workers and commands have no request to pick a language from: they speak the default one."""
    if has_request_context():
        yield
        return
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        yield


def run_batch(batch_id: int) -> dict[str, Any]:
    """Create the batch's listings in chunks, committing each with its progress; duplicates are skipped."""
    with outside_requests_locale():
        return _run_batch(batch_id)


def _run_batch(batch_id: int) -> dict[str, Any]:
    batch = Session.get(ImportBatch, batch_id)
    if batch is None or batch.status != ImportStatus.QUEUED:
        return {}
    batch.status = ImportStatus.RUNNING
    Session.commit()
    try:
        imported, duplicates = _import_rows(batch)
    except Exception as exc:
        log.exception("import batch %s failed", batch_id)
        Session.rollback()
        batch.status = ImportStatus.FAILED
        batch.message = _("The import stopped: %(error)s. Listings saved so far are kept; confirm again to "
                          "import the rest.", error=str(exc)[:300])
        batch.finished_at = utcnow()
        Session.commit()
        if batch.job_id:
            jobs.finish_job(batch.job_id, error=batch.message)
        return {}
    batch.status = ImportStatus.DONE
    batch.imported_count += imported
    batch.duplicate_count = duplicates
    batch.finished_at = utcnow()
    result = summary(batch)
    audit.record(batch.created_by_id, "import.finish", batch,
                 {"imported": imported, "duplicates": duplicates, "left_out": batch.invalid_rows})
    if batch.job_id:
        jobs.finish_job(batch.job_id, result=result)  # commits
    else:
        Session.commit()
    return result


def _import_rows(batch: ImportBatch) -> tuple[int, int]:
    model = listing_model(batch.kind)
    todo = [row for row in batch.rows if row["ok"]]
    seen = existing_refs(batch.kind, [row["ref"] for row in todo])
    imported = duplicates = 0
    for start in range(0, len(todo), CHUNK_ROWS):
        created = []
        for row in todo[start:start + CHUNK_ROWS]:
            if row["ref"] in seen:
                duplicates += 1
                continue
            seen.add(row["ref"])
            listing = _new_listing(batch, row)
            Session.add(listing)
            created.append(listing)
        Session.flush()
        for listing in created:
            audit.record(batch.created_by_id, "listing.import", entity_type=model.__tablename__,
                         entity_id=listing.id, changes={"batch": batch.id, "external_ref": listing.external_ref})
            if listing.status == ListingStatus.PUBLISHED:
                listing_changed(batch.kind, listing.id)
        imported += len(created)
        done = min(start + CHUNK_ROWS, len(todo))
        if batch.job_id:
            jobs.report_progress(batch.job_id, done, len(todo),
                                 _("%(imported)s imported, %(skipped)s already there", imported=imported,
                                   skipped=duplicates))  # commits the chunk
        else:
            Session.commit()
    return imported, duplicates


def job_for(batch: ImportBatch) -> Job | None:
    return Session.get(Job, batch.job_id) if batch.job_id else None


def is_running(batch: ImportBatch) -> bool:
    job = job_for(batch)
    return batch.status in (ImportStatus.QUEUED, ImportStatus.RUNNING) and (
        job is None or job.status in (JobStatus.QUEUED, JobStatus.RUNNING))


# --- command line ----------------------------------------------------------------------------

def import_file(path: Path, kind: str, organization_id: int | None, listing_status: str = ListingStatus.PUBLISHED,
                valid_only: bool = False) -> dict[str, Any]:
    """Preview and import a file in one go (flask import-listings); returns the summary."""
    with outside_requests_locale():
        batch = preview_upload(None, kind, path.name, path.read_bytes(), organization_id, listing_status)
        try:
            confirm(None, batch.id, valid_only, background=False)
        except DomainError as error:
            return {**summary(batch), "error": error.message}
        return summary(batch)
