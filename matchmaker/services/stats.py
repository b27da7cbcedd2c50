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
    sa.func.count(Contract.id).label("n"),
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


def _grouped(keys: list[Any], scope: Scope, with_period: bool = True, order: Any = None,
             limit: int | None = None) -> list[Any]:
    stmt = _where(sa.select(*keys, *_MEASURES), scope, with_period).group_by(*keys)
    if order is not None:
        stmt = stmt.order_by(order)
    if limit:
        stmt = stmt.limit(limit)
    return list(Session.execute(stmt))


def _row(key: str, label: str, rec: Any) -> Row:
    return Row(key, label, int(rec.n), int(rec.amount), int(rec.tech))


# --- breakdowns ---------------------------------------------------------------------------------

def totals(scope: Scope) -> Row:
    rec = Session.execute(_where(sa.select(*_MEASURES), scope)).one()
    return _row("total", _("Total"), rec)


def _by_months(scope: Scope) -> dict[tuple[int, int], Row]:
    found: dict[tuple[int, int], Row] = {}
    for rec in _grouped([_year_expr().label("y"), _month_expr().label("m")], scope):
        y, m = int(rec.y), int(rec.m)
        found[(y, m)] = _row(f"{y:04d}-{m:02d}", f"{y:04d}-{m:02d}", rec)
    return found


def _months_in(scope: Scope, found: dict[tuple[int, int], Row]) -> list[tuple[int, int]]:
    start, end = scope.bounds()
    if start is None or end is None:
        return sorted(found)
    months, (y, m) = [], (start.year, start.month)
    while date(y, m, 1) < end:
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def by_month(scope: Scope, lang: str = "zh") -> list[Row]:
    """Every month of the period, empty ones included, so charts keep their time axis."""
    found = _by_months(scope)
    return [found.get(ym) or Row(f"{ym[0]:04d}-{ym[1]:02d}", f"{ym[0]:04d}-{ym[1]:02d}")
            for ym in _months_in(scope, found)]


def by_quarter(scope: Scope, lang: str = "zh") -> list[Row]:
    # Quarters roll up the (at most 12 per year) monthly groups the database already summed.
    quarters: dict[tuple[int, int], Row] = {}
    for row in by_month(scope):
        y, m = int(row.key[:4]), int(row.key[5:])
        q = (m + 2) // 3
        quarters.setdefault((y, q), Row(f"{y:04d}-Q{q}", f"{y:04d} Q{q}")).add(row)
    return [quarters[k] for k in sorted(quarters)]


def by_year(scope: Scope, lang: str = "zh") -> list[Row]:
    """All years (the period filter does not apply: this is the long view)."""
    recs = _grouped([_year_expr().label("y")], scope, with_period=False, order=sa.text("1"))
    return [_row(str(int(r.y)), str(int(r.y)), r) for r in recs]


def _coded(column: Any, codes: reference.CodeList, scope: Scope, lang: str, missing_label: str) -> list[Row]:
    found = {rec.k: rec for rec in _grouped([column.label("k")], scope)}
    rows = [_row(code, codes.label(code, lang), found[code]) for code in codes.codes if code in found]
    rows += [_row(key or "", codes.label(key, lang) if key else missing_label, rec)
             for key, rec in found.items() if key not in codes]
    return rows


def by_type(scope: Scope, lang: str = "zh") -> list[Row]:
    return _coded(Contract.contract_type, reference.CONTRACT_TYPES, scope, lang, _("Not given"))


def by_field(scope: Scope, lang: str = "zh") -> list[Row]:
    return _coded(Contract.tech_field, reference.TECH_FIELDS, scope, lang, _("Not given"))


def by_party(scope: Scope, lang: str = "zh") -> list[Row]:
    return _coded(Contract.seller_party_type, reference.PARTY_TYPES, scope, lang, _("Not given"))


def by_flow(scope: Scope, lang: str = "zh") -> list[Row]:
    home = current_app.config["HOME_REGION"]
    return _coded(_flow_expr(home), reference.REGION_FLOWS, scope, lang, _("Not given"))


def by_institution(scope: Scope, lang: str = "zh") -> list[Row]:
    recs = _grouped([Contract.seller_name.label("k")], scope, order=sa.desc("amount"), limit=INSTITUTION_LIMIT)
    return [_row(r.k, r.k, r) for r in recs]


def by_fair(scope: Scope, lang: str = "zh") -> list[Row]:
    recs = _grouped([Contract.fair_id.label("k")], scope)
    names = dict(Session.execute(sa.select(Fair.id, Fair.name).where(
        Fair.id.in_([r.k for r in recs if r.k is not None]))).all())
    rows = [_row(str(r.k), names.get(r.k, f"#{r.k}"), r) for r in recs if r.k is not None]
    rows.sort(key=lambda row: -row.amount_fen)
    rows += [_row("", _("Not from a fair"), r) for r in recs if r.k is None]
    return rows


BREAKDOWNS: dict[str, Callable[[Scope, str], list[Row]]] = {
    "month": by_month, "quarter": by_quarter, "year": by_year, "type": by_type, "field": by_field,
    "party": by_party, "flow": by_flow, "institution": by_institution, "fair": by_fair,
}


def breakdown(group: str, scope: Scope, lang: str = "zh") -> list[Row]:
    if group not in BREAKDOWNS:
        raise ValueError(f"unknown group {group!r}")
    return BREAKDOWNS[group](scope, lang)


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


def funnel(scope: Scope) -> list[FunnelStep]:
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
    counts.append(("contracts", totals(scope).count))
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
    board = Dashboard(scope=scope, totals=totals(scope))
    months = by_month(scope, lang)
    for group in DASHBOARD_GROUPS:
        if group == "month":
            board.tables[group] = months
        elif group == "quarter":
            board.tables[group] = _quarters_from(months)
        else:
            board.tables[group] = breakdown(group, scope, lang)
    board.funnel = funnel(scope)
    board.funnel_by_fair = funnel_by_fair(scope)
    return board


def _quarters_from(months: list[Row]) -> list[Row]:
    quarters: dict[str, Row] = {}
    for row in months:
        y, m = int(row.key[:4]), int(row.key[5:])
        q = (m + 2) // 3
        quarters.setdefault(f"{y:04d}-Q{q}", Row(f"{y:04d}-Q{q}", f"{y:04d} Q{q}")).add(row)
    return list(quarters.values())


def public_summary(year: int | None = None) -> dict[str, Any]:
    """Headline figures of a year, safe to publish: counts and sums only."""
    year = year or date.today().year
    row = totals(Scope(period="year", year=year))
    return {"year": year, "count": row.count, "amount_fen": row.amount_fen, "tech_amount_fen": row.tech_amount_fen}


def fair_choices() -> list[tuple[int, str]]:
    return [(fid, name) for fid, name in Session.execute(
        sa.select(Fair.id, Fair.name).order_by(Fair.start_date.desc()).limit(200))]


def years_with_data() -> list[int]:
    years = [int(y) for y in Session.scalars(
        sa.select(_year_expr()).group_by(_year_expr()).order_by(_year_expr().desc()))]
    this_year = date.today().year
    return years if this_year in years else [this_year, *years]


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
