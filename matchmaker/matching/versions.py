"""Which calibrated-relevance model the site uses: the ACTIVE row of calibration_versions, else the shipped
file (MATCH_CALIBRATION, default matchmaker/matching/calibration.json).

Every process keeps the model it read and asks the database which version is active at most once per
MATCH_CALIBRATION_TTL seconds (one indexed query for the id; the model itself is read only when the id
changed), so a switch made by the refit job or a staff rollback reaches every web process and worker
within that time, and at once in the process that made it (`forget`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from matchmaker.engine.calibration import Calibration
from models import CalibrationVersion, ModelStatus, Session

log = logging.getLogger(__name__)
DEFAULT_TTL = 10.0


@dataclass
class _Cache:
    checked_at: float = float("-inf")
    version_id: int | None = None
    model: Calibration | None = None


_lock = threading.Lock()


def _cache() -> _Cache:
    # Per app: tests (and scripts) that build several apps on different databases never share a model.
    return current_app.extensions.setdefault("matchmaker.calibration_version", _Cache())


def current(shipped: Callable[[], Calibration]) -> tuple[int | None, Calibration]:
    """(active version id or None, the model to use); `shipped` loads the file when no version is active."""
    ttl = float(current_app.config.get("MATCH_CALIBRATION_TTL", DEFAULT_TTL))
    cache = _cache()
    with _lock:
        now = time.monotonic()
        if now - cache.checked_at >= ttl:
            try:
                _refresh(cache)
            except sa.exc.SQLAlchemyError:  # database unreachable: keep what this process had
                log.warning("could not read the active calibration version; keeping version %s", cache.version_id)
            cache.checked_at = now
        if cache.version_id is None or cache.model is None:
            return None, shipped()
        return cache.version_id, cache.model


def _refresh(cache: _Cache) -> None:
    # Its own connection: the caller's transaction is neither read from nor disturbed by a failure here.
    with Session.get_bind().connect() as conn:
        active_id = conn.scalar(sa.select(sa.func.max(CalibrationVersion.id))
                                .where(CalibrationVersion.status == ModelStatus.ACTIVE))
        if active_id is None:
            cache.version_id, cache.model = None, None
        elif active_id != cache.version_id:
            text = conn.scalar(sa.select(CalibrationVersion.model).where(CalibrationVersion.id == active_id))
            cache.version_id, cache.model = active_id, Calibration.from_json(text)


def forget() -> None:
    """Re-read the active version on the next use (called by whatever switched it in this process)."""
    _cache().checked_at = float("-inf")
