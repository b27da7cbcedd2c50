"""Append-only audit log: who changed what, when."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, utcnow


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: so.Mapped[str] = so.mapped_column(sa.String(50))
    entity_type: so.Mapped[str] = so.mapped_column(sa.String(40))
    entity_id: so.Mapped[int | None]
    # {"field": [old, new], ...} or free details for non-edit actions.
    changes: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)
