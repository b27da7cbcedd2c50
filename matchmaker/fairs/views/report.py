"""The fair report and its Excel export."""
from __future__ import annotations

from flask import render_template
from flask_login import login_required

from matchmaker.core.web import XLSX_MIMETYPE, download
from matchmaker.fairs import report as fair_report
from matchmaker.fairs.views._common import _labels, _staff_fair, bp
from models.fairs import ParticipantType


@bp.get("/<int:fair_id>/report")
@login_required
def report(fair_id: int):
    fair = _staff_fair(fair_id)
    figures = fair_report.figures(fair.id)
    return render_template("fairs/report.html", fair=fair, f=figures, percent=fair_report.percent,
                           types=list(ParticipantType), **_labels())


@bp.get("/<int:fair_id>/report.xlsx")
@login_required
def report_xlsx(fair_id: int):
    fair = _staff_fair(fair_id)
    return download(fair_report.xlsx(fair.id), XLSX_MIMETYPE, f"fair-{fair.id}-report.xlsx")
