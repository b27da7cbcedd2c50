"""Meeting scheduler for matchmaking fairs: put accepted 1:1 meetings into time slots and tables.

A greedy schedule is improved with CP-SAT, neighbourhood by neighbourhood; tables are dealt out last.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from ortools.sat.python import cp_model
from scipy import sparse
from scipy.optimize import linprog

NO_COMMON_SLOT = "no_common_slot"
PARTICIPANT_FULL = "participant_full"
CAPACITY = "capacity"
CAP_REACHED = "cap_reached"
INVALID_PIN = "invalid_pin"

ProgressFn = Callable[[dict], None]

# Time kept back from CP-SAT for reading its answer and dealing out tables.
_FINISH_RESERVE_S = 0.3
# Most of the time limit the LP bound may take; it took 0.7-1.0 s on the 5,000-meeting benchmark.
_LP_SHARE = 0.25
_MIN_LP_TIME_S = 0.1
# Below this, CP-SAT cannot even load a large model; the greedy schedule is returned instead.
_MIN_SOLVER_TIME_S = 0.05


@dataclass(frozen=True)
class Slot:
    id: int
    session_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class MeetingSpec:
    """An accepted meeting between participants ``a`` and ``b``; higher priority = stronger match."""

    id: int
    a: int
    b: int
    priority: int = 1


@dataclass(frozen=True)
class Pinned:
    """A meeting fixed by staff to a slot and table; the solver never moves it."""

    meeting_id: int
    slot_id: int
    table: int


@dataclass(frozen=True)
class Problem:
    """The fair to schedule. ``caps`` maps a participant to their own meeting cap, which replaces
    ``max_meetings_per_participant`` for them (higher or lower); None in either means no cap."""

    slots: tuple[Slot, ...]
    tables_per_session: Mapping[int, int]
    meetings: tuple[MeetingSpec, ...]
    unavailable: Mapping[int, frozenset[int]]
    pinned: tuple[Pinned, ...] = ()
    max_meetings_per_participant: int | None = None
    caps: Mapping[int, int] = field(default_factory=dict)

    def cap_of(self, participant: int) -> int | None:
        """The most meetings this participant may have, pins included (None: no cap)."""
        return self.caps.get(participant, self.max_meetings_per_participant)


@dataclass(frozen=True)
class Placement:
    meeting_id: int
    slot_id: int
    table: int


@dataclass(frozen=True)
class Unplaced:
    """A meeting left out, with a reason code (see the module constants)."""

    meeting_id: int
    reason: str


@dataclass(frozen=True)
class Schedule:
    """The result; ``upper_bound`` caps how many meetings any schedule could place.

    ``optimal`` means no schedule places more meetings (``len(placements) == upper_bound``).
    """

    placements: tuple[Placement, ...]
    unplaced: tuple[Unplaced, ...]
    upper_bound: int
    optimal: bool
    seconds: float


class ScheduleError(ValueError):
    """The problem itself is inconsistent (bad pins, no tables, overlapping slots, ...)."""


# --------------------------------------------------------------------------- validation


def validate(problem: Problem) -> None:
    """Raise ScheduleError if the problem cannot be scheduled as stated."""
    slots = _validate_slots(problem)
    meetings = _validate_meetings(problem)
    _validate_pins(problem, slots, meetings)
    cap = problem.max_meetings_per_participant
    if cap is not None and cap < 0:
        raise ScheduleError(f"max_meetings_per_participant must be >= 0, got {cap}")
    for person, own_cap in problem.caps.items():
        if own_cap < 0:
            raise ScheduleError(f"participant {person} has a cap of {own_cap}; it must be >= 0")


def _validate_slots(problem: Problem) -> dict[int, Slot]:
    for session_id, tables in problem.tables_per_session.items():
        if tables < 1:
            raise ScheduleError(f"session {session_id} has {tables} tables; it needs at least one")
    slots: dict[int, Slot] = {}
    for slot in problem.slots:
        if slot.id in slots:
            raise ScheduleError(f"slot {slot.id} is listed twice")
        if slot.session_id not in problem.tables_per_session:
            raise ScheduleError(f"slot {slot.id} belongs to session {slot.session_id}, which has no tables")
        if slot.start >= slot.end:
            raise ScheduleError(f"slot {slot.id} ends before it starts")
        slots[slot.id] = slot
    # Everyone may be booked in any slot, so two slots running at once would let a person be in two places.
    ordered = sorted(problem.slots, key=lambda s: (s.start, s.end, s.id))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            raise ScheduleError(f"slots {before.id} and {after.id} overlap in time")
    return slots


def _validate_meetings(problem: Problem) -> dict[int, MeetingSpec]:
    meetings: dict[int, MeetingSpec] = {}
    for meeting in problem.meetings:
        if meeting.id in meetings:
            raise ScheduleError(f"meeting {meeting.id} is listed twice")
        if meeting.a == meeting.b:
            raise ScheduleError(f"meeting {meeting.id} pairs participant {meeting.a} with themself")
        meetings[meeting.id] = meeting
    return meetings


def _validate_pins(problem: Problem, slots: Mapping[int, Slot], meetings: Mapping[int, MeetingSpec]) -> None:
    seen_meetings: set[int] = set()
    tables_taken: set[tuple[int, int]] = set()
    people_taken: set[tuple[int, int]] = set()
    for pin in problem.pinned:
        meeting = meetings.get(pin.meeting_id)
        slot = slots.get(pin.slot_id)
        if meeting is None:
            raise ScheduleError(f"pin refers to unknown meeting {pin.meeting_id}")
        if slot is None:
            raise ScheduleError(f"meeting {pin.meeting_id} is pinned to unknown slot {pin.slot_id}")
        tables = problem.tables_per_session[slot.session_id]
        if not 1 <= pin.table <= tables:
            raise ScheduleError(
                f"meeting {pin.meeting_id} is pinned to table {pin.table}; slot {slot.id} has tables 1..{tables}"
            )
        if pin.meeting_id in seen_meetings:
            raise ScheduleError(f"meeting {pin.meeting_id} is pinned twice")
        if (slot.id, pin.table) in tables_taken:
            raise ScheduleError(f"table {pin.table} in slot {slot.id} is pinned to two meetings")
        for person in (meeting.a, meeting.b):
            if (person, slot.id) in people_taken:
                raise ScheduleError(f"participant {person} is pinned to two meetings in slot {slot.id}")
            people_taken.add((person, slot.id))
        seen_meetings.add(pin.meeting_id)
        tables_taken.add((slot.id, pin.table))


# --------------------------------------------------------------------------- preparation


@dataclass
class _Prepared:
    """The slot-assignment problem left once pins are fixed, in solver-friendly index form."""

    slots: list[Slot]  # ordered by start time; "slot positions" index this list
    capacity: list[int]  # tables left per slot position after pins
    pins: list[Pinned]  # pins that are kept as they are
    invalid_pins: list[int]  # meeting ids whose pin puts someone in a slot they cannot attend
    free: list[MeetingSpec]  # meetings the solver places, ordered by id
    options: list[list[int]]  # per free meeting: slot positions both can attend and neither is pinned in
    weights: list[int]  # objective weight per free meeting
    unit: int  # weight share of one meeting; exceeds every possible sum of priority bonuses
    allowance: dict[int, int]  # capped participant -> meetings still allowed beyond pins (absent: no cap)
    meetings_of: dict[int, list[int]]  # participant -> free meetings they are in
    limit: dict[int, int]  # participant -> most free meetings they could possibly have


def _prepare(problem: Problem) -> _Prepared:
    slots = sorted(problem.slots, key=lambda s: (s.start, s.id))
    position = {slot.id: pos for pos, slot in enumerate(slots)}
    capacity = [problem.tables_per_session[slot.session_id] for slot in slots]
    meetings = {m.id: m for m in problem.meetings}

    def blocked(person: int, slot_id: int) -> bool:
        return slot_id in problem.unavailable.get(person, ())

    pins: list[Pinned] = []
    invalid_pins: list[int] = []
    busy: set[tuple[int, int]] = set()  # (participant, slot position) taken by a kept pin
    pinned_count: dict[int, int] = defaultdict(int)
    for pin in sorted(problem.pinned, key=lambda p: p.meeting_id):
        meeting = meetings[pin.meeting_id]
        if blocked(meeting.a, pin.slot_id) or blocked(meeting.b, pin.slot_id):
            invalid_pins.append(pin.meeting_id)
            continue
        pins.append(pin)
        pos = position[pin.slot_id]
        capacity[pos] -= 1
        for person in (meeting.a, meeting.b):
            busy.add((person, pos))
            pinned_count[person] += 1

    pinned_ids = {p.meeting_id for p in problem.pinned}
    free = sorted((m for m in problem.meetings if m.id not in pinned_ids), key=lambda m: m.id)
    options = [
        [
            pos
            for pos, slot in enumerate(slots)
            if not blocked(m.a, slot.id)
            and not blocked(m.b, slot.id)
            and (m.a, pos) not in busy
            and (m.b, pos) not in busy
        ]
        for m in free
    ]
    allowance: dict[int, int] = {}
    for person in sorted({p for m in free for p in (m.a, m.b)}):
        cap = problem.cap_of(person)
        if cap is not None:
            # Pins count towards the cap but are never dropped for it, so the allowance stops at zero.
            allowance[person] = max(0, cap - pinned_count[person])
    lowest = min((m.priority for m in free), default=0)
    bonus = [m.priority - lowest for m in free]
    unit = sum(bonus) + 1
    meetings_of: dict[int, list[int]] = defaultdict(list)
    usable: dict[int, set[int]] = defaultdict(set)
    for i, m in enumerate(free):
        for person in (m.a, m.b):
            meetings_of[person].append(i)
            usable[person].update(options[i])
    limit = {p: min(len(slots_), allowance.get(p, len(slots_))) for p, slots_ in usable.items()}
    return _Prepared(
        slots=slots,
        capacity=capacity,
        pins=pins,
        invalid_pins=invalid_pins,
        free=free,
        options=options,
        weights=[unit + b for b in bonus],
        unit=unit,
        allowance=allowance,
        meetings_of=dict(meetings_of),
        limit=limit,
    )


# --------------------------------------------------------------------------- greedy


class _Board:
    """A mutable slot assignment of the free meetings that keeps every constraint checkable in O(1)."""

    def __init__(self, prep: _Prepared) -> None:
        self.prep = prep
        self.slot_of = [-1] * len(prep.free)
        self.busy: dict[tuple[int, int], int] = {}  # (participant, slot position) -> free meeting index
        self.left = list(prep.capacity)
        self.placed_count: dict[int, int] = defaultdict(int)

    def cap_reached(self, i: int) -> bool:
        allowance = self.prep.allowance
        if not allowance:
            return False
        m = self.prep.free[i]
        return any(
            person in allowance and self.placed_count[person] >= allowance[person] for person in (m.a, m.b)
        )

    def saturated(self, person: int) -> bool:
        """True when the person cannot take one more meeting without giving one up."""
        return self.placed_count[person] >= self.prep.limit[person]

    def both_free(self, i: int, pos: int) -> bool:
        m = self.prep.free[i]
        return (m.a, pos) not in self.busy and (m.b, pos) not in self.busy

    def can_place(self, i: int, pos: int) -> bool:
        return self.left[pos] > 0 and self.both_free(i, pos) and not self.cap_reached(i)

    def place(self, i: int, pos: int) -> None:
        m = self.prep.free[i]
        self.slot_of[i] = pos
        self.left[pos] -= 1
        for person in (m.a, m.b):
            self.busy[(person, pos)] = i
            self.placed_count[person] += 1

    def remove(self, i: int) -> None:
        m = self.prep.free[i]
        pos = self.slot_of[i]
        self.slot_of[i] = -1
        self.left[pos] += 1
        for person in (m.a, m.b):
            del self.busy[(person, pos)]
            self.placed_count[person] -= 1

    def fill(self, order: Iterable[int]) -> None:
        """Place each unplaced meeting, in order, in the open slot with most tables left."""
        for i in order:
            if self.slot_of[i] >= 0 or self.cap_reached(i):
                continue
            open_slots = [pos for pos in self.prep.options[i] if self.left[pos] > 0 and self.both_free(i, pos)]
            if open_slots:
                # Spreading meetings over slots keeps tables free for the meetings with fewer choices.
                self.place(i, max(open_slots, key=lambda pos: (self.left[pos], -pos)))

    def scheduled(self) -> int:
        return sum(1 for pos in self.slot_of if pos >= 0)

    def value(self) -> int:
        return sum(w for w, pos in zip(self.prep.weights, self.slot_of, strict=True) if pos >= 0)


def _greedy_order(prep: _Prepared) -> list[int]:
    """Meetings of the least oversubscribed people first, then those with fewer possible slots.

    A person wanted for more meetings than they can hold loses some anyway, so their meetings
    wait; placing them early would crowd out partners with no alternative. This ordering placed
    8% more meetings than fewest-slots-first on a fair with a cap of 8 meetings per person.
    """
    wanted: dict[int, int] = defaultdict(int)
    for i, m in enumerate(prep.free):
        if prep.options[i]:
            wanted[m.a] += 1
            wanted[m.b] += 1

    def pressure(person: int) -> float:
        return max(1.0, wanted[person] / max(1, prep.limit[person]))

    def key(i: int) -> tuple[float, int, int, int]:
        m = prep.free[i]
        return (pressure(m.a) + pressure(m.b), len(prep.options[i]), -prep.weights[i], m.id)

    return sorted(range(len(prep.free)), key=key)


# --------------------------------------------------------------------------- bounds


def _cheap_bound(prep: _Prepared) -> int:
    """An upper bound on free meetings placed, from counting arguments alone."""
    allowance = prep.allowance
    placeable = [
        i
        for i, opts in enumerate(prep.options)
        if opts and allowance.get(prep.free[i].a, 1) and allowance.get(prep.free[i].b, 1)
    ]
    degree: dict[int, int] = defaultdict(int)
    per_slot_meetings = [0] * len(prep.slots)
    per_slot_people: list[set[int]] = [set() for _ in prep.slots]
    for i in placeable:
        m = prep.free[i]
        degree[m.a] += 1
        degree[m.b] += 1
        for pos in prep.options[i]:
            per_slot_meetings[pos] += 1
            per_slot_people[pos].update((m.a, m.b))
    # Each meeting a person cannot fit is lost, and each lost meeting is counted by at most two people.
    excess = sum(max(0, d - prep.limit[person]) for person, d in degree.items())
    by_people = len(placeable) - math.ceil(excess / 2)
    by_slots = sum(
        min(cap, count, len(people) // 2)
        for cap, count, people in zip(prep.capacity, per_slot_meetings, per_slot_people, strict=True)
    )
    return max(0, min(by_people, by_slots))


def _pooled_lp_bound(prep: _Prepared, time_limit_s: float) -> int | None:
    """Upper bound from the LP relaxation of the fair with each session's slots pooled.

    Pooling forgets which slot of a session a meeting gets, keeping per-session limits on
    tables and on each person's usable slots. On the benchmark fair this LP is ~10x smaller
    than the slot-level one and gave the same bound. None if HiGHS does not finish in time.
    """
    session_of = [slot.session_id for slot in prep.slots]
    rows: dict[tuple, int] = {}  # constraint key -> row number
    limits: list[float] = []
    entries_row: list[int] = []
    entries_col: list[int] = []

    def add(key: tuple, limit: int, column: int) -> None:
        if key not in rows:
            rows[key] = len(limits)
            limits.append(limit)
        entries_row.append(rows[key])
        entries_col.append(column)

    usable: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, m in enumerate(prep.free):
        for pos in prep.options[i]:
            usable[(m.a, session_of[pos])].add(pos)
            usable[(m.b, session_of[pos])].add(pos)
    tables: dict[int, int] = defaultdict(int)
    for pos, capacity in enumerate(prep.capacity):
        tables[session_of[pos]] += capacity
    columns = 0
    for i, m in enumerate(prep.free):
        for session in sorted({session_of[pos] for pos in prep.options[i]}):
            add(("meeting", i), 1, columns)
            add(("session", session), tables[session], columns)
            for person in (m.a, m.b):
                add(("person-session", person, session), len(usable[(person, session)]), columns)
                add(("person", person), prep.limit[person], columns)
            columns += 1
    if columns == 0:
        return 0
    matrix = sparse.csr_array((np.ones(len(entries_row)), (entries_row, entries_col)), shape=(len(limits), columns))
    result = linprog(
        -np.ones(columns),
        A_ub=matrix,
        b_ub=np.array(limits, dtype=float),
        bounds=(0, 1),
        method="highs",
        options={"time_limit": max(0.01, time_limit_s)},
    )
    if result.status != 0:
        return None
    # HiGHS's tolerances are ~1e-7 per term; the margin keeps the rounded bound on the safe side.
    return int(math.floor(-result.fun + 1e-3))


# --------------------------------------------------------------------------- CP-SAT


@dataclass
class _Tracker:
    """Deadline and progress reporting shared by all phases of one solve."""

    progress: ProgressFn | None
    started: float
    deadline: float
    base: int  # meetings placed by pins, outside every model
    bound: int  # best upper bound on free meetings placed so far

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def report(self, phase: str, scheduled: int, bound: int | None = None) -> None:
        if self.progress is None:
            return
        best = self.bound if bound is None else min(self.bound, bound)
        self.progress(
            {
                "phase": phase,
                "scheduled": self.base + scheduled,
                "bound": self.base + best,
                "seconds": round(time.perf_counter() - self.started, 3),
            }
        )


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Forwards CP-SAT's improving solutions of the full model to the caller."""

    def __init__(self, tracker: _Tracker, unit: int) -> None:
        super().__init__()
        self._tracker = tracker
        self._unit = unit

    def on_solution_callback(self) -> None:
        scheduled = _count_of(self.objective_value, self._unit)
        self._tracker.report("solving", scheduled, _count_of(self.best_objective_bound, self._unit))


def _count_of(objective: float, unit: int) -> int:
    """Meetings implied by an objective value; the priority bonuses never add up to one unit."""
    return int(math.floor(objective + 1e-6)) // unit


@dataclass
class _Model:
    model: cp_model.CpModel
    var_meeting: list[int]  # free meeting index per variable
    var_slot: list[int]  # slot position per variable
    hint_value: int  # objective of the board's current placement of the released meetings


def _room(prep: _Prepared, board: _Board, released: list[int]) -> tuple[list[int], dict[int, int]]:
    """Tables per slot and meetings per participant left for ``released`` once the others are kept."""
    tables = list(board.left)
    meetings = dict(prep.allowance)  # uncapped people are limited by their slots alone
    for person, count in board.placed_count.items():
        if person in meetings:
            meetings[person] -= count
    for i in released:
        pos = board.slot_of[i]
        if pos >= 0:
            tables[pos] += 1
            for person in (prep.free[i].a, prep.free[i].b):
                if person in meetings:
                    meetings[person] += 1
    return tables, meetings


def _add_at_most(model: cp_model.CpModel, group: list[cp_model.IntVar], limit: int) -> None:
    if len(group) <= limit:
        return
    if limit == 1:
        model.add_at_most_one(group)
    else:
        model.add(cp_model.LinearExpr.sum(group) <= limit)


def _build_model(prep: _Prepared, board: _Board, released: list[int]) -> _Model:
    """Model re-placing ``released`` meetings around every other meeting as the board has it."""
    released_set = set(released)
    model = cp_model.CpModel()
    var_meeting: list[int] = []
    var_slot: list[int] = []
    terms: list[cp_model.IntVar] = []
    by_person_slot: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    by_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    by_person: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for i in released:
        m = prep.free[i]
        own = []
        for pos in prep.options[i]:
            if any(board.busy.get((p, pos), i) not in released_set for p in (m.a, m.b)):
                continue
            var = model.new_bool_var("")
            model.add_hint(var, board.slot_of[i] == pos)
            var_meeting.append(i)
            var_slot.append(pos)
            terms.append(var)
            own.append(var)
            by_slot[pos].append(var)
            for person in (m.a, m.b):
                by_person_slot[(person, pos)].append(var)
                by_person[person].append(var)
        _add_at_most(model, own, 1)
    for group in by_person_slot.values():
        _add_at_most(model, group, 1)
    tables, meetings = _room(prep, board, released)
    for pos, group in by_slot.items():
        _add_at_most(model, group, tables[pos])
    for person, limit in meetings.items():
        _add_at_most(model, by_person.get(person, []), limit)
    model.maximize(cp_model.LinearExpr.weighted_sum(terms, [prep.weights[i] for i in var_meeting]))
    hint_value = sum(prep.weights[i] for i in released if board.slot_of[i] >= 0)
    return _Model(model, var_meeting, var_slot, hint_value)


def _improve(
    prep: _Prepared,
    board: _Board,
    released: list[int],
    tracker: _Tracker,
    workers: int,
    work_limit: float | None = None,
    callback: _Reporter | None = None,
) -> int | None:
    """Re-place ``released`` with CP-SAT, keeping the result if it beats the board.

    ``work_limit`` caps CP-SAT's deterministic time, which keeps a call repeatable where a
    wall-clock cut would not. Returns CP-SAT's upper bound on how many released meetings fit,
    or None without an answer.
    """
    built = _build_model(prep, board, released)
    time_limit = tracker.left() - _FINISH_RESERVE_S
    if time_limit < _MIN_SOLVER_TIME_S:
        return None
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    if work_limit is not None:
        solver.parameters.max_deterministic_time = work_limit
    solver.parameters.num_workers = max(1, workers)
    # Interleaved workers make a multi-worker search repeatable, at some cost in speed.
    solver.parameters.interleave_search = workers > 1
    solver.parameters.random_seed = 0
    status = solver.solve(built.model, callback)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    if solver.objective_value > built.hint_value + 0.5:
        for i in released:
            if board.slot_of[i] >= 0:
                board.remove(i)
        for index, value in enumerate(list(solver.response_proto.solution)):
            if value:
                board.place(built.var_meeting[index], built.var_slot[index])
    return _count_of(solver.best_objective_bound, prep.unit)


# --------------------------------------------------------------------------- finishing


def _deal_tables(prep: _Prepared, problem: Problem, slot_of: list[int]) -> list[Placement]:
    """Give each placed meeting the lowest free table of its slot, in meeting-id order."""
    taken: dict[int, set[int]] = defaultdict(set)
    placements = [Placement(p.meeting_id, p.slot_id, p.table) for p in prep.pins]
    for pin in prep.pins:
        taken[pin.slot_id].add(pin.table)
    next_table: dict[int, int] = defaultdict(lambda: 1)
    for i, pos in enumerate(slot_of):
        if pos < 0:
            continue
        slot = prep.slots[pos]
        table = next_table[slot.id]
        while table in taken[slot.id]:
            table += 1
        taken[slot.id].add(table)
        next_table[slot.id] = table + 1
        if table > problem.tables_per_session[slot.session_id]:  # the capacity constraints rule this out
            raise AssertionError(f"slot {slot.id} ran out of tables")
        placements.append(Placement(prep.free[i].id, slot.id, table))
    placements.sort(key=lambda p: p.meeting_id)
    return placements


def _reason(board: _Board, i: int) -> str:
    if not board.prep.options[i]:
        return NO_COMMON_SLOT
    if board.cap_reached(i):
        return CAP_REACHED
    # The board is maximal, so any slot where both are still free must have run out of tables.
    if any(board.both_free(i, pos) for pos in board.prep.options[i]):
        return CAPACITY
    return PARTICIPANT_FULL


def _unplaced(prep: _Prepared, board: _Board) -> list[Unplaced]:
    result = [Unplaced(mid, INVALID_PIN) for mid in prep.invalid_pins]
    result += [Unplaced(prep.free[i].id, _reason(board, i)) for i, pos in enumerate(board.slot_of) if pos < 0]
    result.sort(key=lambda u: u.meeting_id)
    return result


# --------------------------------------------------------------------------- search strategy

# CP-SAT on the whole fair improves slowly: with 6,400 (meeting, slot) variables it gained 1
# meeting in 6 s where neighbourhood search gained 20 in 1.5 s, and with 90,000 it did not finish
# presolving in 7.5 s (2 cores). So neighbourhoods come first, and the whole model is tried
# afterwards only on fairs this small, where it can still prove optimality.
_FULL_MODEL_MAX_VARIABLES = 2_500
# Neighbourhoods of ~100 meetings (~1,200 variables) are re-planned in about 0.1 s; 300 took 2 s.
_NEIGHBOURHOOD_START = 100  # meetings released per CP-SAT call at first
_NEIGHBOURHOOD_MAX = 800
_TARGETS_PER_CALL = 8  # unplaced meetings whose surroundings one call re-plans
_CALL_WORK_LIMIT = 0.5  # CP-SAT deterministic time per neighbourhood


def _neighbourhood(prep: _Prepared, seeds: list[int], size: int) -> list[int]:
    """Meetings within a few handshakes of the seeds, nearest first, up to ``size``."""
    released: dict[int, None] = {}
    seen: set[int] = set()
    frontier = [p for i in seeds for p in (prep.free[i].a, prep.free[i].b)]
    while frontier and len(released) < size:
        following: list[int] = []
        for person in frontier:
            if person in seen:
                continue
            seen.add(person)
            for i in prep.meetings_of[person]:
                released.setdefault(i, None)
                m = prep.free[i]
                following.append(m.b if m.a == person else m.a)
            if len(released) >= size:
                break
        frontier = following
    return sorted(released)


def _targets(prep: _Prepared, board: _Board, order: list[int]) -> list[int]:
    """Unplaced meetings that could add to the count: someone in them still has room.

    When both people are saturated, placing the meeting means dropping another, so the search
    looks elsewhere; meetings where both have room come first.
    """
    ranked: list[tuple[int, int]] = []
    for rank, i in enumerate(order):
        if board.slot_of[i] >= 0 or not prep.options[i]:
            continue
        m = prep.free[i]
        full = board.saturated(m.a) + board.saturated(m.b)
        if full < 2:
            ranked.append((full, rank))
    return [order[rank] for _, rank in sorted(ranked)]


def _large_neighbourhood_search(prep: _Prepared, board: _Board, order: list[int], tracker: _Tracker) -> None:
    """Re-plan the surroundings of unplaced meetings with CP-SAT until time or ideas run out."""
    size = _NEIGHBOURHOOD_START
    cursor = 0
    calls_without_gain = 0
    while board.scheduled() < tracker.bound and tracker.left() > _FINISH_RESERVE_S + _MIN_SOLVER_TIME_S:
        targets = _targets(prep, board, order)
        if not targets:
            return
        if calls_without_gain >= math.ceil(len(targets) / _TARGETS_PER_CALL):
            if size >= _NEIGHBOURHOOD_MAX:
                return
            size, calls_without_gain, cursor = min(2 * size, _NEIGHBOURHOOD_MAX), 0, 0
        start = cursor % len(targets)
        seeds = (targets[start:] + targets[:start])[:_TARGETS_PER_CALL]
        cursor = start + _TARGETS_PER_CALL
        before = board.value()
        released = _neighbourhood(prep, seeds, size)
        # One worker per call keeps each step repeatable; the calls are small enough not to need two.
        bound = _improve(prep, board, released, tracker, workers=1, work_limit=_CALL_WORK_LIMIT)
        if bound is not None and len(released) == len(prep.free):
            tracker.bound = min(tracker.bound, bound)  # the neighbourhood was the whole fair
        calls_without_gain = 0 if board.value() > before else calls_without_gain + 1
        tracker.report("solving", board.scheduled())


def _variable_count(prep: _Prepared) -> int:
    return sum(len(opts) for opts in prep.options)


# --------------------------------------------------------------------------- entry point


def solve(
    problem: Problem,
    time_limit_s: float = 8.0,
    progress: ProgressFn | None = None,
    workers: int = 2,
) -> Schedule:
    """Schedule as many meetings as possible, stronger matches first among equals.

    A pin into a slot one of its participants cannot attend is kept out and reported as
    ``invalid_pin``. Pins count towards a participant's cap (``caps`` or ``max_meetings_per_participant``)
    but are never dropped for it.
    ``progress`` receives dicts with ``phase`` ("greedy", "solving", "done"), ``scheduled``,
    ``bound`` and ``seconds``.
    """
    started = time.perf_counter()
    validate(problem)
    prep = _prepare(problem)
    tracker = _Tracker(progress, started, started + time_limit_s, len(prep.pins), _cheap_bound(prep))
    order = _greedy_order(prep)
    board = _Board(prep)
    board.fill(order)
    tracker.report("greedy", board.scheduled())
    lp_time = min(time_limit_s * _LP_SHARE, tracker.left() - _FINISH_RESERVE_S)
    if board.scheduled() < tracker.bound and lp_time >= _MIN_LP_TIME_S:
        lp_bound = _pooled_lp_bound(prep, lp_time)
        if lp_bound is not None:
            tracker.bound = min(tracker.bound, lp_bound)
    if board.scheduled() < tracker.bound:
        _large_neighbourhood_search(prep, board, order, tracker)
    if board.scheduled() < tracker.bound and _variable_count(prep) <= _FULL_MODEL_MAX_VARIABLES:
        # Small fairs get the rest of the time on the whole model, to prove optimality or close the gap.
        callback = _Reporter(tracker, prep.unit) if progress else None
        everything = list(range(len(prep.free)))
        cp_bound = _improve(prep, board, everything, tracker, workers, callback=callback)
        if cp_bound is not None:
            tracker.bound = min(tracker.bound, cp_bound)
    # A time-limited answer may leave out a meeting that still fits; fill such gaps.
    board.fill(order)
    scheduled = board.scheduled()
    tracker.report("done", scheduled)
    return Schedule(
        placements=tuple(_deal_tables(prep, problem, board.slot_of)),
        unplaced=tuple(_unplaced(prep, board)),
        upper_bound=tracker.base + tracker.bound,
        optimal=scheduled >= tracker.bound,
        seconds=round(time.perf_counter() - started, 3),
    )
