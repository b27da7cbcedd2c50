"""Contract statistics: the staff dashboard (charts with their tables), its XLSX export, and the
public summary of the year's headline figures."""
from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Blueprint, render_template, request
from flask_login import login_required

from matchmaker.core.i18n import current_lang
from matchmaker.core.web import XLSX_MIMETYPE, download, require
from matchmaker.stats import efficiency as matching_efficiency
from matchmaker.stats import stats

bp = Blueprint("stats", __name__, url_prefix="/stats")


def _require_staff() -> None:
    require("stats.view")


def _chart_data(tables: dict[str, list[stats.Row]], funnel: list[Any] = ()) -> str:
    charts: dict[str, Any] = {
        group: {"labels": [r.label for r in rows], "counts": [r.count for r in rows],
                "amounts": [round(r.amount_fen / 1_000_000, 2) for r in rows]}  # 万元
        for group, rows in tables.items()}
    charts["funnel"] = {"labels": [s.label for s in funnel], "counts": [s.count for s in funnel]}
    # </script> cannot appear inside the JSON because "<" is escaped.
    return json.dumps(charts, ensure_ascii=False).replace("<", "\\u003c")


@bp.get("/")
@login_required
def dashboard():
    _require_staff()
    scope = stats.Scope.parse(request.args)
    board = stats.dashboard(scope, current_lang())
    return render_template("stats/dashboard.html", board=board, scope=scope, titles=stats.GROUP_TITLES,
                           years=stats.years_of(board), fairs=stats.fair_choices(),
                           chart_data=_chart_data(board.tables, board.funnel))


@bp.get("/export.xlsx")
@login_required
def export():
    _require_staff()
    scope = stats.Scope.parse(request.args)
    return _xlsx(stats.export_xlsx(stats.dashboard(scope, current_lang())), "contract-stats", scope)


@bp.get("/matching")
@login_required
def efficiency():
    _require_staff()
    scope = stats.Scope.parse(request.args)
    report = matching_efficiency.efficiency(scope, current_lang())
    return render_template("stats/efficiency.html", report=report, scope=scope, years=_years(),
                           reach_days=matching_efficiency.REACH_DAYS)


@bp.get("/matching/export.xlsx")
@login_required
def efficiency_export():
    _require_staff()
    scope = stats.Scope.parse(request.args)
    return _xlsx(matching_efficiency.export_xlsx(matching_efficiency.efficiency(scope, current_lang())),
                 "matching-efficiency", scope)


def _xlsx(data: bytes, prefix: str, scope: stats.Scope) -> Any:
    name = "-".join(str(v) for v in scope.as_args().values())
    return download(data, XLSX_MIMETYPE, f"{prefix}-{name}.xlsx")


def _years() -> list[int]:
    this = date.today().year
    return list(range(this, this - 6, -1))


@bp.get("/public")
def public():
    year = request.args.get("year", type=int)
    if year is not None and not 1987 <= year <= date.today().year + 1:
        year = None
    report = stats.public_report(year, current_lang())
    return render_template("stats/public.html", report=report, titles=stats.GROUP_TITLES,
                           chart_data=_chart_data(report["tables"]))
