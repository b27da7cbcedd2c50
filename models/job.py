"""Long-running jobs (imports, rebuilds, scheduling) and their progress, readable by any process."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(50), index=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=JobStatus.QUEUED)
    done: so.Mapped[int] = so.mapped_column(default=0)
    total: so.Mapped[int | None]
    message: so.Mapped[str | None] = so.mapped_column(sa.Text)
    params: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    result: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    started_at: so.Mapped[datetime | None]
    finished_at: so.Mapped[datetime | None]

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))
