"""Contract statistics (number, 成交额, 技术交易额) by period and breakdown, and the conversion funnel
from suggestion to contract. Contract figures come from a monthly summary kept here and adjusted by
the contracts service in the same transaction as each contract, so they always equal the contracts'
sums while the dashboard reads thousands of rows, not every contract of the period."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker import reference
from matchmaker.core import xlsx
from matchmaker.core.i18n import yuan
from matchmaker.stats.funnel import funnel, funnel_by_fair
from matchmaker.stats.scope import GROUPS, Dashboard, Row, Scope
from models import (
    Fair,
    Session,
)
from models.deals import ContractMonthStat

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


PUBLIC_GROUPS = ("month", "type", "field", "flow")
TOP_FIELDS = 5


def public_report(year: int | None = None, lang: str = "zh") -> dict[str, Any]:
    """The public statistics page: the year's totals, contracts and value by month, by contract type,
    by technology field (and its top fields) and by region flow. Sums only: no party, person or
    contract is named, and the summary holds nothing finer than these groups."""
    year = year or date.today().year
    scope = Scope(period="year", year=year)
    found = _fetch(("total", *PUBLIC_GROUPS), scope)
    tables = {group: SHAPERS[group](found[group], scope, lang) for group in PUBLIC_GROUPS}
    top_fields = sorted((r for r in tables["field"] if r.key in reference.TECH_FIELDS),
                        key=lambda r: (-r.amount_fen, -r.count, r.key))[:TOP_FIELDS]
    years = sorted({int(r.y) for r in found["year"] if r.y is not None} | {year}, reverse=True)
    return {"year": year, "totals": _shape_total(found["total"], scope, lang)[0], "tables": tables,
            "top_fields": top_fields, "years": years}


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
