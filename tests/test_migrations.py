"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models
from matchmaker import dbsetup
from models.base import Base
from tests.conftest import create_pg_database, drop_pg_database


def _diff_after_upgrade(url: str) -> list:
    dbsetup.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def test_migrations_match_models_on_sqlite(tmp_path):
    assert _diff_after_upgrade(f"sqlite:///{tmp_path / 'migrated.db'}") == []


def test_migrations_match_models_on_postgresql():
    url = create_pg_database()
    try:
        assert _diff_after_upgrade(url) == []
    finally:
        models.Session.remove()
        drop_pg_database(url)
