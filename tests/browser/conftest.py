"""A live server for browser tests: the app on a real werkzeug server in a thread, on 127.0.0.1 and a
free port, over its own SQLite file database; plus a logged-in-browser helper and Chromium launch options."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

import models
from matchmaker import create_app
from models.base import Base

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium against a live server (slow)")


@dataclass
class LiveServer:
    base_url: str
    app: Any

    def url(self, path: str) -> str:
        return self.base_url + path

    def session_cookie(self, user: models.User, **extra: Any) -> dict[str, Any]:
        """A signed session cookie that logs `user` in, for Playwright's context.add_cookies()."""
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        value = serializer.dumps({"_user_id": str(user.id), "_fresh": True, **extra})
        return {"name": self.app.config.get("SESSION_COOKIE_NAME", "session"), "value": value,
                "url": self.base_url}


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """Yields LiveServer(base_url, app); the test sets up data inside `with live_server.app.app_context():`."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    Base.metadata.create_all(models.db.get_engine(url))
    app = create_app(test_config={
        "TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "live-test-secret", "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False, "JOBS_SYNC": True, "REDIS_URL": None, "INDEX_DIR": str(tmp_path / "index"),
        "ATTACHMENT_DIR": str(tmp_path / "attachments"), "SERVER_NAME": None,
    })
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        models.Session.remove()
        engine = models.db._engines.pop(url, None)
        if engine is not None:
            engine.dispose()


@pytest.fixture
def browser() -> Iterator[Any]:
    import playwright.sync_api as playwright_api

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
