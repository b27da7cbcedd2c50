"""Fair scheduler: random small fairs must get valid, complete, bounded schedules; bad input is refused."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchmaker.engine import scheduler
from matchmaker.engine.scheduler import (
    MeetingSpec,
    Pinned,
    Problem,
    Schedule,
    ScheduleError,
    Slot,
    solve,
    validate,
)

DAY = datetime(2026, 5, 12, 9, 0)
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_slots(per_session: list[int]) -> tuple[Slot, ...]:
    """Back-to-back 20-minute slots; session k holds per_session[k] of them."""
    slots = []
    for session, count in enumerate(per_session, start=1):
        for _ in range(count):
            start = DAY + timedelta(minutes=20 * len(slots))
            slots.append(Slot(len(slots) + 1, session, start, start + timedelta(minutes=20)))
    return tuple(slots)


@st.composite
def fairs(draw: st.DrawFn, max_meetings: int = 14, max_slots: int = 3) -> Problem:
    per_session = draw(st.lists(st.integers(1, max_slots), min_size=1, max_size=2))
    slots = make_slots(per_session)
    tables = {s: draw(st.integers(1, 3)) for s in range(1, len(per_session) + 1)}
    people = draw(st.integers(2, 7))
    pairs = st.tuples(st.integers(1, people), st.integers(1, people)).filter(lambda p: p[0] != p[1])
    drawn = draw(st.lists(st.tuples(pairs, st.integers(1, 3)), max_size=max_meetings))
    meetings = tuple(MeetingSpec(k + 1, a, b, prio) for k, ((a, b), prio) in enumerate(drawn))
    slot_ids = [s.id for s in slots]
    unavailable = {
        p: frozenset(draw(st.lists(st.sampled_from(slot_ids), max_size=len(slot_ids)))) for p in range(1, people + 1)
    }
    pins = _compatible_pins(draw, slots, tables, meetings)
    cap = draw(st.one_of(st.none(), st.integers(0, 3)))
    caps = draw(st.dictionaries(st.integers(1, people), st.integers(0, 3), max_size=people))
    return Problem(slots, tables, meetings, unavailable, pins, cap, caps)


def _compatible_pins(draw: st.DrawFn, slots, tables, meetings) -> tuple[Pinned, ...]:
    """A few pins that do not double-book anyone or any table (they may hit unavailable slots)."""
    if not meetings:
        return ()
    pins: list[Pinned] = []
    used_tables: set[tuple[int, int]] = set()
    used_people: set[tuple[int, int]] = set()
    for meeting in draw(st.lists(st.sampled_from(meetings), max_size=3, unique=True)):
        slot = draw(st.sampled_from(slots))
        table = draw(st.integers(1, tables[slot.session_id]))
        people = {(meeting.a, slot.id), (meeting.b, slot.id)}
        if (slot.id, table) in used_tables or people & used_people:
            continue
        used_tables.add((slot.id, table))
        used_people |= people
        pins.append(Pinned(meeting.id, slot.id, table))
    return tuple(pins)


def solve_recording(problem: Problem, **kwargs) -> tuple[Schedule, list[dict]]:
    events: list[dict] = []
    return solve(problem, time_limit_s=5.0, progress=events.append, **kwargs), events


def can_attend(problem: Problem, meeting: MeetingSpec, slot_id: int) -> bool:
    return all(slot_id not in problem.unavailable.get(p, ()) for p in (meeting.a, meeting.b))


def assert_valid(problem: Problem, schedule: Schedule) -> None:
    meetings = {m.id: m for m in problem.meetings}
    slots = {s.id: s for s in problem.slots}
    tables_used: set[tuple[int, int]] = set()
    people_used: set[tuple[int, int]] = set()
    for placement in schedule.placements:
        meeting = meetings[placement.meeting_id]
        slot = slots[placement.slot_id]
        assert 1 <= placement.table <= problem.tables_per_session[slot.session_id]
        assert (slot.id, placement.table) not in tables_used, "table double-booked"
        tables_used.add((slot.id, placement.table))
        for person in (meeting.a, meeting.b):
            assert (person, slot.id) not in people_used, "participant double-booked"
            people_used.add((person, slot.id))
        assert can_attend(problem, meeting, slot.id), "meeting put in a slot someone cannot attend"
    placed = Counter(p for pl in schedule.placements for p in (meetings[pl.meeting_id].a, meetings[pl.meeting_id].b))
    pinned_people = Counter(
        p for pin in problem.pinned for p in (meetings[pin.meeting_id].a, meetings[pin.meeting_id].b)
    )
    for person, count in placed.items():
        cap = cap_of(problem, person)
        if cap is not None:
            assert count <= max(cap, pinned_people[person])


def cap_of(problem: Problem, person: int) -> int | None:
    """The cap the tests expect: a participant's own cap replaces the fair-wide one."""
    return problem.caps[person] if person in problem.caps else problem.max_meetings_per_participant


@FAST
@given(fairs())
def test_schedules_are_valid_complete_and_bounded(problem: Problem) -> None:
    schedule, events = solve_recording(problem)
    assert_valid(problem, schedule)
    placed_ids = [p.meeting_id for p in schedule.placements]
    unplaced_ids = [u.meeting_id for u in schedule.unplaced]
    assert sorted(placed_ids + unplaced_ids) == sorted(m.id for m in problem.meetings)
    assert len(schedule.placements) <= schedule.upper_bound
    greedy = next(e for e in events if e["phase"] == "greedy")
    assert len(schedule.placements) >= greedy["scheduled"]
    assert events[-1]["phase"] == "done" and events[-1]["scheduled"] == len(schedule.placements)


@FAST
@given(fairs())
def test_pinned_meetings_stay_where_staff_put_them(problem: Problem) -> None:
    schedule = solve(problem, time_limit_s=5.0)
    placements = {p.meeting_id: p for p in schedule.placements}
    reasons = {u.meeting_id: u.reason for u in schedule.unplaced}
    meetings = {m.id: m for m in problem.meetings}
    for pin in problem.pinned:
        if can_attend(problem, meetings[pin.meeting_id], pin.slot_id):
            assert placements[pin.meeting_id] == scheduler.Placement(pin.meeting_id, pin.slot_id, pin.table)
        else:
            assert reasons[pin.meeting_id] == "invalid_pin"


@FAST
@given(fairs())
def test_each_reason_matches_the_final_schedule(problem: Problem) -> None:
    schedule = solve(problem, time_limit_s=5.0)
    meetings = {m.id: m for m in problem.meetings}
    slots = {s.id: s for s in problem.slots}
    busy = {
        (p, pl.slot_id) for pl in schedule.placements for p in (meetings[pl.meeting_id].a, meetings[pl.meeting_id].b)
    }
    per_slot = Counter(pl.slot_id for pl in schedule.placements)
    per_person = Counter(
        p for pl in schedule.placements for p in (meetings[pl.meeting_id].a, meetings[pl.meeting_id].b)
    )
    for item in schedule.unplaced:
        meeting = meetings[item.meeting_id]
        common = [s for s in slots if can_attend(problem, meeting, s)]
        both_free = [s for s in common if (meeting.a, s) not in busy and (meeting.b, s) not in busy]
        if item.reason == "no_common_slot":
            assert all(
                any((p, s) in busy and _pinned_there(problem, p, s) for p in (meeting.a, meeting.b)) for s in common
            )
        elif item.reason == "cap_reached":
            assert any(
                cap_of(problem, p) is not None and per_person[p] >= cap_of(problem, p) for p in (meeting.a, meeting.b)
            )
        elif item.reason == "capacity":
            assert both_free
            assert all(per_slot[s] == problem.tables_per_session[slots[s].session_id] for s in both_free)
        elif item.reason == "participant_full":
            assert common and not both_free
        else:
            assert item.reason == "invalid_pin"


def _pinned_there(problem: Problem, person: int, slot_id: int) -> bool:
    meetings = {m.id: m for m in problem.meetings}
    return any(
        pin.slot_id == slot_id and person in (meetings[pin.meeting_id].a, meetings[pin.meeting_id].b)
        for pin in problem.pinned
    )


def brute_force_max(problem: Problem) -> int:
    """The most meetings any valid schedule places, by exhaustive search (tiny fairs only)."""
    meetings = {m.id: m for m in problem.meetings}
    slots = {s.id: s for s in problem.slots}
    pinned = {pin.meeting_id for pin in problem.pinned}
    kept = [pin for pin in problem.pinned if can_attend(problem, meetings[pin.meeting_id], pin.slot_id)]
    busy = {(p, pin.slot_id) for pin in kept for p in (meetings[pin.meeting_id].a, meetings[pin.meeting_id].b)}
    used = Counter(pin.slot_id for pin in kept)
    count = Counter(p for pin in kept for p in (meetings[pin.meeting_id].a, meetings[pin.meeting_id].b))
    free = [m for m in problem.meetings if m.id not in pinned]

    def best(k: int) -> int:
        if k == len(free):
            return 0
        meeting = free[k]
        result = best(k + 1)
        people = (meeting.a, meeting.b)
        if any(cap_of(problem, p) is not None and count[p] >= cap_of(problem, p) for p in people):
            return result
        for slot_id, slot in slots.items():
            if (
                can_attend(problem, meeting, slot_id)
                and used[slot_id] < problem.tables_per_session[slot.session_id]
                and all((p, slot_id) not in busy for p in people)
            ):
                used[slot_id] += 1
                busy.update((p, slot_id) for p in people)
                count.update(people)
                result = max(result, 1 + best(k + 1))
                used[slot_id] -= 1
                busy.difference_update((p, slot_id) for p in people)
                count.subtract(people)
        return result

    return len(kept) + best(0)


@FAST
@given(fairs(max_meetings=7, max_slots=2))
def test_small_fairs_are_solved_optimally(problem: Problem) -> None:
    schedule = solve(problem, time_limit_s=5.0)
    assert_valid(problem, schedule)
    best = brute_force_max(problem)
    assert len(schedule.placements) == best
    assert schedule.optimal and schedule.upper_bound == best


@settings(max_examples=25, deadline=None)
@given(fairs(max_meetings=10, max_slots=2))
def test_neighbourhood_search_keeps_every_guarantee(problem: Problem) -> None:
    # Large fairs get no whole-model CP-SAT step at the end; switch it off to check the search alone.
    with mock.patch.object(scheduler, "_FULL_MODEL_MAX_VARIABLES", 0):
        schedule, events = solve_recording(problem)
    assert_valid(problem, schedule)
    assert len(schedule.placements) + len(schedule.unplaced) == len(problem.meetings)
    assert next(e for e in events if e["phase"] == "greedy")["scheduled"] <= len(schedule.placements)
    assert len(schedule.placements) <= schedule.upper_bound


@settings(max_examples=15, deadline=None)
@given(fairs())
def test_same_input_gives_the_same_schedule(problem: Problem) -> None:
    first, second = solve(problem, time_limit_s=5.0), solve(problem, time_limit_s=5.0)
    assert (first.placements, first.unplaced, first.upper_bound) == (
        second.placements,
        second.unplaced,
        second.upper_bound,
    )


def one_session_fair(tables: int = 1, slots: int = 1, **kwargs) -> Problem:
    defaults = {"meetings": (), "unavailable": {}}
    defaults.update(kwargs)
    return Problem(slots=make_slots([slots]), tables_per_session={1: tables}, **defaults)


def test_meeting_without_a_common_slot_is_reported_as_such() -> None:
    problem = one_session_fair(
        slots=2, meetings=(MeetingSpec(1, 10, 20),), unavailable={10: frozenset({1}), 20: frozenset({2})}
    )
    schedule = solve(problem)
    assert schedule.placements == ()
    assert schedule.unplaced == (scheduler.Unplaced(1, "no_common_slot"),)


def test_the_stronger_match_gets_the_last_table() -> None:
    problem = one_session_fair(meetings=(MeetingSpec(1, 1, 2, priority=1), MeetingSpec(2, 3, 4, priority=5)))
    schedule = solve(problem)
    assert schedule.placements == (scheduler.Placement(2, 1, 1),)
    assert schedule.unplaced == (scheduler.Unplaced(1, "capacity"),)
    assert schedule.upper_bound == 1 and schedule.optimal


def test_count_beats_priority() -> None:
    # Meeting 1 is the strongest, but taking it leaves no room for 2 and 3 (both need person 1 or 2).
    meetings = (MeetingSpec(1, 1, 2, priority=100), MeetingSpec(2, 1, 3), MeetingSpec(3, 2, 4))
    schedule = solve(one_session_fair(tables=2, meetings=meetings))
    assert sorted(p.meeting_id for p in schedule.placements) == [2, 3]
    assert schedule.unplaced == (scheduler.Unplaced(1, "participant_full"),)


def test_participant_cap_is_respected_and_explained() -> None:
    meetings = tuple(MeetingSpec(k, 1, 10 + k) for k in range(1, 4))
    schedule = solve(one_session_fair(tables=3, slots=3, meetings=meetings, max_meetings_per_participant=2))
    assert len(schedule.placements) == 2
    assert [u.reason for u in schedule.unplaced] == ["cap_reached"]


@st.composite
def capped_fairs(draw: st.DrawFn, max_meetings: int = 14, max_slots: int = 3) -> Problem:
    """Fairs where everyone in a meeting has their own cap of 0-2, often below their pinned meetings."""
    problem = draw(fairs(max_meetings=max_meetings, max_slots=max_slots))
    people = sorted({p for m in problem.meetings for p in (m.a, m.b)})
    caps = {p: draw(st.integers(0, 2)) for p in people}
    return replace(problem, caps=caps)


def kept_pins(problem: Problem) -> list[Pinned]:
    meetings = {m.id: m for m in problem.meetings}
    return [pin for pin in problem.pinned if can_attend(problem, meetings[pin.meeting_id], pin.slot_id)]


def assert_caps_held(problem: Problem, schedule: Schedule) -> None:
    """Nobody gets more than their cap, except by pins, which fill it first and always stay."""
    meetings = {m.id: m for m in problem.meetings}
    pinned = Counter(p for pin in kept_pins(problem) for p in (meetings[pin.meeting_id].a, meetings[pin.meeting_id].b))
    placed = Counter(p for pl in schedule.placements for p in (meetings[pl.meeting_id].a, meetings[pl.meeting_id].b))
    for person, count in placed.items():
        cap = cap_of(problem, person)
        if cap is not None:
            assert count <= max(cap, pinned[person]), f"participant {person} has {count} meetings, cap {cap}"
    placements = set(schedule.placements)
    for pin in kept_pins(problem):
        assert scheduler.Placement(pin.meeting_id, pin.slot_id, pin.table) in placements, "a pin was dropped"


@FAST
@given(capped_fairs())
def test_nobody_exceeds_their_own_cap_and_pins_are_never_dropped(problem: Problem) -> None:
    schedule = solve(problem, time_limit_s=5.0)
    assert_valid(problem, schedule)
    assert_caps_held(problem, schedule)


@FAST
@given(capped_fairs())
def test_the_greedy_schedule_alone_keeps_each_cap(problem: Problem) -> None:
    # With no time left for LP or CP-SAT, solve returns the greedy schedule.
    schedule = solve(problem, time_limit_s=0.0)
    assert_caps_held(problem, schedule)


@settings(max_examples=25, deadline=None)
@given(capped_fairs(max_meetings=10, max_slots=2))
def test_neighbourhood_search_keeps_each_cap(problem: Problem) -> None:
    with mock.patch.object(scheduler, "_FULL_MODEL_MAX_VARIABLES", 0):
        schedule = solve(problem, time_limit_s=5.0)
    assert_caps_held(problem, schedule)
    assert len(schedule.placements) <= schedule.upper_bound


@FAST
@given(capped_fairs(max_meetings=7, max_slots=2))
def test_small_capped_fairs_are_solved_optimally(problem: Problem) -> None:
    schedule = solve(problem, time_limit_s=5.0)
    assert_caps_held(problem, schedule)
    best = brute_force_max(problem)
    assert len(schedule.placements) == best
    assert schedule.optimal and schedule.upper_bound == best


def test_own_cap_replaces_the_fair_wide_cap_both_ways() -> None:
    # Person 1 may have 3 meetings though the fair allows 1; person 20 may have none.
    meetings = (*(MeetingSpec(k, 1, 10 + k) for k in range(1, 4)), MeetingSpec(4, 20, 30), MeetingSpec(5, 31, 32))
    problem = one_session_fair(
        tables=3, slots=3, meetings=meetings, max_meetings_per_participant=1, caps={1: 3, 20: 0}
    )
    schedule = solve(problem)
    assert sorted(p.meeting_id for p in schedule.placements) == [1, 2, 3, 5]
    assert schedule.unplaced == (scheduler.Unplaced(4, "cap_reached"),)
    assert schedule.upper_bound == 4 and schedule.optimal


def test_pins_beyond_a_cap_stay_and_block_further_meetings() -> None:
    meetings = (MeetingSpec(1, 1, 2), MeetingSpec(2, 1, 3), MeetingSpec(3, 1, 4))
    problem = one_session_fair(
        tables=2, slots=3, meetings=meetings, caps={1: 1}, pinned=(Pinned(1, 1, 1), Pinned(2, 2, 1))
    )
    schedule = solve(problem)
    assert {p.meeting_id for p in schedule.placements} == {1, 2}
    assert schedule.unplaced == (scheduler.Unplaced(3, "cap_reached"),)
    assert schedule.upper_bound == 2


def test_negative_own_cap_is_refused() -> None:
    with pytest.raises(ScheduleError, match="participant 7 has a cap of -1"):
        validate(one_session_fair(caps={7: -1}))


def test_pin_into_an_unavailable_slot_is_reported_not_placed() -> None:
    problem = one_session_fair(
        slots=2,
        meetings=(MeetingSpec(1, 1, 2),),
        unavailable={1: frozenset({1})},
        pinned=(Pinned(1, 1, 1),),
    )
    schedule = solve(problem)
    assert schedule.placements == ()
    assert schedule.unplaced == (scheduler.Unplaced(1, "invalid_pin"),)


def test_pins_take_their_tables_and_others_fill_around_them() -> None:
    meetings = (MeetingSpec(1, 1, 2), MeetingSpec(2, 3, 4), MeetingSpec(3, 5, 6))
    problem = one_session_fair(tables=3, meetings=meetings, pinned=(Pinned(2, 1, 1),))
    schedule = solve(problem)
    assert set(schedule.placements) == {
        scheduler.Placement(1, 1, 2),
        scheduler.Placement(2, 1, 1),
        scheduler.Placement(3, 1, 3),
    }


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (one_session_fair(tables=0), "at least one"),
        (
            one_session_fair(
                meetings=(MeetingSpec(1, 1, 2), MeetingSpec(2, 1, 3)),
                tables=2,
                pinned=(Pinned(1, 1, 1), Pinned(2, 1, 2)),
            ),
            "participant 1 is pinned to two meetings",
        ),
        (
            one_session_fair(
                meetings=(MeetingSpec(1, 1, 2), MeetingSpec(2, 3, 4)),
                tables=2,
                pinned=(Pinned(1, 1, 1), Pinned(2, 1, 1)),
            ),
            "table 1 in slot 1 is pinned to two meetings",
        ),
        (one_session_fair(meetings=(MeetingSpec(1, 1, 2),), pinned=(Pinned(1, 1, 2),)), "table 2"),
        (one_session_fair(meetings=(MeetingSpec(1, 1, 2),), pinned=(Pinned(9, 1, 1),)), "unknown meeting 9"),
        (one_session_fair(meetings=(MeetingSpec(1, 1, 1),)), "themself"),
        (one_session_fair(meetings=(MeetingSpec(1, 1, 2), MeetingSpec(1, 3, 4))), "listed twice"),
        (
            Problem(
                slots=(
                    Slot(1, 1, DAY, DAY + timedelta(minutes=20)),
                    Slot(2, 2, DAY + timedelta(minutes=10), DAY + timedelta(minutes=30)),
                ),
                tables_per_session={1: 1, 2: 1},
                meetings=(),
                unavailable={},
            ),
            "overlap",
        ),
    ],
    ids=[
        "zero-tables",
        "double-booked-person",
        "double-booked-table",
        "no-such-table",
        "unknown-meeting",
        "self-meeting",
        "duplicate-id",
        "overlapping-slots",
    ],
)
def test_invalid_problems_are_refused(problem: Problem, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        validate(problem)
    with pytest.raises(ScheduleError):
        solve(problem)


def test_progress_reports_each_phase() -> None:
    meetings = tuple(MeetingSpec(k, k, k + 1) for k in range(1, 6))
    _, events = solve_recording(one_session_fair(tables=2, slots=2, meetings=meetings))
    assert events[0]["phase"] == "greedy" and events[-1]["phase"] == "done"
    assert all({"phase", "scheduled", "bound", "seconds"} <= set(e) for e in events)
    assert all(e["scheduled"] <= e["bound"] for e in events)
