"""Fixtures: a migrated database (SQLite by default, PostgreSQL with TEST_DATABASE=postgresql), the app,
a client, and small factories. Each test starts from empty tables."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import models
from matchmaker import create_app
from models.base import Base

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def create_pg_database() -> str:
    """A new, empty PostgreSQL database for this test process (tests that need their own call it too)."""
    name = f"mm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc.orig}); start it with: {PG_START}",
                    returncode=3)
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    engine = models.db._engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Tables come from the models; tests/test_migrations.py checks the migrations build the same schema.
    if os.environ.get("TEST_DATABASE", "sqlite") == "postgresql":
        url = create_pg_database()
        Base.metadata.create_all(models.db.get_engine(url))
        yield url
        drop_pg_database(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        Base.metadata.create_all(models.db.get_engine(url))
        yield url
        models.db.dispose_all()


def empty_all_tables(url: str) -> None:
    models.Session.remove()
    engine = models.db.get_engine(url)
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(sa.text(f'DELETE FROM "{table}"'))


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict:
    """Override in a test module to change settings for its app."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "JOBS_SYNC": True,  # background jobs run inline unless a test asks for a real worker
        "REDIS_URL": None,
        "INDEX_DIR": str(tmp_path / "index"),
        "ATTACHMENT_DIR": str(tmp_path / "attachments"),
        "IMPORT_UPLOAD_DIR": str(tmp_path / "uploads"),
        "INDEX_OPEN_IN_BACKGROUND": False,  # a search right after a publish sees it (background: tests/matching)
    }


@pytest.fixture
def app(app_config: dict):
    application = create_app(test_config=app_config)
    application.extensions["mail_outbox"] = []

    @application.before_request
    def _forget_cached_user() -> None:
        # The fixture keeps one app context open, so `g` outlives a request; a real server starts
        # each request with a fresh one, so Flask-Login must not reuse the previous request's user.
        from flask import g
        from flask_babel import refresh

        g.pop("_login_user", None)
        refresh()  # Flask-Babel caches the locale on the same context

    with application.app_context():
        yield application
    empty_all_tables(app_config["DATABASE_URL"])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app):
    from tests import factories

    return factories


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def login(self, user: models.User) -> None:
        """Log `user` in by session cookie (the login form itself is tested in tests/test_auth.py)."""
        with self._client.session_transaction() as sess:
            sess["_user_id"] = user.get_id()
            sess["_fresh"] = True

    def logout(self) -> None:
        with self._client.session_transaction() as sess:
            sess.clear()


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)
