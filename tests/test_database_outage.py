"""The database restarting under the site: a clear 503 page while it is away, and the site recovers by
itself once it is back (the pool pings connections before use)."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from matchmaker import create_app
from models import Role, Session
from tests.conftest import PG_ADMIN_URL


def test_an_unreachable_database_gives_a_clear_503_that_needs_no_database(tmp_path):
    app = create_app(test_config={
        "TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "JOBS_SYNC": True, "REDIS_URL": None, "INDEX_DIR": str(tmp_path / "index"),
        # Nothing listens on port 1: every connection attempt is refused, as while PostgreSQL restarts.
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/matchmaker",
    })
    client = app.test_client()
    for path in ("/", "/results", "/result/1"):
        page = client.get(path)
        assert page.status_code == 503, (path, page.status_code)
        assert page.headers["Retry-After"] == "30"
        assert "网站暂时无法访问" in page.get_data(as_text=True)
    api = client.get("/results", headers={"Accept": "application/json"})
    assert api.status_code == 503 and api.is_json


@pytest.mark.postgres_only
@pytest.mark.skipif(os.environ.get("TEST_DATABASE") != "postgresql",
                    reason="cuts PostgreSQL connections; runs in the PostgreSQL pass of make test")
def test_the_site_recovers_by_itself_after_its_connections_are_cut(app, client, auth, make):
    researcher = make.user(Role.RESEARCHER)
    auth.login(researcher)
    assert client.get("/my/listings").status_code == 200
    Session.remove()  # the end of a request gives the connection back to the pool, as on a real server
    database = app.config["DATABASE_URL"].rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a PostgreSQL restart does to every open connection
        cut = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database}).scalar()
    admin.dispose()
    assert cut >= 1
    page = client.get("/my/listings")
    assert page.status_code == 200
