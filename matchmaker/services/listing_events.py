"""One hook for "a listing changed in a way that affects matching"; the matching service listens.

Listing services call listing_changed() before their commit so a listener's outbox row shares the
transaction (no change is lost if the broker is down, none is announced if the commit fails).
"""
from __future__ import annotations

from collections.abc import Callable

# Each listener receives (kind, listing_id) with kind "result" or "need"; it may add rows to the
# current session but must not commit.
LISTENERS: list[Callable[[str, int], None]] = []


def listing_changed(kind: str, listing_id: int) -> None:
    for listener in LISTENERS:
        listener(kind, listing_id)
