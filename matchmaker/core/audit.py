"""Record who changed what: every service that changes data calls record() before its commit."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from models import AuditLog, Session


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return value


def diff(obj: Any, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changes; applies nothing."""
    changes: dict[str, list[Any]] = {}
    for field, new in new_values.items():
        old = getattr(obj, field, None)
        if _plain(old) != _plain(new):
            changes[field] = [_plain(old), _plain(new)]
    return changes


def apply(obj: Any, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the fields on obj and return the diff, for record()."""
    changes = diff(obj, new_values)
    for field in changes:
        setattr(obj, field, new_values[field])
    return changes


def record(actor_id: int | None, action: str, entity: Any = None, changes: dict[str, Any] | None = None,
           entity_type: str | None = None, entity_id: int | None = None) -> AuditLog:
    """Add an audit row to the current transaction (the calling command commits)."""
    if entity is not None:
        Session.flush()
        entity_type = entity_type or entity.__tablename__
        entity_id = entity_id if entity_id is not None else entity.id
    row = AuditLog(actor_id=actor_id, action=action, entity_type=entity_type or "", entity_id=entity_id,
                   changes={k: _plain(v) for k, v in (changes or {}).items()})
    Session.add(row)
    return row


def history(entity_type: str, entity_id: int) -> list[AuditLog]:
    from sqlalchemy import select

    stmt = (select(AuditLog).where(AuditLog.entity_type == entity_type, AuditLog.entity_id == entity_id)
            .order_by(AuditLog.at.desc(), AuditLog.id.desc()))
    return list(Session.scalars(stmt))
