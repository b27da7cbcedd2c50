"""Idempotency-Key on API POSTs: the first answer to a key is kept, and the same caller sending the key
again gets that answer back instead of a second listing, introduction or contract. Keys are kept for
a day (a retry after a timeout comes within minutes)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import IdempotentRequest, Session, utcnow

KEEP = timedelta(days=1)
MAX_KEY = 100


class KeyReused(ValueError):
    """The key was first used for another request."""


def find(user_id: int, key: str, path: str) -> IdempotentRequest | None:
    row = Session.scalar(sa.select(IdempotentRequest).where(
        IdempotentRequest.user_id == user_id, IdempotentRequest.key == key,
        IdempotentRequest.created_at >= utcnow() - KEEP))
    if row is not None and row.path != path:
        raise KeyReused(key)
    return row


def remember(user_id: int, key: str, path: str, status: int, body: str) -> None:
    """Keep the answer (not server errors: those may be retried). A concurrent twin loses quietly."""
    if status >= 500:
        return
    Session.execute(sa.delete(IdempotentRequest).where(IdempotentRequest.user_id == user_id,
                                                       IdempotentRequest.key == key))
    Session.add(IdempotentRequest(user_id=user_id, key=key, path=path, status=status, body=body))
    try:
        Session.commit()
    except IntegrityError:
        Session.rollback()


def prune() -> int:
    result = Session.execute(sa.delete(IdempotentRequest).where(IdempotentRequest.created_at < utcnow() - KEEP))
    Session.commit()
    return int(result.rowcount or 0)
