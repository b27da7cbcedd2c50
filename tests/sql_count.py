"""Counting the SQL statements a piece of code runs (N+1 checks on list pages)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from models import Session


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements run inside the block, in a list filled as they run."""
    engine = Session.get_bind()
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
