"""Participants' suggested counterparts and their meeting requests: send, list, answer, cancel."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core import permissions
from matchmaker.core.form_fields import form_id, form_number
from matchmaker.core.web import act
from matchmaker.fairs import fairs
from matchmaker.fairs import meetings as fair_meetings
from matchmaker.fairs.forms import (
    RequestForm,
)
from matchmaker.fairs.views._common import _back, _fair, _labels, _participant, bp


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
