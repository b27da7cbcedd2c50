"""Benchmark the fair scheduler on a large synthetic fair and print one JSON line.

1,000 participants, 5,000 accepted meetings, 2 days x 2 sessions x 8 slots, 160 tables; each
participant misses one random session. Run from the repository root: python benchmarks/scheduler.py
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matchmaker.engine.scheduler import MeetingSpec, Problem, Slot, solve  # noqa: E402

PARTICIPANTS = 1_000
REQUESTS = 5_000
DAYS = 2
SESSION_STARTS = ((9, 0), (14, 0))  # morning and afternoon
SLOTS_PER_SESSION = 8
SLOT_MINUTES = 20
TABLES = 160
SEED = 20260512


def build_fair(seed: int = SEED) -> Problem:
    rng = random.Random(seed)
    slots: list[Slot] = []
    sessions: list[int] = []
    for day in range(DAYS):
        for hour, minute in SESSION_STARTS:
            session_id = len(sessions) + 1
            sessions.append(session_id)
            opening = datetime(2026, 5, 12 + day, hour, minute)
            for k in range(SLOTS_PER_SESSION):
                start = opening + timedelta(minutes=k * SLOT_MINUTES)
                slots.append(Slot(len(slots) + 1, session_id, start, start + timedelta(minutes=SLOT_MINUTES)))
    by_session = {sid: frozenset(s.id for s in slots if s.session_id == sid) for sid in sessions}
    unavailable = {p: by_session[rng.choice(sessions)] for p in range(1, PARTICIPANTS + 1)}
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < REQUESTS:
        a, b = rng.sample(range(1, PARTICIPANTS + 1), 2)
        pairs.add((min(a, b), max(a, b)))
    meetings = tuple(
        MeetingSpec(id=k + 1, a=a, b=b, priority=rng.randint(1, 3)) for k, (a, b) in enumerate(sorted(pairs))
    )
    return Problem(
        slots=tuple(slots),
        tables_per_session={sid: TABLES for sid in sessions},
        meetings=meetings,
        unavailable=unavailable,
    )


def main() -> None:
    problem = build_fair()
    started = time.perf_counter()
    schedule = solve(problem)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "name": "scheduler",
                "participants": PARTICIPANTS,
                "requests": REQUESTS,
                "scheduled": len(schedule.placements),
                "upper_bound": schedule.upper_bound,
                "seconds": round(seconds, 2),
                "optimal": schedule.optimal,
            }
        )
    )


if __name__ == "__main__":
    main()
