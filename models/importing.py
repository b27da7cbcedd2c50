"""Bulk imports of listings: the uploaded file's rows, normalised and validated, waiting for confirmation."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, utcnow


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # the file is stored (IMPORT_UPLOAD_DIR); the job that reads it has not started
    READING = "reading"    # the job is reading and checking the rows
    READ_FAILED = "read_failed"  # the file could not be read (or not in time); nothing was kept
    DISCARDED = "discarded"  # staff dropped the upload before confirming it
    PREVIEW = "preview"    # parsed and validated; staff have not confirmed yet
    QUEUED = "queued"      # confirmed; the job has not started
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"      # the job stopped; confirming again resumes (duplicates are skipped)


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))  # "result" or "need"
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    file_format: so.Mapped[str] = so.mapped_column(sa.String(10))  # csv, xlsx, jsonl
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=ImportStatus.PREVIEW, index=True)
    # The listing status imported rows get: "published" or "draft".
    listing_status: so.Mapped[str] = so.mapped_column(sa.String(20))
    # The organization chosen on the upload form; a row's own organization column wins.
    organization_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"))
    valid_only: so.Mapped[bool] = so.mapped_column(default=False)

    # [{"row": n, "ref": external_ref, "fields": {...listing fields, JSON-safe...}}, ...] in file order.
    rows: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    # [{"row": n, "field": name, "message": text}, ...]: messages in the uploader's language.
    row_errors: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)

    total_rows: so.Mapped[int] = so.mapped_column(default=0)
    invalid_rows: so.Mapped[int] = so.mapped_column(default=0)
    imported_count: so.Mapped[int] = so.mapped_column(default=0)
    duplicate_count: so.Mapped[int] = so.mapped_column(default=0)
    message: so.Mapped[str | None] = so.mapped_column(sa.Text)

    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    job_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    finished_at: so.Mapped[datetime | None]

    @property
    def valid_rows(self) -> int:
        return self.total_rows - self.invalid_rows
