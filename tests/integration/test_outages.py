"""Faults a real deployment meets: Redis stopped mid-run (a Redis server started by the test on its own
port) and PostgreSQL connections cut under the site. The site degrades instead of failing: log-in and
publishing answer at once, the outbox keeps every change, staff see the outage, and the site recovers."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from matchmaker.listings import lifecycle
from matchmaker.matching import outbox
from models import ListingStatus, Role, Session
from tests.factories import PASSWORD

pytestmark = pytest.mark.integration

# Generous bounds: without the fixes a log-in answered 500 and a publish hung ~19 s retrying the broker.
PROMPT = 3.0


class RedisServer:
    """A redis-server process of this test's own, so stopping it disturbs no other test or service."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def queued(self) -> int:
        return redis.Redis.from_url(self.url).llen("celery")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, redis_server):
    return {**app_config, "JOBS_SYNC": False, "REDIS_URL": redis_server.url, "RATELIMIT_ENABLED": True,
            "LOGIN_RATE_LIMIT": "3 per minute"}


def _timed(fn):
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def _log_in(client, email, password=PASSWORD):
    return client.post("/account/login", data={"email": email, "password": password})


def test_redis_stopped_mid_run_log_in_and_publishing_still_answer_and_nothing_is_lost(
        app, client, auth, make, redis_server):
    staff = make.user(Role.STAFF, email="staff@example.cn")
    researcher = make.user(Role.RESEARCHER, email="lin@example.cn")
    first = make.result(owner=researcher, status=ListingStatus.PENDING, title="基于振动信号的轴承故障预测")
    lifecycle.approve_listing(staff, first)
    assert redis_server.queued() == 1  # with Redis up, the change goes straight to the workers

    redis_server.stop()

    response, seconds = _timed(lambda: _log_in(client, "lin@example.cn"))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert seconds < PROMPT
    client.post("/account/logout")
    # The limiter still limits, counting in memory while Redis is away.
    codes = [_log_in(client, "lin@example.cn", "wrong-password").status_code for _ in range(4)]
    assert codes[-1] == 429

    second = make.result(owner=researcher, status=ListingStatus.PENDING, title="水稻抗倒伏新品种选育")
    _, seconds = _timed(lambda: lifecycle.approve_listing(staff, second))
    assert seconds < PROMPT
    assert Session.get(type(second), second.id).status == ListingStatus.PUBLISHED
    assert outbox.pending_count() == 2  # both changes wait in the outbox; nothing lost

    auth.login(staff)
    page = client.get("/admin/")
    assert page.status_code == 200
    assert 'id="broker-down"' in page.get_data(as_text=True)

    redis_server.start()  # back on the same port: the next change is delivered again
    third = make.result(owner=researcher, status=ListingStatus.PENDING, title="高效热泵干燥装置")
    lifecycle.approve_listing(staff, third)
    assert redis_server.queued() == 1
    assert outbox.pending_count() == 3  # the worker (or reconciliation) takes all three from the outbox
    assert 'id="broker-down"' not in client.get("/admin/").get_data(as_text=True)
