"""In-site notifications (new strong matches, introduction requests, reminders)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, utcnow


class Notification(Base):
    __tablename__ = "notifications"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    # Message key and parameters, rendered in the reader's language at display time.
    params: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    link: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    read_at: so.Mapped[datetime | None]
    emailed_at: so.Mapped[datetime | None]
    # Prevents the same event notifying twice (e.g. "match:need:3:result:9").
    dedupe_key: so.Mapped[str | None] = so.mapped_column(sa.String(120), unique=True)
