"""Contract statistics (number, 成交额, 技术交易额) by period and breakdown, and the conversion funnel
from suggestion to contract. Contract figures come from a monthly summary kept here and adjusted by
the contracts service in the same transaction as each contract, so they always equal the contracts'
sums while the dashboard reads thousands of rows, not every contract of the period."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from matchmaker import reference
from matchmaker.core import xlsx
from matchmaker.core.i18n import yuan
from matchmaker.deals.deals import stage_rank
from models import (
    DEAL_STAGE_ORDER,
    Contract,
    Deal,
    DealOrigin,
    DealStage,
    DealStageChange,
    Fair,
    FairMeeting,
    Introduction,
    IntroductionStatus,
    MatchFeedback,
    MeetingRequest,
    Notification,
    Session,
)
from models.deals import ContractMonthStat
from models.fairs import MeetingOutcome, MeetingStatus, RequestStatus

PERIODS = ("year", "quarter", "month", "all")
GROUPS = ("month", "quarter", "year", "type", "field", "party", "flow", "institution", "fair")
INSTITUTION_LIMIT = 30

GROUP_TITLES = {
    "month": _l("By month"),
    "quarter": _l("By quarter"),
    "year": _l("By year"),
    "type": _l("By contract type"),
    "field": _l("By technology field"),
    "party": _l("By seller type"),
    "flow": _l("By technology flow"),
    "institution": _l("By institution (seller, top 30 by amount)"),
    "fair": _l("By fair"),
}


def _within(text: Any, low: int, high: int) -> int | None:
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


@dataclass(frozen=True)
class Scope:
    """Which contracts count: a calendar period (or all) and optionally one fair."""

    period: str = "year"
    year: int | None = None
    quarter: int | None = None
    month: int | None = None
    fair_id: int | None = None

    @classmethod
    def parse(cls, args: Any, today: date | None = None) -> Scope:
        """From query arguments; anything malformed falls back to the current year.

        `period` is year, quarter, month or all, with `quarter` / `month` naming which one (the
        API's form), or one picker value naming both: q1..q4, m1..m12 (the dashboard's form, so a
        single choice shows that quarter or month)."""
        today = today or date.today()

        def number(name: str, low: int, high: int) -> int | None:
            return _within(args.get(name), low, high)

        period = str(args.get("period") or "")
        quarter, month = number("quarter", 1, 4), number("month", 1, 12)
        picked = re.fullmatch(r"([qm])(\d{1,2})", period.lower())
        if picked:
            kind, value = picked.groups()
            period = "quarter" if kind == "q" else "month"
            quarter = _within(value, 1, 4) if kind == "q" else None
            month = _within(value, 1, 12) if kind == "m" else None
        if period not in PERIODS or (picked and not (quarter or month)):
            period = "year"
        year = number("year", 1987, 2200) or today.year
        return cls(period=period, year=None if period == "all" else year,
                   quarter=(quarter or (today.month + 2) // 3) if period == "quarter" else None,
                   month=(month or today.month) if period == "month" else None,
                   fair_id=number("fair", 1, 2**31 - 1))

    @property
    def picker(self) -> str:
        """The dashboard's period picker value for this scope (see parse)."""
        if self.period == "quarter" and self.quarter:
            return f"q{self.quarter}"
        if self.period == "month" and self.month:
            return f"m{self.month}"
        return self.period

    def bounds(self) -> tuple[date | None, date | None]:
        """[start, end) dates of the period; (None, None) for all time."""
        if self.period == "all" or self.year is None:
            return None, None
        if self.period == "month" and self.month:
            start = date(self.year, self.month, 1)
            end = date(self.year + self.month // 12, self.month % 12 + 1, 1)
        elif self.period == "quarter" and self.quarter:
            start = date(self.year, 3 * self.quarter - 2, 1)
            end = date(self.year + self.quarter // 4, (3 * self.quarter) % 12 + 1, 1)
        else:
            start, end = date(self.year, 1, 1), date(self.year + 1, 1, 1)
        return start, end

    def as_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"period": self.period}
        for name in ("year", "quarter", "month"):
            if getattr(self, name) is not None:
                args[name] = getattr(self, name)
        if self.fair_id:
            args["fair"] = self.fair_id
        return args


@dataclass
class Row:
    key: str
    label: str
    count: int = 0
    amount_fen: int = 0
    tech_amount_fen: int = 0

    def add(self, other: Row) -> None:
        self.count += other.count
        self.amount_fen += other.amount_fen
        self.tech_amount_fen += other.tech_amount_fen


@dataclass
class FunnelStep:
    key: str
    label: str
    count: int
    rate: float | None = None           # share of the previous step
    rate_from_top: float | None = None  # share of the first thread step (contacts requested)
    comparable: bool = True             # False: not a subset of the previous step, so no rate ("n/a")
    contracts: int | None = None        # last step: the contracts linked to its threads' deals
    amount_fen: int | None = None       # and their 成交额


@dataclass
class Dashboard:
    scope: Scope
    totals: Row
    tables: dict[str, list[Row]] = field(default_factory=dict)
    funnel: list[FunnelStep] = field(default_factory=list)
    funnel_by_fair: list[dict[str, Any]] = field(default_factory=list)


# --- the monthly summary: upkeep ----------------------------------------------------------------

# The breakdowns ContractMonthStat keeps, each with a contract's key under it ("" when not given).
# Flows keep the two regions and are bucketed when read, so a new HOME_REGION needs no recount.
_DIMENSIONS: dict[str, Callable[[Any], str]] = {
    "month": lambda c: "",
    "type": lambda c: c.contract_type,
    "field": lambda c: c.tech_field or "",
    "party": lambda c: c.seller_party_type,
    "flow": lambda c: f"{c.seller_region}>{c.buyer_region}",
    "institution": lambda c: c.seller_name,
    "fair": lambda c: str(c.fair_id) if c.fair_id else "",
}
_COUNTED_FIELDS = ("signing_date", "fair_id", "contract_type", "tech_field", "seller_party_type", "seller_region",
                   "buyer_region", "seller_name", "amount_fen", "tech_amount_fen")
_MEASURE_COLUMNS = ("contracts", "amount_fen", "tech_amount_fen")
# Any constant: every writer of the summary takes this PostgreSQL transaction lock first.
_SUMMARY_LOCK = 0x6D6D_7374

SummaryKey = tuple[int, date, str, str]  # fair_key, month, dimension, key


@dataclass(frozen=True)
class Counted:
    """What one contract contributes to the summary: its keys and its two amounts."""

    keys: tuple[SummaryKey, ...]
    amount_fen: int
    tech_amount_fen: int


def counted(contract: Any) -> Counted:
    """The summary keys of a Contract (or of a row with its column names) as it stands now."""
    month = contract.signing_date.replace(day=1)
    fair_keys = (0, contract.fair_id) if contract.fair_id else (0,)
    keys = tuple((fair_key, month, dimension, key_of(contract))
                 for fair_key in fair_keys for dimension, key_of in _DIMENSIONS.items())
    return Counted(keys, int(contract.amount_fen), int(contract.tech_amount_fen))


def count_change(before: Counted | None, after: Counted | None) -> None:
    """Move a contract's figures in the summary from what it was (None: new) to what it is (None:
    deleted), in the caller's transaction. Services call it for every contract they write."""
    deltas: dict[SummaryKey, list[int]] = {}
    if before is not None:
        _accumulate(deltas, before, -1)
    if after is not None:
        _accumulate(deltas, after, 1)
    changed = {key: delta for key, delta in deltas.items() if any(delta)}
    if changed:
        _lock_summary()
        _upsert(changed)


def _accumulate(sums: dict[SummaryKey, list[int]], entry: Counted, sign: int) -> None:
    for key in entry.keys:
        total = sums.setdefault(key, [0, 0, 0])
        total[0] += sign
        total[1] += sign * entry.amount_fen
        total[2] += sign * entry.tech_amount_fen


def _dialect() -> str:
    return Session.get_bind().dialect.name


def _lock_summary() -> None:
    # Two transactions adding contracts of several months would lock the same summary rows in
    # different orders and deadlock; one writer at a time costs little at contract-registry rates.
    if _dialect() == "postgresql":
        Session.execute(sa.select(sa.func.pg_advisory_xact_lock(_SUMMARY_LOCK)))


def _summary_row(key: SummaryKey, measures: list[int] | tuple[int, ...]) -> dict[str, Any]:
    return {"fair_key": key[0], "month": key[1], "dimension": key[2], "key": key[3],
            **dict(zip(_MEASURE_COLUMNS, measures, strict=True))}


def _upsert(deltas: dict[SummaryKey, list[int]]) -> None:
    table = ContractMonthStat.__table__
    insert = postgresql.insert if _dialect() == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                      set_={name: table.c[name] + stmt.excluded[name] for name in _MEASURE_COLUMNS})
    Session.execute(stmt, [_summary_row(key, delta) for key, delta in sorted(deltas.items())])


def recount_summary() -> dict[SummaryKey, tuple[int, int, int]]:
    """The summary worked out afresh from every contract."""
    sums: dict[SummaryKey, list[int]] = {}
    stmt = sa.select(*(getattr(Contract, name) for name in _COUNTED_FIELDS)).execution_options(yield_per=5000)
    for row in Session.execute(stmt):
        _accumulate(sums, counted(row), 1)
    return {key: (n, amount, tech) for key, (n, amount, tech) in sums.items()}


def stored_summary() -> dict[SummaryKey, tuple[int, int, int]]:
    """The summary as stored, without the keys whose contracts all moved away."""
    table = ContractMonthStat
    stmt = sa.select(table.fair_key, table.month, table.dimension, table.key,
                     *(getattr(table, name) for name in _MEASURE_COLUMNS)).where(table.contracts != 0)
    return {(r.fair_key, r.month, r.dimension, r.key): (r.contracts, r.amount_fen, r.tech_amount_fen)
            for r in Session.execute(stmt)}


def summary_differences() -> list[SummaryKey]:
    """Keys whose stored sums differ from a recount: empty unless contracts were written around
    the contracts service."""
    stored, fresh = stored_summary(), recount_summary()
    return sorted(key for key in stored.keys() | fresh.keys() if stored.get(key) != fresh.get(key))


def rebuild_summary(batch: int = 5000) -> int:
    """Replace the summary by a recount of the contracts (after contracts were written around the
    contracts service, e.g. loaded with COPY); commits and returns the number of summary rows."""
    _lock_summary()
    rows = [_summary_row(key, sums) for key, sums in sorted(recount_summary().items())]
    Session.execute(sa.delete(ContractMonthStat))
    for start in range(0, len(rows), batch):
        Session.execute(sa.insert(ContractMonthStat.__table__), rows[start:start + batch])
    Session.commit()
    return len(rows)


# --- reading the summary ------------------------------------------------------------------------

@dataclass
class _Rec:
    """One grouped result: the group's key(s) and its three measures."""

    n: int
    amount: int
    tech: int
    k: Any = None
    y: int | None = None
    m: int | None = None

    def add(self, other: _Rec) -> None:
        self.n += other.n
        self.amount += other.amount
        self.tech += other.tech


_KEYED = ("type", "field", "party", "flow", "institution", "fair")
_MONTHLY = ("total", "month", "year")


def _sums() -> tuple[Any, ...]:
    table = ContractMonthStat
    return (sa.func.sum(table.contracts).label("n"), sa.func.sum(table.amount_fen).label("amount"),
            sa.func.sum(table.tech_amount_fen).label("tech"))


def _fetch(groups: Iterable[str], scope: Scope) -> dict[str, list[_Rec]]:
    """Grouped records of the scope for each named group (SHAPERS' keys) from the summary."""
    groups = list(groups)
    found: dict[str, list[_Rec]] = {}
    keyed = [group for group in groups if group in _KEYED]
    if keyed:
        found.update(_fetch_keyed(keyed, scope))
    if any(group in _MONTHLY for group in groups):
        found.update(_fetch_monthly(scope))
    return found


def _fetch_keyed(dimensions: list[str], scope: Scope) -> dict[str, list[_Rec]]:
    """The period's sums under each key of the given breakdowns: one GROUP BY over its months."""
    table = ContractMonthStat
    stmt = (sa.select(table.dimension, table.key, *_sums())
            .where(table.fair_key == (scope.fair_id or 0), table.dimension.in_(dimensions))
            .group_by(table.dimension, table.key).having(sa.func.sum(table.contracts) != 0))
    start, end = scope.bounds()
    if start is not None:
        stmt = stmt.where(table.month >= start, table.month < end)
    found: dict[str, list[_Rec]] = {dimension: [] for dimension in dimensions}
    for row in Session.execute(stmt):
        key: Any = row.key or None
        if row.dimension == "fair" and key is not None:
            key = int(key)
        found[row.dimension].append(_Rec(int(row.n), int(row.amount), int(row.tech), k=key))
    if "flow" in found:
        found["flow"] = _flows(found["flow"])
    return found


def _flows(pairs: list[_Rec]) -> list[_Rec]:
    """Region pairs ("seller>buyer") summed into reference.region_flow's buckets."""
    home = current_app.config["HOME_REGION"]
    buckets: dict[str, _Rec] = {}
    for rec in pairs:
        seller, _sep, buyer = str(rec.k or "").partition(">")
        flow = reference.region_flow(buyer or None, seller or None, home)
        buckets.setdefault(flow, _Rec(0, 0, 0, k=flow)).add(rec)
    return list(buckets.values())


def _fetch_monthly(scope: Scope) -> dict[str, list[_Rec]]:
    """Months of the period, its total, and every year (the long view by year ignores the period)."""
    table = ContractMonthStat
    stmt = sa.select(table.month, table.contracts, table.amount_fen, table.tech_amount_fen).where(
        table.fair_key == (scope.fair_id or 0), table.dimension == "month", table.contracts != 0)
    start, end = scope.bounds()
    months: list[_Rec] = []
    total = _Rec(0, 0, 0)
    years: dict[int, _Rec] = {}
    for row in Session.execute(stmt):
        rec = _Rec(int(row.contracts), int(row.amount_fen), int(row.tech_amount_fen),
                   y=row.month.year, m=row.month.month)
        years.setdefault(row.month.year, _Rec(0, 0, 0, y=row.month.year)).add(rec)
        if start is None or start <= row.month < end:
            months.append(rec)
            total.add(rec)
    return {"month": months, "total": [total], "year": list(years.values())}


# --- shaping grouped records into labelled rows ------------------------------------------------

def _shape_total(recs: list[_Rec], scope: Scope, lang: str) -> list[Row]:
    rec = recs[0] if recs else _Rec(0, 0, 0)
    return [Row("total", _("Total"), rec.n, rec.amount, rec.tech)]


def _shape_month(recs: list[_Rec], scope: Scope, lang: str) -> list[Row]:
    """Every month of the period, empty ones included, so charts keep their time axis."""
    found = {(int(r.y), int(r.m)): r for r in recs if r.y is not None}
    rows = []
    for y, m in _months_in(scope, found):
        r = found.get((y, m)) or _Rec(0, 0, 0)
        rows.append(Row(f"{y:04d}-{m:02d}", f"{y:04d}-{m:02d}", r.n, r.amount, r.tech))
    return rows


def _months_in(scope: Scope, found: dict[tuple[int, int], Any]) -> list[tuple[int, int]]:
    start, end = scope.bounds()
    if start is None or end is None:
        return sorted(found)
    months, (y, m) = [], (start.year, start.month)
    while date(y, m, 1) < end:
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def _shape_year(recs: list[_Rec], scope: Scope, lang: str) -> list[Row]:
    return [Row(str(int(r.y)), str(int(r.y)), r.n, r.amount, r.tech)
            for r in sorted((r for r in recs if r.y is not None), key=lambda r: r.y)]


def _coded(codes: reference.CodeList) -> Callable[[list[_Rec], Scope, str], list[Row]]:
    def shape(recs: list[_Rec], scope: Scope, lang: str) -> list[Row]:
        found = {r.k: r for r in recs}
        rows = [Row(code, codes.label(code, lang), found[code].n, found[code].amount, found[code].tech)
                for code in codes.codes if code in found]
        rows += [Row(r.k or "", codes.label(r.k, lang) if r.k else _("Not given"), r.n, r.amount, r.tech)
                 for r in recs if r.k not in codes]
        return rows

    return shape


def _shape_institution(recs: list[_Rec], scope: Scope, lang: str) -> list[Row]:
    top = sorted(recs, key=lambda r: (-r.amount, str(r.k)))[:INSTITUTION_LIMIT]
    return [Row(r.k, r.k, r.n, r.amount, r.tech) for r in top]


def _shape_fair(recs: list[_Rec], scope: Scope, lang: str) -> list[Row]:
    ids = [r.k for r in recs if r.k is not None]
    names = dict(Session.execute(sa.select(Fair.id, Fair.name).where(Fair.id.in_(ids))).all()) if ids else {}
    rows = [Row(str(r.k), names.get(r.k, f"#{r.k}"), r.n, r.amount, r.tech)
            for r in sorted((r for r in recs if r.k is not None), key=lambda r: (-r.amount, r.k))]
    rows += [Row("", _("Not from a fair"), r.n, r.amount, r.tech) for r in recs if r.k is None]
    return rows


SHAPERS: dict[str, Callable[[list[_Rec], Scope, str], list[Row]]] = {
    "total": _shape_total, "month": _shape_month, "year": _shape_year,
    "type": _coded(reference.CONTRACT_TYPES), "field": _coded(reference.TECH_FIELDS),
    "party": _coded(reference.PARTY_TYPES), "flow": _coded(reference.REGION_FLOWS),
    "institution": _shape_institution, "fair": _shape_fair,
}


# --- breakdowns ---------------------------------------------------------------------------------

def totals(scope: Scope) -> Row:
    return _shape_total(_fetch(["total"], scope)["total"], scope, "zh")[0]


def _quarters_from(months: list[Row]) -> list[Row]:
    # Quarters roll up the (at most 12 per year) monthly groups the database already summed.
    quarters: dict[str, Row] = {}
    for row in months:
        y, m = int(row.key[:4]), int(row.key[5:])
        q = (m + 2) // 3
        quarters.setdefault(f"{y:04d}-Q{q}", Row(f"{y:04d}-Q{q}", f"{y:04d} Q{q}")).add(row)
    return list(quarters.values())


def breakdown(group: str, scope: Scope, lang: str = "zh") -> list[Row]:
    """One table of the dashboard: group is one of GROUPS."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}")
    if group == "quarter":
        return _quarters_from(breakdown("month", scope, lang))
    return SHAPERS[group](_fetch([group], scope)[group], scope, lang)


def _named(group: str) -> Callable[[Scope, str], list[Row]]:
    def table(scope: Scope, lang: str = "zh") -> list[Row]:
        return breakdown(group, scope, lang)

    table.__name__ = f"by_{group}"
    return table


by_month, by_quarter, by_year = _named("month"), _named("quarter"), _named("year")
by_type, by_field, by_party, by_flow = _named("type"), _named("field"), _named("party"), _named("flow")
by_institution, by_fair = _named("institution"), _named("fair")


# --- funnel -------------------------------------------------------------------------------------
#
# A funnel follows threads: one contact between two parties, from its request to a contract. A
# thread counts under a step only when it got that far (skipped steps count as passed), so every
# step is a subset of the one above it and no rate can exceed 100%.

THREAD_STEPS = ("requests", "accepted", "meetings", "intentions", "contracts")

FUNNEL_LABELS = {
    "suggestions": _l("Match suggestions"),
    "requests": _l("Contacts requested"),
    "accepted": _l("Contacts accepted"),
    "meetings": _l("Meetings held"),
    "intentions": _l("Intentions signed"),
    "contracts": _l("Led to a technology contract"),
}

# Deals opened by hand that still came from the platform's matchmaking.
_MATCHMAKING_ORIGINS = (DealOrigin.MATCH, DealOrigin.FAIR)
_INTENTION_OUTCOMES = (MeetingOutcome.INTENTION, MeetingOutcome.CONTRACT)


@dataclass
class _Thread:
    """What is known of one thread: from its request or fair meeting, and from its deal, if any."""

    fair_id: int | None = None
    agreed: bool = False
    met: bool = False
    intention: bool = False
    deal_rank: int | None = None  # the furthest pipeline stage (stage_rank) its deal reached
    contracts: int = 0            # registered contracts linked to its deal
    amount_fen: int = 0

    def reached(self) -> int:
        """Index in THREAD_STEPS of the furthest step; a later step implies the earlier ones."""
        rank = -1 if self.deal_rank is None else self.deal_rank
        if self.contracts:
            return 4
        if self.intention or rank >= stage_rank(DealStage.INTENTION_SIGNED):
            return 3
        if self.met or rank >= stage_rank(DealStage.MEETING_HELD):
            return 2
        # A deal exists only once both sides agreed to talk.
        return 1 if self.agreed or self.deal_rank is not None else 0


def _moment_bounds(scope: Scope) -> tuple[datetime | None, datetime | None]:
    start, end = scope.bounds()
    if start is None or end is None:
        return None, None
    return (datetime(start.year, start.month, start.day, tzinfo=UTC),
            datetime(end.year, end.month, end.day, tzinfo=UTC))


def _count(stmt: Any) -> int:
    return int(Session.scalar(stmt) or 0)


def _in_period(stmt: Any, column: Any, scope: Scope) -> Any:
    start, end = _moment_bounds(scope)
    return stmt if start is None else stmt.where(column >= start, column < end)


def _suggestions(scope: Scope) -> int:
    """Match notifications sent, else brokers' judged suggestions: whatever the matching side records."""
    notified = _count(_in_period(sa.select(sa.func.count(Notification.id)).where(
        Notification.kind.like("match%")), Notification.created_at, scope))
    if notified:
        return notified
    return _count(_in_period(sa.select(sa.func.count(MatchFeedback.id)), MatchFeedback.created_at, scope))


def _with_progress(stmt: Any, deal_id: Any) -> Any:
    """Add the deal's furthest stage and its linked contracts (count, 成交额) to a thread query."""
    rank = sa.case({stage: i for i, stage in enumerate(DEAL_STAGE_ORDER)}, value=DealStageChange.to_stage, else_=-1)
    reached = (sa.select(DealStageChange.deal_id, sa.func.max(rank).label("rank"))
               .group_by(DealStageChange.deal_id).subquery())
    linked = (sa.select(Contract.deal_id, sa.func.count().label("n"), sa.func.sum(Contract.amount_fen).label("amount"))
              .where(Contract.deal_id.is_not(None)).group_by(Contract.deal_id).subquery())
    return (stmt.add_columns(reached.c.rank, linked.c.n, linked.c.amount)
            .outerjoin(reached, reached.c.deal_id == deal_id).outerjoin(linked, linked.c.deal_id == deal_id))


def _progress(row: Any) -> dict[str, Any]:
    return {"deal_rank": None if row.rank is None else int(row.rank), "contracts": int(row.n or 0),
            "amount_fen": int(row.amount or 0)}


def _threads(scope: Scope, fair_ids: list[int] | None = None) -> list[_Thread]:
    """The threads a funnel covers.

    - Without a fair (the platform's funnel): introductions requested in the period; meeting
      requests and organiser-made meetings of fairs that started in the period; deals a broker
      opened in the period from a match suggestion or a fair without either record.
    - For one fair (scope.fair_id) or the listed fair_ids: those fairs' meeting requests,
      organiser-made meetings and deals opened for the fair, whatever the period.
    """
    fair_wide = fair_ids is not None or bool(scope.fair_id)
    wanted = fair_ids if fair_ids is not None else [scope.fair_id] if scope.fair_id else None

    def at_fairs(column: Any) -> Any:
        if wanted is not None:
            return column.in_(wanted)
        start, end = scope.bounds()
        held = sa.select(Fair.id)
        return column.in_(held if start is None else held.where(Fair.start_date >= start, Fair.start_date < end))

    threads: list[_Thread] = []
    if not fair_wide:
        intros = _in_period(_with_progress(
            sa.select(Introduction.status).select_from(Introduction)
            .outerjoin(Deal, Deal.introduction_id == Introduction.id), Deal.id), Introduction.created_at, scope)
        threads += [_Thread(agreed=row.status == IntroductionStatus.ACCEPTED, **_progress(row))
                    for row in Session.execute(intros)]
    requests = _with_progress(
        sa.select(MeetingRequest.fair_id, MeetingRequest.status.label("request_status"),
                  FairMeeting.id.label("meeting"), FairMeeting.status, FairMeeting.outcome).select_from(MeetingRequest)
        .outerjoin(FairMeeting, FairMeeting.request_id == MeetingRequest.id)
        .outerjoin(Deal, Deal.fair_meeting_id == FairMeeting.id), Deal.id).where(at_fairs(MeetingRequest.fair_id))
    made = _with_progress(
        sa.select(FairMeeting.fair_id, sa.literal(RequestStatus.ACCEPTED).label("request_status"),
                  FairMeeting.id.label("meeting"), FairMeeting.status, FairMeeting.outcome).select_from(FairMeeting)
        .outerjoin(Deal, Deal.fair_meeting_id == FairMeeting.id), Deal.id).where(
        FairMeeting.request_id.is_(None), at_fairs(FairMeeting.fair_id))
    for stmt in (requests, made):
        threads += [_Thread(fair_id=row.fair_id,
                            agreed=row.request_status == RequestStatus.ACCEPTED or row.meeting is not None,
                            met=row.status == MeetingStatus.HELD, intention=row.outcome in _INTENTION_OUTCOMES,
                            **_progress(row)) for row in Session.execute(stmt)]
    direct = _with_progress(sa.select(Deal.fair_id).select_from(Deal), Deal.id).where(
        Deal.introduction_id.is_(None), Deal.fair_meeting_id.is_(None), Deal.origin.in_(_MATCHMAKING_ORIGINS))
    direct = direct.where(at_fairs(Deal.fair_id)) if fair_wide else _in_period(direct, Deal.created_at, scope)
    threads += [_Thread(fair_id=row.fair_id, agreed=True, **_progress(row)) for row in Session.execute(direct)]
    return threads


@dataclass
class _Tally:
    counts: list[int] = field(default_factory=lambda: [0] * len(THREAD_STEPS))
    contracts: int = 0
    amount_fen: int = 0

    def add(self, thread: _Thread) -> None:
        for step in range(thread.reached() + 1):
            self.counts[step] += 1
        self.contracts += thread.contracts
        self.amount_fen += thread.amount_fen

    def get(self, key: str) -> int:
        return self.counts[THREAD_STEPS.index(key)]


def _tally(threads: Iterable[_Thread]) -> _Tally:
    tally = _Tally()
    for thread in threads:
        tally.add(thread)
    return tally


def funnel(scope: Scope) -> list[FunnelStep]:
    """Match suggestions → contacts requested → accepted → meetings held → intentions → contracts.

    Each thread step counts the threads (see _threads) that reached it, from the first record of
    the thread in the scope to today:
    - requests: every thread (an introduction requested, a fair meeting request or an
      organiser-made meeting, or a deal opened by hand from a match suggestion or a fair);
    - accepted: the introduction or meeting request was accepted, or the meeting or deal exists;
    - meetings: the fair meeting was held, or the deal reached "meeting held" or beyond;
    - intentions: a fair meeting recorded an intention or a contract, or the deal reached
      "intention signed" or beyond (a contract signed but not yet registered stays here);
    - contracts: at least one registered technology contract is linked to the thread's deal
      (Contract.deal_id); a deal with several contracts counts once (`contracts` and `amount_fen`
      of that step give the contracts themselves). Contracts linked to no deal, such as imported
      historical ones, are in the contract tables only.
    Rates are shares of the step above and of the requests. Match suggestions, when any are
    recorded, come first for context: they are not linked to requests one by one, so the requests'
    rate is not comparable ("n/a").
    """
    tally = _tally(_threads(scope))
    steps: list[FunnelStep] = []
    suggestions = 0 if scope.fair_id else _suggestions(scope)
    if suggestions:
        steps.append(FunnelStep("suggestions", str(FUNNEL_LABELS["suggestions"]), suggestions))
    top = tally.counts[0]
    for i, key in enumerate(THREAD_STEPS):
        n = tally.counts[i]
        if i == 0:
            steps.append(FunnelStep(key, str(FUNNEL_LABELS[key]), n, comparable=not suggestions))
            continue
        prev = tally.counts[i - 1]
        steps.append(FunnelStep(key, str(FUNNEL_LABELS[key]), n, rate=n / prev if prev else None,
                                rate_from_top=n / top if top else None))
    steps[-1].contracts, steps[-1].amount_fen = tally.contracts, tally.amount_fen
    return steps


def funnel_by_fair(scope: Scope) -> list[dict[str, Any]]:
    """One row per fair that started in the period (or the scope's fair): its threads' funnel
    (as in `funnel` for that fair), the contracts linked to their deals and their 成交额."""
    stmt = sa.select(Fair.id, Fair.name, Fair.start_date).order_by(Fair.start_date.desc())
    start, end = scope.bounds()
    if start is not None:
        stmt = stmt.where(Fair.start_date >= start, Fair.start_date < end)
    if scope.fair_id:
        stmt = stmt.where(Fair.id == scope.fair_id)
    fairs = list(Session.execute(stmt.limit(100)))
    if not fairs:
        return []
    tallies: dict[int, _Tally] = {}
    for thread in _threads(scope, fair_ids=[f.id for f in fairs]):
        tallies.setdefault(thread.fair_id, _Tally()).add(thread)  # type: ignore[arg-type]
    rows = []
    for fair in fairs:
        tally = tallies.get(fair.id, _Tally())
        held, won = tally.get("meetings"), tally.get("contracts")
        rows.append({"fair_id": fair.id, "name": fair.name, "start_date": fair.start_date,
                     **{key: tally.get(key) for key in THREAD_STEPS},
                     "contract_count": tally.contracts, "amount_fen": tally.amount_fen,
                     "meeting_to_contract": (won / held) if held else None})
    return rows


# --- whole pages -----------------------------------------------------------------------------

DASHBOARD_GROUPS = ("month", "quarter", "type", "field", "party", "flow", "institution", "fair", "year")


def dashboard(scope: Scope, lang: str = "zh") -> Dashboard:
    """Every table and the funnel; the contract tables take two queries of the monthly summary."""
    found = _fetch(SHAPERS, scope)
    board = Dashboard(scope=scope, totals=_shape_total(found["total"], scope, lang)[0])
    for group in DASHBOARD_GROUPS:
        if group == "quarter":
            board.tables[group] = _quarters_from(board.tables["month"])
        else:
            board.tables[group] = SHAPERS[group](found[group], scope, lang)
    board.funnel = funnel(scope)
    board.funnel_by_fair = funnel_by_fair(scope)
    return board


def years_of(board: Dashboard) -> list[int]:
    """Years that have contracts, newest first, plus the current year (for the year selector)."""
    years = sorted((int(row.key) for row in board.tables.get("year", [])), reverse=True)
    this_year = date.today().year
    return years if this_year in years else [this_year, *years]


def public_summary(year: int | None = None) -> dict[str, Any]:
    """Headline figures of a year, safe to publish: counts and sums only."""
    year = year or date.today().year
    row = totals(Scope(period="year", year=year))
    return {"year": year, "count": row.count, "amount_fen": row.amount_fen, "tech_amount_fen": row.tech_amount_fen}


def fair_choices() -> list[tuple[int, str]]:
    return [(fid, name) for fid, name in Session.execute(
        sa.select(Fair.id, Fair.name).order_by(Fair.start_date.desc()).limit(200))]


# --- JSON and XLSX ---------------------------------------------------------------------------

def row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    data["amount_yuan"] = f"{yuan(row.amount_fen):.2f}"
    data["tech_amount_yuan"] = f"{yuan(row.tech_amount_fen):.2f}"
    return data


def api_payload(group: str, scope: Scope, lang: str = "zh") -> dict[str, Any]:
    payload: dict[str, Any] = {"scope": {**scope.as_args(), "from": None, "to": None}, "group": group}
    start, end = scope.bounds()
    if start is not None and end is not None:
        payload["scope"]["from"], payload["scope"]["to"] = start.isoformat(), end.isoformat()
    payload["totals"] = row_json(totals(scope))
    if group == "funnel":
        payload["rows"] = [asdict(step) for step in funnel(scope)]
    else:
        payload["rows"] = [row_json(row) for row in breakdown(group, scope, lang)]
    return payload


def export_xlsx(board: Dashboard) -> bytes:
    """One sheet per dashboard table with the same numbers; amounts in yuan with two decimals."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = xlsx.sheet_title(_("Summary"))
    _write_rows(sheet, [board.totals], _("Total"))
    for group, rows in board.tables.items():
        _write_rows(book.create_sheet(xlsx.sheet_title(str(GROUP_TITLES[group]))), rows, str(GROUP_TITLES[group]))
    funnel_sheet = book.create_sheet(xlsx.sheet_title(_("Funnel")))
    funnel_sheet.append([_("Stage"), _("Count"), _("Conversion from previous"),
                         _("Conversion from contacts requested")])
    for step in board.funnel:
        funnel_sheet.append([step.label, step.count, step.rate if step.comparable else _("n/a"), step.rate_from_top])
    xlsx.bold_header(funnel_sheet)
    return xlsx.to_bytes(book)


def _write_rows(sheet: Any, rows: list[Row], first_header: str) -> None:
    sheet.append([first_header, _("Contracts"), _("Contract amount (yuan)"),
                  _("Technology transaction amount (yuan)")])
    xlsx.bold_header(sheet)
    for row in rows:
        sheet.append([row.label, row.count, yuan(row.amount_fen), yuan(row.tech_amount_fen)])
        for cell in sheet[sheet.max_row][2:4]:
            cell.number_format = "#,##0.00"
    sheet.column_dimensions["A"].width = 36
    for col in "BCD":
        sheet.column_dimensions[col].width = 22
