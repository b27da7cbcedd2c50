"""On the day: the check-in desk, checking a participant in, and the QR-code check-in link."""
from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core.web import act, or_404
from matchmaker.fairs import fairs
from matchmaker.fairs import meetings as fair_meetings
from matchmaker.fairs.views._common import _back, _labels, _staff, _staff_fair, bp


@bp.get("/<int:fair_id>/checkin")
@login_required
def checkin(fair_id: int):
    fair = _staff_fair(fair_id)
    query = (request.args.get("q") or "").strip()
    rows = fairs.participants(fair.id, query=query) if query else []
    return render_template("fairs/checkin.html", fair=fair, rows=rows, query=query,
                           desk=fairs.checkin_desk(fair.id), **_labels())


@bp.post("/participants/<int:participant_id>/checkin")
@login_required
def check_in(participant_id: int):
    _staff()
    p = act(fair_meetings.check_in, current_user, participant_id, request.form.get("method", "search"))
    if p is not None:
        flash(_("%(name)s is checked in.", name=p.name), "success")
    return _back(url_for("fairs.index"))


@bp.get("/checkin/<token>")
@login_required
def checkin_token(token: str):
    """Where the QR code on a printed schedule leads: the desk confirms with one button."""
    _staff()
    p = or_404(fair_meetings.participant_by_token, token)
    return render_template("fairs/checkin.html", fair=p.fair, rows=[p], query="", scanned=True, **_labels())
