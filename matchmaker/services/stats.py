"""Contract statistics (number, 成交额, 技术交易额) by period and breakdown, and the conversion funnel
from suggestion to contract. Every figure is one SQL GROUP BY; Python only labels the groups."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker import reference
from matchmaker.services.deals import stage_rank
from models import (
    DEAL_STAGE_ORDER,
    Contract,
    Deal,
    DealStage,
    DealStageChange,
    Fair,
    FairMeeting,
    Introduction,
    MatchFeedback,
    MeetingRequest,
    Notification,
    Session,
)

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
        """From query arguments; anything malformed falls back to the current year."""
        today = today or date.today()

        def number(name: str, low: int, high: int) -> int | None:
            try:
                value = int(args.get(name) or "")
            except (TypeError, ValueError):
                return None
            return value if low <= value <= high else None

        period = args.get("period") if args.get("period") in PERIODS else "year"
        year = number("year", 1987, 2200) or today.year
        quarter = number("quarter", 1, 4) or (today.month + 2) // 3
        month = number("month", 1, 12) or today.month
        return cls(period=period, year=None if period == "all" else year,
                   quarter=quarter if period == "quarter" else None,
                   month=month if period == "month" else None, fair_id=number("fair", 1, 2**31 - 1))

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
    rate: float | None = None          # from the previous step
    rate_from_top: float | None = None


@dataclass
class Dashboard:
    scope: Scope
    totals: Row
    tables: dict[str, list[Row]] = field(default_factory=dict)
    funnel: list[FunnelStep] = field(default_factory=list)
    funnel_by_fair: list[dict[str, Any]] = field(default_factory=list)


# --- SQL building blocks ----------------------------------------------------------------------

_MEASURES = (
    sa.func.count().label("n"),
    sa.func.coalesce(sa.func.sum(Contract.amount_fen), 0).label("amount"),
    sa.func.coalesce(sa.func.sum(Contract.tech_amount_fen), 0).label("tech"),
)


def _where(stmt: Any, scope: Scope, with_period: bool = True) -> Any:
    start, end = scope.bounds()
    if with_period and start is not None:
        stmt = stmt.where(Contract.signing_date >= start, Contract.signing_date < end)
    if scope.fair_id:
        stmt = stmt.where(Contract.fair_id == scope.fair_id)
    return stmt


def _flow_expr(home: str) -> Any:
    """reference.region_flow in SQL: compare region codes at the level of the home code."""
    digits = 2 if home.endswith("0000") else 4 if home.endswith("00") else 6
    prefix = home[:digits]
    buyer_home = sa.func.substr(Contract.buyer_region, 1, digits) == prefix
    seller_home = sa.func.substr(Contract.seller_region, 1, digits) == prefix
    return sa.case(
        (sa.and_(buyer_home, seller_home), "within"),
        (seller_home, "outward"),
        (buyer_home, "inward"),
        else_="external",
    )


def _year_expr() -> Any:
    return sa.cast(sa.extract("year", Contract.signing_date), sa.Integer)


def _month_expr() -> Any:
    return sa.cast(sa.extract("month", Contract.signing_date), sa.Integer)


@dataclass
class _Rec:
    """One grouped result: the group's key(s) and its three measures."""

    n: int
    amount: int
    tech: int
    k: Any = None
    y: int | None = None
    m: int | None = None


# Group -> the SQL key expressions (by name) it groups on; "total" groups on nothing.
def _key_exprs(group: str) -> dict[str, Any]:
    home = current_app.config["HOME_REGION"]
    return {
        "month": {"y": _year_expr(), "m": _month_expr()},
        "year": {"y": _year_expr()},
        "type": {"k": Contract.contract_type},
        "field": {"k": Contract.tech_field},
        "party": {"k": Contract.seller_party_type},
        "flow": {"k": _flow_expr(home)},
        "institution": {"k": Contract.seller_name},
        "fair": {"k": Contract.fair_id},
        "total": {},
    }[group]


def _rec(row: Any, **keys: Any) -> _Rec:
    return _Rec(n=int(row.n), amount=int(row.amount), tech=int(row.tech), **keys)


def _fetch(group: str, scope: Scope) -> list[_Rec]:
    """One GROUP BY for one breakdown (the long view by year ignores the period)."""
    exprs = _key_exprs(group)
    keys = [expr.label(name) for name, expr in exprs.items()]
    stmt = _where(sa.select(*keys, *_MEASURES), scope, with_period=group != "year")
    if keys:
        stmt = stmt.group_by(*keys)
    return [_rec(row, **{name: getattr(row, name) for name in exprs}) for row in Session.execute(stmt)]


_ONE_PASS_DIMENSIONS = ("y", "m", "type", "field", "party", "flow", "fair", "institution")
_ONE_PASS_SETS = {"month": ("y", "m"), "type": ("type",), "field": ("field",), "party": ("party",),
                  "flow": ("flow",), "fair": ("fair",), "institution": ("institution",), "total": ()}


def _fetch_all_one_pass(scope: Scope) -> dict[str, list[_Rec]]:
    """Every breakdown of the period from a single scan with GROUPING SETS (PostgreSQL): the
    dashboard reads the period's contracts once instead of once per table. The long view by year
    is its own query, which the (signing_date, amounts) index answers without the table."""
    dims = {"y": _year_expr(), "m": _month_expr(), "type": Contract.contract_type,
            "field": Contract.tech_field, "party": Contract.seller_party_type,
            "flow": _flow_expr(current_app.config["HOME_REGION"]), "fair": Contract.fair_id,
            "institution": Contract.seller_name}
    inner = _where(sa.select(*(expr.label(name) for name, expr in dims.items()),
                             Contract.amount_fen, Contract.tech_amount_fen), scope)
    sub = inner.subquery()
    cols = [sub.c[name] for name in _ONE_PASS_DIMENSIONS]
    width = len(_ONE_PASS_DIMENSIONS)
    # GROUPING(...) sets a bit (leftmost argument = highest bit) for each column a set leaves out.
    by_mask = {sum(1 << (width - 1 - i) for i, name in enumerate(_ONE_PASS_DIMENSIONS) if name not in keys): group
               for group, keys in _ONE_PASS_SETS.items()}
    stmt = sa.select(*cols, sa.func.grouping(*cols).label("g"), sa.func.count().label("n"),
                     sa.func.coalesce(sa.func.sum(sub.c.amount_fen), 0).label("amount"),
                     sa.func.coalesce(sa.func.sum(sub.c.tech_amount_fen), 0).label("tech"),
                     ).group_by(sa.func.grouping_sets(*(sa.tuple_(*(sub.c[k] for k in keys))
                                                        for keys in _ONE_PASS_SETS.values())))
    found: dict[str, list[_Rec]] = {group: [] for group in (*_ONE_PASS_SETS, "year")}
    for row in Session.execute(stmt):
        group = by_mask[row.g]
        if group == "month":
            found[group].append(_rec(row, y=row.y, m=row.m))
        elif group == "total":
            found[group].append(_rec(row))
        else:
            found[group].append(_rec(row, k=getattr(row, group)))
    found["year"] = _fetch("year", scope)
    return found


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
    return _shape_total(_fetch("total", scope), scope, "zh")[0]


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
    return SHAPERS[group](_fetch(group, scope), scope, lang)


def _named(group: str) -> Callable[[Scope, str], list[Row]]:
    def table(scope: Scope, lang: str = "zh") -> list[Row]:
        return breakdown(group, scope, lang)

    table.__name__ = f"by_{group}"
    return table


by_month, by_quarter, by_year = _named("month"), _named("quarter"), _named("year")
by_type, by_field, by_party, by_flow = _named("type"), _named("field"), _named("party"), _named("flow")
by_institution, by_fair = _named("institution"), _named("fair")


# --- funnel -------------------------------------------------------------------------------------

FUNNEL_LABELS = {
    "suggestions": _l("Match suggestions"),
    "introductions": _l("Introductions"),
    "requests": _l("Meeting requests"),
    "meetings": _l("Meetings"),
    "intentions": _l("Intentions signed"),
    "contracts": _l("Contracts"),
}


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


def _deals_reaching(stage: str, scope: Scope) -> int:
    """Deals that moved to `stage` or beyond during the period (skipped stages count as passed)."""
    later = [s for s in DEAL_STAGE_ORDER if stage_rank(s) >= stage_rank(stage)]
    stmt = sa.select(sa.func.count(sa.distinct(DealStageChange.deal_id))).where(DealStageChange.to_stage.in_(later))
    if scope.fair_id:
        stmt = stmt.join(Deal, Deal.id == DealStageChange.deal_id).where(Deal.fair_id == scope.fair_id)
        return _count(stmt)
    return _count(_in_period(stmt, DealStageChange.at, scope))


def _suggestions(scope: Scope) -> int:
    """Match notifications sent, else brokers' judged suggestions: whatever the matching side records."""
    notified = _count(_in_period(sa.select(sa.func.count(Notification.id)).where(
        Notification.kind.like("match%")), Notification.created_at, scope))
    if notified:
        return notified
    return _count(_in_period(sa.select(sa.func.count(MatchFeedback.id)), MatchFeedback.created_at, scope))


def funnel(scope: Scope, contracts: int | None = None) -> list[FunnelStep]:
    """suggestions → introductions → meetings → intentions → contracts, with conversion rates.

    For one fair the top is the fair's meeting requests and meetings are those held there; a stage
    with nothing recorded at the top (e.g. no matching data yet) is left out rather than shown as 0.
    """
    counts: list[tuple[str, int]] = []
    if scope.fair_id:
        counts.append(("requests", _count(sa.select(sa.func.count(MeetingRequest.id))
                                          .where(MeetingRequest.fair_id == scope.fair_id))))
        held = _count(sa.select(sa.func.count(FairMeeting.id)).where(
            FairMeeting.fair_id == scope.fair_id, FairMeeting.status == "held"))
        counts.append(("meetings", max(held, _deals_reaching(DealStage.MEETING_HELD, scope))))
    else:
        counts.append(("suggestions", _suggestions(scope)))
        counts.append(("introductions", _count(_in_period(sa.select(sa.func.count(Introduction.id)),
                                                          Introduction.created_at, scope))))
        counts.append(("meetings", _deals_reaching(DealStage.MEETING_HELD, scope)))
    counts.append(("intentions", _deals_reaching(DealStage.INTENTION_SIGNED, scope)))
    counts.append(("contracts", totals(scope).count if contracts is None else contracts))
    while len(counts) > 1 and counts[0][1] == 0 and counts[0][0] == "suggestions":
        counts.pop(0)
    return _rates(counts)


def _rates(counts: list[tuple[str, int]]) -> list[FunnelStep]:
    steps: list[FunnelStep] = []
    top = counts[0][1] if counts else 0
    for i, (key, n) in enumerate(counts):
        prev = counts[i - 1][1] if i else None
        steps.append(FunnelStep(key, str(FUNNEL_LABELS[key]), n,
                                rate=(n / prev if prev else None) if i else None,
                                rate_from_top=(n / top if top else None) if i else None))
    return steps


def funnel_by_fair(scope: Scope) -> list[dict[str, Any]]:
    """One row per fair held in the period: requests, meetings held, intentions, contracts, 成交额."""
    stmt = sa.select(Fair.id, Fair.name, Fair.start_date).order_by(Fair.start_date.desc())
    start, end = scope.bounds()
    if start is not None:
        stmt = stmt.where(Fair.start_date >= start, Fair.start_date < end)
    if scope.fair_id:
        stmt = stmt.where(Fair.id == scope.fair_id)
    fairs = list(Session.execute(stmt.limit(100)))
    ids = [f.id for f in fairs]
    if not ids:
        return []

    def per_fair(stmt: Any) -> dict[int, int]:
        return {k: int(v) for k, v in Session.execute(stmt)}

    requests = per_fair(sa.select(MeetingRequest.fair_id, sa.func.count()).where(
        MeetingRequest.fair_id.in_(ids)).group_by(MeetingRequest.fair_id))
    held = per_fair(sa.select(FairMeeting.fair_id, sa.func.count()).where(
        FairMeeting.fair_id.in_(ids), FairMeeting.status == "held").group_by(FairMeeting.fair_id))
    later = [s for s in DEAL_STAGE_ORDER if stage_rank(s) >= stage_rank(DealStage.INTENTION_SIGNED)]
    intentions = per_fair(sa.select(Deal.fair_id, sa.func.count(sa.distinct(Deal.id)))
                          .join(DealStageChange, DealStageChange.deal_id == Deal.id)
                          .where(Deal.fair_id.in_(ids), DealStageChange.to_stage.in_(later)).group_by(Deal.fair_id))
    signed = {r.fair_id: r for r in Session.execute(
        sa.select(Contract.fair_id, *_MEASURES).where(Contract.fair_id.in_(ids)).group_by(Contract.fair_id))}
    rows = []
    for fair in fairs:
        contracts = signed.get(fair.id)
        count = int(contracts.n) if contracts else 0
        meetings = held.get(fair.id, 0)
        rows.append({"fair_id": fair.id, "name": fair.name, "start_date": fair.start_date,
                     "requests": requests.get(fair.id, 0), "meetings": meetings,
                     "intentions": intentions.get(fair.id, 0), "contracts": count,
                     "amount_fen": int(contracts.amount) if contracts else 0,
                     "meeting_to_contract": (count / meetings) if meetings else None})
    return rows


# --- whole pages -----------------------------------------------------------------------------

DASHBOARD_GROUPS = ("month", "quarter", "type", "field", "party", "flow", "institution", "fair", "year")


def dashboard(scope: Scope, lang: str = "zh") -> Dashboard:
    """Every table and the funnel. On PostgreSQL the contract tables come from one GROUPING SETS
    scan; elsewhere from one GROUP BY each. Both give the same rows."""
    if Session.get_bind().dialect.name == "postgresql":
        found = _fetch_all_one_pass(scope)
    else:
        found = {group: _fetch(group, scope) for group in SHAPERS}
    board = Dashboard(scope=scope, totals=_shape_total(found["total"], scope, lang)[0])
    for group in DASHBOARD_GROUPS:
        if group == "quarter":
            board.tables[group] = _quarters_from(board.tables["month"])
        else:
            board.tables[group] = SHAPERS[group](found[group], scope, lang)
    board.funnel = funnel(scope, contracts=board.totals.count)
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

def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


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
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(_("Summary"))
    _write_rows(sheet, [board.totals], _("Total"))
    for group, rows in board.tables.items():
        _write_rows(book.create_sheet(_sheet_title(str(GROUP_TITLES[group]))), rows, str(GROUP_TITLES[group]))
    funnel_sheet = book.create_sheet(_sheet_title(_("Funnel")))
    funnel_sheet.append([_("Stage"), _("Count"), _("Conversion from previous"), _("Conversion from top")])
    for step in board.funnel:
        funnel_sheet.append([step.label, step.count, step.rate, step.rate_from_top])
    for cell in funnel_sheet[1]:
        cell.font = Font(bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_title(text: str) -> str:
    # Excel forbids some characters in sheet names and caps them at 31 characters.
    for bad in "[]:*?/\\":
        text = text.replace(bad, " ")
    return text[:31]


def _write_rows(sheet: Any, rows: list[Row], first_header: str) -> None:
    from openpyxl.styles import Font

    sheet.append([first_header, _("Contracts"), _("Contract amount (yuan)"),
                  _("Technology transaction amount (yuan)")])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row.label, row.count, yuan(row.amount_fen), yuan(row.tech_amount_fen)])
        for cell in sheet[sheet.max_row][2:4]:
            cell.number_format = "#,##0.00"
    sheet.column_dimensions["A"].width = 36
    for col in "BCD":
        sheet.column_dimensions[col].width = 22
