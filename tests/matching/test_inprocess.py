"""Without Redis (make run), publishing still makes a listing searchable: jobs run in a thread."""
from __future__ import annotations

import time

import pytest

from matchmaker.matching import index, outbox
from models import Session
from tests.matching.test_matching import BEARING


@pytest.fixture
def app_config(app_config):
    return {**app_config, "JOBS_SYNC": False, "REDIS_URL": None}


def test_publishing_without_redis_indexes_in_a_background_thread(app, publish):
    bearing = publish("result", **BEARING)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        Session.rollback()
        if outbox.pending_count() == 0 and bearing.id in index.reader_index("result"):
            break
        time.sleep(0.5)
    assert bearing.id in index.reader_index("result")
