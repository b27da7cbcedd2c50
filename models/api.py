"""Personal API tokens: programs act for a user with the same rules as the site."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.base import Base, utcnow


class ApiToken(Base):
    """A named, scoped token. Only a SHA-256 of the secret is kept; the secret is shown once."""

    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # An organization token acts as the organization (user_id is its service account) and is managed by
    # the organization's admins; created_by_id is the person who made it.
    organization_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    prefix: so.Mapped[str] = so.mapped_column(sa.String(12))  # shown in lists so people can tell tokens apart
    scopes: so.Mapped[list[Any]] = so.mapped_column(sa.JSON, default=list)  # "read", "write"
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime]
    last_used_at: so.Mapped[datetime | None]
    last_used_ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    revoked_at: so.Mapped[datetime | None]


class IdempotentRequest(Base):
    """The answer to a POST sent with an Idempotency-Key, replayed when the same caller sends the key
    again (a retry after a timeout creates nothing twice)."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotent_requests_user_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: so.Mapped[str] = so.mapped_column(sa.String(100))
    path: so.Mapped[str] = so.mapped_column(sa.String(300))
    status: so.Mapped[int]
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, index=True)


class Webhook(Base):
    """An organization's subscription: events POSTed to a URL, signed with HMAC-SHA256 of the secret."""

    __tablename__ = "webhooks"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organization_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                                                        index=True)
    url: so.Mapped[str] = so.mapped_column(sa.String(500))
    secret: so.Mapped[str] = so.mapped_column(sa.String(100))  # signs deliveries, so it is kept
    events: so.Mapped[list[Any]] = so.mapped_column(sa.JSON, default=list)
    active: so.Mapped[bool] = so.mapped_column(default=True)
    failures: so.Mapped[int] = so.mapped_column(default=0)  # deliveries given up on in a row
    disabled_reason: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription, with its attempts; retried with backoff for a day."""

    __tablename__ = "webhook_deliveries"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    webhook_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event: so.Mapped[str] = so.mapped_column(sa.String(40))
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default="pending", index=True)  # delivered, failed
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(index=True)
    response_code: so.Mapped[int | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    delivered_at: so.Mapped[datetime | None]
