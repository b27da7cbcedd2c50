"""The Celery app with slow delta writes (`celery -A tests.integration.slow_worker worker`), so a test can
kill the worker while a delta is half written: each delta's lexical part waits a second before it is
written, with the delta's vectors already in its temporary folder."""
from __future__ import annotations

import time

from matchmaker.engine import lexical_store
from workers.celery_app import celery  # noqa: F401 (the app Celery looks for)

_write_arrays = lexical_store.write_arrays


def _slow_write_arrays(path, *args, **kwargs):  # type: ignore[no-untyped-def]
    if ".delta." in str(path):  # inside a delta's temporary folder, not a base
        time.sleep(1.0)
    return _write_arrays(path, *args, **kwargs)


lexical_store.write_arrays = _slow_write_arrays
