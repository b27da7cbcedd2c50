"""Printed and downloadable schedules: a participant's own, all of them, table cards and the ICS calendar."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_login import login_required

from matchmaker.core.web import download
from matchmaker.fairs import printouts
from matchmaker.fairs.views._common import _labels, _participant, _staff_fair, bp


def _checkin_url(participant) -> str:
    return url_for("fairs.checkin_token", token=participant.checkin_token, _external=True)


@bp.get("/participants/<int:participant_id>/schedule")
@login_required
def participant_schedule(participant_id: int):
    p = _participant(participant_id)
    return _print_schedules(p.fair, [p])


@bp.get("/<int:fair_id>/print/schedules")
@login_required
def print_schedules(fair_id: int):
    fair = _staff_fair(fair_id)
    return _print_schedules(fair, printouts.printable_participants(fair.id))


def _print_schedules(fair, people: list[Any]) -> str:
    return render_template("fairs/print_schedules.html", fair=fair, people=people,
                           rows_for=printouts.participant_rows,
                           qr=lambda person: printouts.qr_svg(_checkin_url(person)), **_labels())


@bp.get("/<int:fair_id>/print/tables")
@login_required
def print_tables(fair_id: int):
    fair = _staff_fair(fair_id)
    return render_template("fairs/print_tables.html", fair=fair, sheets=printouts.table_sheets(fair.id))


@bp.get("/participants/<int:participant_id>/calendar.ics")
@login_required
def calendar(participant_id: int):
    p = _participant(participant_id)
    body = printouts.calendar_ics(p.id, _checkin_url(p))
    return download(body, "text/calendar", f"fair-{p.fair_id}-{p.id}.ics")
