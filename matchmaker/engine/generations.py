"""Serving one generation of an on-disk index while the next one opens off the request path.

A worker announces generations by name (a file or folder under the index directory); each reading
process holds a ``GenerationReader``. Asked for a generation it does not have, the reader keeps
answering with the one it has and opens the new one in a background thread, then swaps it in with
one assignment. A generation that cannot be opened is logged, the old one stays, and the new one is
tried again at most once per ``retry_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class GenerationReader(Generic[T]):
    """The open generation of one index in this process.

    ``opener(name)`` opens a generation (raising if it cannot). With ``background=False`` a new
    generation opens on the calling thread (tests, scripts); either way, a process that has nothing
    open yet opens the first one on the calling thread, since it has nothing else to answer with.
    So does a process whose open generation ``exists(name)`` says was deleted: pages of a deleted
    memory-mapped file stay readable on a local disk, but not on every shared volume (NFS).
    """

    def __init__(self, opener: Callable[[str], T], *, background: bool = True, retry_seconds: float = 30.0,
                 label: str = "index", exists: Callable[[str], bool] | None = None) -> None:
        self._opener = opener
        self._exists = exists
        self._background = background
        self._retry_seconds = retry_seconds
        self._label = label
        self._current: tuple[str, T] | None = None
        self._loading: threading.Thread | None = None
        self._failed: tuple[str, float] | None = None  # the last name that could not be opened, and when
        self._lock = threading.Lock()

    @property
    def name(self) -> str | None:
        current = self._current
        return current[0] if current else None

    def get(self, wanted: str) -> T | None:
        """The value of generation ``wanted`` if open, else the one open now (None if none is)."""
        current = self._current
        if current is not None and current[0] == wanted:
            return current[1]
        with self._lock:
            current = self._current
            if (current is not None and current[0] == wanted) or self._recently_failed(wanted):
                return current[1] if current else None
            if current is None or not self._background or not self._still_there(current[0]):
                self._open(wanted)  # under the lock: other threads have nothing better to serve
            elif self._loading is None or not self._loading.is_alive():
                # Opened without the lock, so requests keep being answered from the old generation.
                self._loading = threading.Thread(target=self._open, args=(wanted,), daemon=True,
                                                 name=f"open-{self._label}")
                self._loading.start()
            current = self._current
            return current[1] if current else None

    def put(self, name: str, value: T) -> None:
        """Serve ``value`` as generation ``name`` (a caller's own fallback for a generation that failed)."""
        with self._lock:
            self._current = (name, value)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background open in progress (tests, and a process warming up)."""
        loading = self._loading
        if loading is not None:
            loading.join(timeout)

    def _still_there(self, name: str) -> bool:
        return self._exists is None or self._exists(name)

    def _recently_failed(self, wanted: str) -> bool:
        return (self._failed is not None and self._failed[0] == wanted
                and time.monotonic() - self._failed[1] < self._retry_seconds)

    def _open(self, wanted: str) -> None:
        try:
            value = self._opener(wanted)
        except Exception as error:  # any unreadable generation: keep serving the old one
            self._failed = (wanted, time.monotonic())
            serving = self._current[0] if self._current else "nothing"
            log.warning("%s generation %s cannot be opened (%s: %s); still serving %s",
                        self._label, wanted, type(error).__name__, error, serving)
            return
        self._current = (wanted, value)  # one assignment: a reader sees the old or the new, whole
        self._failed = None
