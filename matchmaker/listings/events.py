"""One hook for "a listing changed in a way that affects matching"; the matching feature listens.

Listing services call listing_changed() before their commit so a listener's outbox row shares the
transaction (no change is lost if the broker is down, none is announced if the commit fails).
Listeners are added by a feature's init_app (matchmaker.matching adds the outbox), never by an import.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

# Each listener receives (kind, listing_id) with kind "result" or "need"; it may add rows to the
# current session but must not commit.
Listener = Callable[[str, int], None]
_KEY = "matchmaker.listing_listeners"


def on_listing_changed(app: Flask, listener: Listener) -> None:
    listeners = app.extensions.setdefault(_KEY, [])
    if listener not in listeners:
        listeners.append(listener)


def listeners(app: Flask | None = None) -> list[Listener]:
    return list((app or current_app).extensions.get(_KEY, ()))


def listing_changed(kind: str, listing_id: int) -> None:
    for listener in listeners():
        listener(kind, listing_id)
