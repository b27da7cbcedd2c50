"""The deal pipeline: the broker's board and list, one deal's history, stage changes, notes, next actions."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core import permissions, pickers
from matchmaker.core.errors import DomainError, NotAllowed
from matchmaker.core.form_fields import show_error
from matchmaker.core.web import act, or_404, require
from matchmaker.deals import contracts, deals, help_requests, introductions
from matchmaker.deals.forms import DealForm, NextActionForm, NoteForm, StageForm
from matchmaker.listings import lifecycle, search
from models.listing import listing_model

bp = Blueprint("deals", __name__, url_prefix="/deals")


def _labels() -> dict[str, Any]:
    return {"stage_labels": deals.STAGE_LABELS, "origin_labels": deals.ORIGIN_LABELS,
            "lost_reason_labels": deals.LOST_REASON_LABELS, "is_overdue": deals.is_overdue, "today": date.today()}


@bp.get("/board")
@login_required
def board():
    require("deal.manage")
    return render_template("deals/board.html", columns=deals.board(current_user), **_labels())


@bp.get("/")
@login_required
def index():
    stage = request.args.get("stage") or None
    overdue = request.args.get("overdue") == "1"
    return render_template("deals/index.html", deals=deals.listing(current_user, stage, overdue), stage=stage,
                           overdue=overdue, stages=deals.STAGES, **_labels())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    require("deal.manage")
    form = DealForm()
    if request.method == "GET":
        form.result_id.data = request.args.get("result_id", type=int)
        form.need_id.data = request.args.get("need_id", type=int)
        form.origin.data = request.args.get("origin") or "search"
    picks = pickers.from_request(request.form, DEAL_PICKERS, current_user) if request.method == "POST" else None
    if picks is None and form.validate_on_submit():
        data = deals.DealInput(result_id=form.result_id.data, need_id=form.need_id.data,
                               buyer_org_id=form.buyer_org_id.data, origin=form.origin.data, stage=form.stage.data,
                               next_action=form.next_action.data or "", next_action_date=form.next_action_date.data)
        try:
            deal = deals.create(current_user, data)
        except DomainError as exc:
            show_error(form, exc)
        else:
            flash(_("Deal opened."), "success")
            return redirect(url_for("deals.view", deal_id=deal.id))
    status = 400 if request.method == "POST" and picks is None else 200
    buyer = pickers.chosen("organization", current_user, form.buyer_org_id.data)
    return render_template("deals/form.html", form=form, picks=picks or {}, chosen_buyer=buyer,
                           **_picker(form)), status


DEAL_PICKERS = {"buyer_org_id": "organization"}


def _picker(form: DealForm) -> dict[str, Any]:
    """The listing picker beside the numbers: what was searched for (a plain GET form, so it works
    without JavaScript) and the listings chosen so far, by title."""
    found, chosen = {}, {}
    for kind, field_name in (("result", "result_id"), ("need", "need_id")):
        text = (request.args.get(f"find_{kind}") or "").strip()[:100]
        if text:  # words only: a search of bare quotes or percent signs finds nothing rather than everything
            hits = search.search_all(kind, search.parse_filters({"q": text}), 10) if search.tokenize(text) else []
            found[kind] = (text, hits)
        number = getattr(form, field_name).data
        chosen[kind] = permissions.usable_listing(current_user, listing_model(kind), number) if number else None
    return {"found": found, "chosen": chosen}


def _load(deal_id: int) -> Any:
    return or_404(deals.get_for, current_user, deal_id)


def _render_view(deal: Any, status: int = 200, **forms: Any):
    next_form = forms.get("next_form") or NextActionForm(formdata=None, next_action=deal.next_action,
                                                          next_action_date=deal.next_action_date)
    return render_template(
        "deals/view.html", deal=deal, can_manage=deals.can_manage(current_user, deal),
        intro_visible=deal.introduction is not None and introductions.can_view(current_user, deal.introduction),
        stage_form=forms.get("stage_form") or StageForm(formdata=None),
        note_form=forms.get("note_form") or NoteForm(formdata=None), next_form=next_form,
        contracts=contracts.for_deal(deal.id), can_record_contract=permissions.can(current_user, "contract.manage"),
        **_labels()), status


@bp.get("/<int:deal_id>")
@login_required
def view(deal_id: int):
    return _render_view(_load(deal_id))


def _guarded(deal_id: int, form: Any, action: Any, success: str, form_name: str):
    """Run one change on a deal: 404 if unseen, 403 if not its manager, errors next to the inputs."""
    deal = _load(deal_id)
    if not deals.can_manage(current_user, deal):
        abort(403)
    if form.validate():
        try:
            action(form)
        except NotAllowed:
            abort(403)
        except DomainError as exc:
            show_error(form, exc)
        else:
            flash(success, "success")
            return redirect(url_for("deals.view", deal_id=deal_id))
    return _render_view(deal, 400, **{form_name: form})


@bp.post("/<int:deal_id>/stage")
@login_required
def change_stage(deal_id: int):
    return _guarded(deal_id, StageForm(), lambda f: deals.change_stage(
        current_user, deal_id, f.stage.data, f.note.data or "", f.lost_reason.data or None, f.lost_note.data or ""),
        _("Stage changed."), "stage_form")


@bp.post("/<int:deal_id>/notes")
@login_required
def add_note(deal_id: int):
    return _guarded(deal_id, NoteForm(), lambda f: deals.add_note(current_user, deal_id, f.body.data),
                    _("Note added."), "note_form")


@bp.post("/<int:deal_id>/next-action")
@login_required
def next_action(deal_id: int):
    return _guarded(deal_id, NextActionForm(), lambda f: deals.set_next_action(
        current_user, deal_id, f.next_action.data or "", f.next_action_date.data), _("Next action saved."),
        "next_form")


# --- asking a broker ------------------------------------------------------------------------------

@bp.post("/help/<any(result,need):kind>/<int:listing_id>")
@login_required
def ask_broker(kind: str, listing_id: int):
    """The owner's "ask a broker" button under a listing's matches."""
    listing = or_404(lifecycle.get_visible, current_user, kind, listing_id)
    done = act(help_requests.ask, current_user, listing, request.form.get("message", ""))
    if done is not None:
        flash(_("Brokers have your request; you will be told who takes it.") if done[1]
              else _("Brokers already have a request for this listing."), "success")
    return redirect(url_for("listings.detail", kind=kind, listing_id=listing_id) + "#listing-matches")


@bp.get("/help")
@login_required
def help_requests_list():
    require("deal.manage")
    return render_template("deals/help_requests.html", requests=help_requests.open_requests(current_user))


@bp.post("/help/<int:request_id>/take")
@login_required
def take_help_request(request_id: int):
    act(help_requests.take, current_user, request_id, success=_("The request is yours; the owner was told."))
    return redirect(url_for("deals.help_requests_list"))


@bp.post("/help/<int:request_id>/close")
@login_required
def close_help_request(request_id: int):
    act(help_requests.close, current_user, request_id, success=_("Request closed."))
    return redirect(url_for("deals.help_requests_list"))
