"""A reader serves the open generation until the next one is open, and keeps it when the next is unreadable."""

from __future__ import annotations

import logging
import threading

import pytest

from matchmaker.engine.generations import GenerationReader


class SlowOpener:
    """Opens "g<n>" as n; waits for `release` on the names in `held`; fails on the names in `broken`."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.broken: set[str] = set()
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[str] = []

    def __call__(self, name: str) -> int:
        self.calls.append(name)
        self.started.set()
        if name in self.held:
            assert self.release.wait(10)
        if name in self.broken:
            raise ValueError(f"{name} is damaged")
        return int(name[1:])


def test_the_first_generation_opens_on_the_calling_thread() -> None:
    reader = GenerationReader(SlowOpener())
    assert reader.get("g1") == 1
    assert reader.name == "g1"


def test_the_old_generation_is_served_while_the_new_one_opens_in_the_background() -> None:
    opener = SlowOpener()
    reader = GenerationReader(opener)
    assert reader.get("g1") == 1
    opener.held.add("g2")
    assert reader.get("g2") == 1  # returns at once, with the old one
    assert opener.started.wait(5)
    assert reader.get("g2") == 1 and opener.calls.count("g2") == 1  # one open, not one per request
    opener.release.set()
    reader.wait(5)
    assert reader.get("g2") == 2
    assert reader.name == "g2"


def test_inline_mode_opens_the_new_generation_before_answering() -> None:
    reader = GenerationReader(SlowOpener(), background=False)
    assert reader.get("g1") == 1
    assert reader.get("g2") == 2


@pytest.mark.parametrize("background", [True, False])
def test_an_unreadable_generation_is_logged_and_the_old_one_kept(caplog, background) -> None:
    opener = SlowOpener()
    opener.broken.add("g2")
    reader = GenerationReader(opener, background=background, label="lexical result")
    assert reader.get("g1") == 1
    with caplog.at_level(logging.WARNING, logger="matchmaker.engine.generations"):
        reader.get("g2")
        reader.wait(5)
        assert reader.get("g2") == 1
    assert "lexical result generation g2 cannot be opened (ValueError: g2 is damaged); still serving g1" in caplog.text
    assert opener.calls.count("g2") == 1  # not retried on every request
    assert reader.get("g3") is not None
    reader.wait(5)
    assert reader.get("g3") == 3  # a later good generation is taken


def test_a_failed_generation_is_retried_after_the_interval() -> None:
    opener = SlowOpener()
    opener.broken.add("g2")
    reader = GenerationReader(opener, background=False, retry_seconds=0.0)
    reader.get("g1")
    assert reader.get("g2") == 1
    opener.broken.clear()
    assert reader.get("g2") == 2


def test_nothing_is_served_when_the_first_generation_fails_and_a_fallback_can_be_put() -> None:
    opener = SlowOpener()
    opener.broken.add("g1")
    reader = GenerationReader(opener)
    assert reader.get("g1") is None
    reader.put("g1", 100)
    assert reader.get("g1") == 100


def test_a_deleted_generation_is_not_served_while_the_next_one_opens() -> None:
    opener = SlowOpener()
    present = {"g1"}
    reader = GenerationReader(opener, exists=present.__contains__)
    assert reader.get("g1") == 1
    present.clear()  # pruned: its mapped pages may be gone on a shared volume
    assert reader.get("g2") == 2  # opened before answering, not in the background
