"""What every fair view shares: the blueprint, label helpers and the look-ups that 404 or 403."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request
from flask_login import current_user

from matchmaker.core.web import local_url, or_404, require
from matchmaker.fairs import fairs
from matchmaker.fairs import meetings as fair_meetings
from matchmaker.fairs import schedule as fair_schedule

bp = Blueprint("fairs", __name__, url_prefix="/fairs")


def _labels() -> dict[str, Any]:
    return {"type_label": fairs.participant_type_label, "registration_label": fairs.registration_status_label,
            "fair_status_label": fairs.fair_status_label, "request_label": fair_meetings.request_status_label,
            "meeting_label": fair_meetings.meeting_status_label, "outcome_label": fair_meetings.outcome_label,
            "reason_text": fair_schedule.reason_text}


def _fair(fair_id: int):
    fair = or_404(fairs.get_fair, fair_id)
    if not fairs.visible(current_user, fair):
        abort(404)
    return fair


def _staff_fair(fair_id: int):
    _staff()
    return _fair(fair_id)


def _participant(participant_id: int, staff_or_self: bool = True):
    participant = or_404(fairs.get_participant, participant_id)
    if staff_or_self and not fairs.can_act_for(current_user, participant):
        abort(403)
    return participant


def _staff() -> None:
    require("fair.manage")


def _back(default: str) -> Any:
    return redirect(local_url(request.form.get("next"), default))
