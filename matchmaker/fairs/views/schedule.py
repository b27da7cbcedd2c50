"""Staff: the CP-SAT schedule, meetings placed by hand, moved, pinned, marked and their outcomes."""
from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core.web import act
from matchmaker.fairs import fairs
from matchmaker.fairs import meetings as fair_meetings
from matchmaker.fairs import schedule as fair_schedule
from matchmaker.fairs.forms import (
    MeetingForm,
    MoveForm,
    OutcomeForm,
)
from matchmaker.fairs.views._common import _back, _labels, _staff, _staff_fair, bp
from models.fairs import MeetingOutcome


@bp.get("/<int:fair_id>/schedule")
@login_required
def schedule(fair_id: int):
    fair = _staff_fair(fair_id)
    view = fair_schedule.overview(fair.id)
    people = [p for p in fairs.participants(fair.id, status="validated") if p.participant_type in
              fairs.MEETING_TYPES]
    meeting_form = MeetingForm(formdata=None)
    meeting_form.a_id.choices = meeting_form.b_id.choices = [("", "—")] + [
        (p.id, f"{p.name} · {p.organization.name}") for p in people]
    move_form = MoveForm(formdata=None)
    move_form.slot_id.choices = fair_schedule.slot_choices(fair.id)
    return render_template("fairs/schedule.html", fair=fair, view=view, meeting_form=meeting_form,
                           move_form=move_form, running=fair_schedule.running_job(fair.id), **_labels())


@bp.post("/<int:fair_id>/schedule/run")
@login_required
def run_schedule(fair_id: int):
    _staff()
    act(fair_schedule.start_run, current_user, fair_id, success=_("The scheduler has started."))
    return redirect(url_for("fairs.schedule", fair_id=fair_id))


@bp.post("/<int:fair_id>/meetings")
@login_required
def create_meeting(fair_id: int):
    _staff()
    form = MeetingForm()
    if form.a_id.data and form.b_id.data:
        act(fair_meetings.create_meeting, current_user, form.a_id.data, form.b_id.data, success=_("Meeting added."))
    else:
        flash(_("Choose both participants."), "error")
    return redirect(url_for("fairs.schedule", fair_id=fair_id))


@bp.post("/meetings/<int:meeting_id>/move")
@login_required
def move_meeting(meeting_id: int):
    _staff()
    form = MoveForm()
    if form.slot_id.data and form.table_no.data:
        act(fair_schedule.move, current_user, meeting_id, form.slot_id.data, form.table_no.data,
             success=_("Meeting moved and pinned."))
    else:
        flash(_("Choose a time slot and a table."), "error")
    return _back(url_for("fairs.index"))


@bp.post("/meetings/<int:meeting_id>/<any(pin, unpin, unschedule, cancel):action>")
@login_required
def meeting_action(meeting_id: int, action: str):
    _staff()
    calls = {"pin": (fair_schedule.set_pinned, (True,), _("Pinned.")),
             "unpin": (fair_schedule.set_pinned, (False,), _("Unpinned.")),
             "unschedule": (fair_schedule.unschedule, (), _("Taken out of the schedule.")),
             "cancel": (fair_schedule.cancel, (), _("Meeting cancelled."))}
    fn, extra, message = calls[action]
    act(fn, current_user, meeting_id, *extra, success=message)
    return _back(url_for("fairs.index"))


@bp.post("/meetings/<int:meeting_id>/mark")
@login_required
def mark_meeting(meeting_id: int):
    act(fair_meetings.mark_meeting, current_user, meeting_id, request.form.get("status", ""), success=_("Saved."))
    return _back(url_for("fairs.index"))


@bp.post("/meetings/<int:meeting_id>/outcome")
@login_required
def record_outcome(meeting_id: int):
    form = OutcomeForm()
    act(fair_meetings.record_outcome, current_user, meeting_id, form.outcome.data or "", form.note.data,
         success=_("Outcome recorded."))
    return _back(url_for("fairs.index"))


@bp.get("/<int:fair_id>/meetings")
@login_required
def meetings(fair_id: int):
    """The on-site list: every meeting with held/no-show buttons and the outcome form."""
    fair = _staff_fair(fair_id)
    rows = sorted(fair_meetings.meetings(fair.id),
                  key=lambda m: (m.slot is None, m.slot.starts_at if m.slot else datetime.max, m.table_no or 0, m.id))
    outcomes = [(str(o), fair_meetings.outcome_label(o)) for o in MeetingOutcome]
    return render_template("fairs/meetings.html", fair=fair, rows=rows, outcomes=outcomes, **_labels())
