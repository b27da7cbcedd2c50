"""Matchmaking fairs: setup, registration, suggestions and requests, scheduling, printouts, check-in,
outcomes and the fair report."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core import permissions
from matchmaker.core.errors import DomainError, ValidationFailed
from matchmaker.core.form_fields import apply_errors, form_id, form_number
from matchmaker.core.web import XLSX_MIMETYPE, act, download, local_url, or_404, require
from matchmaker.fairs import fairs, participant_import, printouts
from matchmaker.fairs import meetings as fair_meetings
from matchmaker.fairs import report as fair_report
from matchmaker.fairs import schedule as fair_schedule
from matchmaker.fairs.forms import (
    CopyForm,
    FairForm,
    ImportForm,
    MeetingForm,
    MoveForm,
    OutcomeForm,
    RegistrationForm,
    RequestForm,
    SessionForm,
    parse_availability,
)
from models import Organization, Session
from models.fairs import FairStatus, MeetingOutcome, ParticipantType

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


# --- fairs ------------------------------------------------------------------------------------

@bp.get("/")
def index():
    return render_template("fairs/index.html", fairs=fairs.list_fairs(current_user), **_labels())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    _staff()
    form = FairForm()
    if form.validate_on_submit():
        try:
            fair = fairs.create_fair(current_user, form.values())
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        else:
            flash(_("Fair created. Now add its sessions."), "success")
            return redirect(url_for("fairs.detail", fair_id=fair.id))
    return render_template("fairs/edit.html", form=form, fair=None)


@bp.route("/<int:fair_id>/edit", methods=["GET", "POST"])
@login_required
def edit(fair_id: int):
    fair = _staff_fair(fair_id)
    form = FairForm(obj=fair)
    if form.validate_on_submit():
        try:
            fairs.update_fair(current_user, fair.id, form.values())
        except ValidationFailed as exc:
            Session.rollback()
            apply_errors(form, exc.errors)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("fairs.detail", fair_id=fair.id))
    return render_template("fairs/edit.html", form=form, fair=fair)


@bp.get("/<int:fair_id>")
def detail(fair_id: int):
    fair = _fair(fair_id)
    mine = fairs.my_participants(current_user, fair.id)
    session_form = SessionForm(formdata=None)
    session_form.day.data = fair.start_date
    return render_template("fairs/detail.html", fair=fair, mine=mine, session_form=session_form,
                           copy_form=CopyForm(formdata=None), registration_open=fairs.registration_open(fair),
                           statuses=list(FairStatus), **_labels())


@bp.post("/<int:fair_id>/sessions")
@login_required
def add_session(fair_id: int):
    fair = _staff_fair(fair_id)
    form = SessionForm()
    if not form.validate():
        for messages in form.errors.values():
            for message in messages:
                flash(message, "error")
    else:
        act(fairs.add_session, current_user, fair.id, form.values(), success=_("Session added."))
    return redirect(url_for("fairs.detail", fair_id=fair.id) + "#sessions")


@bp.post("/sessions/<int:session_id>/delete")
@login_required
def delete_session(session_id: int):
    _staff()
    act(fairs.delete_session, current_user, session_id, success=_("Session deleted."))
    return _back(url_for("fairs.index"))


@bp.post("/<int:fair_id>/status")
@login_required
def set_status(fair_id: int):
    _staff()
    act(fairs.set_status, current_user, fair_id, request.form.get("status", ""), success=_("Saved."))
    return redirect(url_for("fairs.detail", fair_id=fair_id))


@bp.post("/<int:fair_id>/copy")
@login_required
def copy(fair_id: int):
    _staff()
    form = CopyForm()
    if form.validate():
        new = act(fairs.copy_fair, current_user, fair_id, form.name.data, form.start_date.data,
                   success=_("Fair copied. Check its dates and sessions."))
        if new is not None:
            return redirect(url_for("fairs.detail", fair_id=new.id))
    else:
        flash(_("Give the new fair a name and a first day."), "error")
    return redirect(url_for("fairs.detail", fair_id=fair_id))


# --- registration -----------------------------------------------------------------------------

def _registration_form(fair) -> RegistrationForm:
    form = RegistrationForm()
    form.participant_type.choices = [(t, fairs.participant_type_label(t)) for t in fair.participant_types or []]
    staff = permissions.is_staff(current_user)
    if staff:
        orgs = Session.query(Organization).order_by(Organization.name).all()
        form.organization_id.choices = [("", "—")] + [(o.id, o.name) for o in orgs]
    else:
        org = current_user.organization
        form.organization_id.choices = [(org.id, org.name)] if org else []
    org_id = form.organization_id.data if staff else current_user.organization_id
    results, needs = fairs.fair_listing_choices(org_id or current_user.organization_id)
    form.result_ids.choices = [(r.id, r.title) for r in results]
    form.need_ids.choices = [(n.id, n.title) for n in needs]
    form.sessions.choices = [(s.id, f"{s.name} {s.day.isoformat()} {s.start_time:%H:%M}–{s.end_time:%H:%M}")
                             for s in fair.sessions]
    if request.method == "GET":
        form.sessions.data = [s.id for s in fair.sessions]
        form.participant_type.data = fairs.default_participant_type(fair, current_user)
        if not fairs.my_participants(current_user, fair.id) or not staff:
            form.name.data, form.email.data = current_user.name, current_user.email
            form.organization_id.data = current_user.organization_id
    return form


@bp.route("/<int:fair_id>/register", methods=["GET", "POST"])
@login_required
def register(fair_id: int):
    fair = _fair(fair_id)
    require("fair.register")
    form = _registration_form(fair)
    if form.validate_on_submit():
        new = []
        if form.new_kind.data and (form.new_title.data or "").strip():
            new = [(form.new_kind.data, form.new_title.data, form.new_summary.data or "")]
        reg = fairs.Registration(
            name=form.name.data, email=form.email.data, participant_type=form.participant_type.data,
            organization_id=form.organization_id.data, phone=form.phone.data, job_title=form.job_title.data,
            result_ids=form.result_ids.data or [], need_ids=form.need_ids.data or [], new_listings=new,
            availability={sid: None for sid in form.sessions.data or []})
        try:
            fairs.register(current_user, fair.id, reg)
        except ValidationFailed as exc:
            Session.rollback()
            apply_errors(form, exc.errors)
        except DomainError as exc:
            Session.rollback()
            form.form_errors.append(exc.message)
        else:
            flash(_("Registered. Staff will validate the registration."), "success")
            return redirect(url_for("fairs.detail", fair_id=fair.id))
    return render_template("fairs/register.html", fair=fair, form=form)


@bp.get("/<int:fair_id>/participants")
@login_required
def participants(fair_id: int):
    fair = _staff_fair(fair_id)
    status = request.args.get("status") or None
    rows = fairs.participants(fair.id, status=status, query=request.args.get("q"))
    return render_template("fairs/participants.html", fair=fair, rows=rows, status=status, **_labels())


@bp.post("/participants/<int:participant_id>/status")
@login_required
def participant_status(participant_id: int):
    _staff()
    p = _participant(participant_id)
    act(fairs.set_registration_status, current_user, p.id, request.form.get("status", ""),
         request.form.get("note"), success=_("Saved."))
    return _back(url_for("fairs.participants", fair_id=p.fair_id))


@bp.post("/<int:fair_id>/participants/status")
@login_required
def participants_status(fair_id: int):
    """Validate or reject the ticked registrations at once."""
    fair = _staff_fair(fair_id)
    ids = [i for i in (form_id(v) for v in request.form.getlist("participant_ids")) if i is not None]
    status = request.form.get("status", "")
    act(fairs.set_registration_statuses, current_user, fair.id, ids, status,
        success=lambda n: _("%(n)s registrations changed to %(status)s.", n=n,
                            status=fairs.registration_status_label(status)))
    return _back(url_for("fairs.participants", fair_id=fair.id))


@bp.post("/participants/<int:participant_id>/cap")
@login_required
def participant_cap(participant_id: int):
    _staff()
    p = _participant(participant_id)
    value = request.form.get("max_meetings", "").strip()
    act(fairs.set_cap, current_user, p.id, int(value) if value.isdigit() else None, success=_("Saved."))
    return _back(url_for("fairs.participants", fair_id=p.fair_id))


@bp.route("/participants/<int:participant_id>/availability", methods=["GET", "POST"])
@login_required
def availability(participant_id: int):
    p = _participant(participant_id)
    if request.method == "POST":
        chosen = parse_availability(request.form, p.fair.sessions)
        if act(fairs.set_availability, current_user, p.id, chosen, success=_("Saved.")) is not None:
            return redirect(url_for("fairs.detail", fair_id=p.fair_id))
    current = {a.session_id: a for a in p.availability}
    return render_template("fairs/availability.html", p=p, fair=p.fair, current=current)


@bp.route("/<int:fair_id>/import", methods=["GET", "POST"])
@login_required
def import_participants(fair_id: int):
    fair = _staff_fair(fair_id)
    form = ImportForm()
    rows: dict[int, list[str]] = {}
    if form.validate_on_submit():
        upload = form.file.data
        try:
            done = participant_import.import_participants(current_user, fair.id, upload.filename or "", upload.read(),
                                                   validate=form.validate_all.data)
        except participant_import.ImportRejected as exc:
            Session.rollback()
            form.form_errors.append(exc.message)
            rows = exc.rows
        except DomainError as exc:
            Session.rollback()
            form.form_errors.append(exc.message)
        else:
            flash(_("%(n)s participants imported.", n=done.created), "success")
            return redirect(url_for("fairs.participants", fair_id=fair.id))
    return render_template("fairs/import.html", fair=fair, form=form, rows=rows,
                           header=participant_import.TEMPLATE_HEADER)


@bp.get("/<int:fair_id>/import/template.csv")
@login_required
def import_template(fair_id: int):
    _staff()
    return download(participant_import.template_csv(), "text/csv", "fair-participants.csv")


# --- suggestions and requests -----------------------------------------------------------------

def _me(fair) -> Any:
    """The participant whose view this is: ?as=<id> among those the user acts for, else their own."""
    mine = fairs.my_participants(current_user, fair.id)
    wanted = request.values.get("as", type=int)
    if wanted is not None:
        if permissions.is_staff(current_user):
            return _participant(wanted), mine
        chosen = next((p for p in mine if p.id == wanted), None)
        if chosen is None:
            abort(403)
        return chosen, mine
    return (mine[0] if mine else None), mine


def _registered_me(fair) -> Any:
    """Like _me, but a user with nobody registered at the fair is sent to its page to register first."""
    me, mine = _me(fair)
    if me is None:
        flash(_("Register for the fair first."), "warning")
        abort(redirect(url_for("fairs.detail", fair_id=fair.id)))
    return me, mine


@bp.get("/<int:fair_id>/suggestions")
@login_required
def suggestions(fair_id: int):
    fair = _fair(fair_id)
    me, mine = _registered_me(fair)
    rows = fair_meetings.suggestions(me.id, viewer=current_user)
    return render_template("fairs/suggestions.html", fair=fair, me=me, mine=mine, rows=rows,
                           form=RequestForm(formdata=None), **_labels())


@bp.post("/<int:fair_id>/requests")
@login_required
def send_request(fair_id: int):
    fair = _fair(fair_id)
    form = RequestForm()
    requester_id, recipient_id = form_id(form.requester_id.data), form_id(form.recipient_id.data)
    if requester_id is None or recipient_id is None:
        abort(400)
    act(fair_meetings.send_request, current_user, requester_id, recipient_id, form.message.data or "",
         result_id=form_id(form.result_id.data), need_id=form_id(form.need_id.data),
         score=form_number(form.score.data), success=_("Meeting request sent."))
    return redirect(url_for("fairs.suggestions", fair_id=fair.id, **{"as": requester_id}))


@bp.get("/<int:fair_id>/requests")
@login_required
def requests(fair_id: int):
    fair = _fair(fair_id)
    me, mine = _registered_me(fair)
    lists = fair_meetings.requests_for(me.id)
    return render_template("fairs/requests.html", fair=fair, me=me, mine=mine, **lists, **_labels())


@bp.post("/requests/<int:request_id>/respond")
@login_required
def respond(request_id: int):
    accept = request.form.get("answer") == "accept"
    req = act(fair_meetings.respond, current_user, request_id, accept, request.form.get("note"),
               success=_("Accepted: the meeting will be scheduled.") if accept else _("Declined."))
    return _back(url_for("fairs.index") if req is None else url_for("fairs.requests", fair_id=req.fair_id))


@bp.post("/requests/<int:request_id>/cancel")
@login_required
def cancel_request(request_id: int):
    act(fair_meetings.cancel_request, current_user, request_id, success=_("Request withdrawn."))
    return _back(url_for("fairs.index"))


# --- meetings and schedule (staff) ------------------------------------------------------------

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


# --- printouts --------------------------------------------------------------------------------

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


# --- on site ----------------------------------------------------------------------------------

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


# --- report -----------------------------------------------------------------------------------

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
