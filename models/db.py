"""Engine and session factory shared by the web app, the workers and scripts."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import orm as so

Session = so.scoped_session(so.sessionmaker(expire_on_commit=False))
_engines: dict[str, sa.Engine] = {}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def get_engine(url: str) -> sa.Engine:
    """One engine per URL per process (created lazily, so forking parents never hold one)."""
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        _engines[url] = engine
    return engine


def configure(url: str) -> sa.Engine:
    """Bind the shared scoped session to the database at `url`."""
    engine = get_engine(url)
    Session.remove()
    Session.configure(bind=engine)
    return engine


def dispose_all() -> None:
    Session.remove()
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
