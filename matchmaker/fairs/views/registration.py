"""Registration: the form, the participant list and its bulk decisions, capacities, availability and import."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core import permissions, pickers
from matchmaker.core.errors import DomainError, ValidationFailed
from matchmaker.core.form_fields import apply_errors, form_id
from matchmaker.core.web import act, download, or_404, require
from matchmaker.fairs import fairs, participant_import
from matchmaker.fairs.forms import (
    ConfirmImportForm,
    ImportForm,
    RegistrationForm,
    parse_availability,
)
from matchmaker.fairs.views._common import _back, _fair, _labels, _participant, _staff, _staff_fair, bp
from models import Session


def _registration_form(fair) -> RegistrationForm:
    form = RegistrationForm()
    form.participant_type.choices = [(t, fairs.participant_type_label(t)) for t in fair.participant_types or []]
    staff = permissions.is_staff(current_user)
    if staff:
        form.organization_id.choices = [("", "—")]  # chosen through a picker (core.pickers)
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


REGISTRATION_PICKERS = {"organization_id": "organization"}


@bp.route("/<int:fair_id>/register", methods=["GET", "POST"])
@login_required
def register(fair_id: int):
    fair = _fair(fair_id)
    require("fair.register")
    form = _registration_form(fair)
    staff = permissions.is_staff(current_user)
    # Staff register anyone: they look the organization up by name (the Find button posts the form back).
    picks = pickers.from_request(request.form, REGISTRATION_PICKERS, current_user) \
        if staff and request.method == "POST" else None
    if picks is None and form.validate_on_submit():
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
    chosen = pickers.chosen("organization", current_user, form.organization_id.data) if staff else None
    return render_template("fairs/register.html", fair=fair, form=form, staff=staff, picks=picks or {},
                           chosen=chosen)


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
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job_id = participant_import.upload(current_user, fair.id, upload.filename or "", upload.read(),
                                               validate=form.validate_all.data)
        except DomainError as exc:
            Session.rollback()
            form.file.errors = [*form.file.errors, exc.message]
        else:
            return redirect(url_for("fairs.import_preview", fair_id=fair.id, job_id=job_id))
    status = 400 if request.method == "POST" else 200
    return render_template("fairs/import.html", fair=fair, form=form,
                           header=participant_import.TEMPLATE_HEADER), status


@bp.get("/<int:fair_id>/import/<int:job_id>")
@login_required
def import_preview(fair_id: int, job_id: int):
    fair = _staff_fair(fair_id)
    preview = or_404(participant_import.load_preview, current_user, fair.id, job_id)
    return render_template("fairs/import_preview.html", fair=fair, preview=preview, form=ConfirmImportForm(),
                           job=preview.reading, reading=preview.being_read, **_labels())


@bp.post("/<int:fair_id>/import/<int:job_id>/confirm")
@login_required
def import_confirm(fair_id: int, job_id: int):
    fair = _staff_fair(fair_id)
    form = ConfirmImportForm()
    done = act(participant_import.confirm, current_user, fair.id, job_id, bool(form.valid_only.data))
    if done is None:
        return redirect(url_for("fairs.import_preview", fair_id=fair.id, job_id=job_id))
    flash(_("%(n)s participants imported.", n=done.created), "success")
    return redirect(url_for("fairs.participants", fair_id=fair.id))


@bp.post("/<int:fair_id>/import/<int:job_id>/discard")
@login_required
def import_discard(fair_id: int, job_id: int):
    fair = _staff_fair(fair_id)
    if act(participant_import.discard, current_user, fair.id, job_id, success=_("The upload was discarded.")) is None:
        return redirect(url_for("fairs.import_preview", fair_id=fair.id, job_id=job_id))
    return redirect(url_for("fairs.import_participants", fair_id=fair.id))


@bp.get("/<int:fair_id>/import/template.csv")
@login_required
def import_template(fair_id: int):
    _staff()
    return download(participant_import.template_csv(), "text/csv", "fair-participants.csv")
