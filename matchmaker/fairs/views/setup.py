"""Fair setup by staff: the list, create, edit, sessions, status and copying a fair."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core.errors import ValidationFailed
from matchmaker.core.form_fields import apply_errors
from matchmaker.core.web import act
from matchmaker.fairs import fairs
from matchmaker.fairs.forms import (
    CopyForm,
    FairForm,
    SessionForm,
)
from matchmaker.fairs.views._common import _back, _fair, _labels, _staff, _staff_fair, bp
from models import Session
from models.fairs import FairStatus


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
