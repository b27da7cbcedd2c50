"""Introductions: request one from a listing or a match, answer it as the owner, follow its state."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage

from matchmaker.core import pickers
from matchmaker.core.errors import DomainError, NotAllowed, NotFound, ValidationFailed
from matchmaker.core.form_fields import apply_errors, form_id
from matchmaker.core.web import act, flash_errors, local_url, or_404
from matchmaker.deals import attachments, conversation, introductions
from matchmaker.deals.forms import (
    AnswerForm,
    DeclineForm,
    HandoverForm,
    IntroductionRequestForm,
    MeetingForm,
    MessageForm,
)

bp = Blueprint("introductions", __name__, url_prefix="/introductions")


@bp.app_context_processor
def _listing_helpers() -> dict[str, Any]:
    """What templates/introductions/_listing_actions.html needs on any listing page."""

    def introduction_state(listing: Any) -> dict[str, Any]:
        return introductions.listing_state(current_user, listing)

    def introduction_form(listing: Any, kind: str, origin: str = "search",
                          counterpart_listing_id: int | None = None) -> IntroductionRequestForm:
        form = IntroductionRequestForm(formdata=None, kind=kind, listing_id=listing.id, origin=origin,
                                       counterpart_listing_id=counterpart_listing_id or "", next=request.full_path)
        form.counterpart_org_id.choices = [("", "—")]  # chosen through a picker (core.pickers)
        return form

    return {"introduction_state": introduction_state, "introduction_form": introduction_form,
            "introduction_status_labels": introductions.STATUS_LABELS,
            "decline_reason_text": introductions.decline_reason_text,
            "introduction_reply_by": introductions.reply_by, "file_size": attachments.human_size}


@bp.get("/")
@login_required
def index():
    sent, received = introductions.sent(current_user), introductions.received(current_user)
    accepted = [intro.id for intro in (*sent, *received) if intro.status == "accepted"]
    return render_template("introductions/index.html", sent=sent, received=received,
                           message_counts=conversation.message_counts(accepted))


REQUEST_PICKERS = {"counterpart_org_id": "organization"}


@bp.post("/request")
@login_required
def request_introduction():
    form = IntroductionRequestForm()
    form.counterpart_org_id.choices = [("", "—")]
    picks = pickers.from_request(request.form, REQUEST_PICKERS, current_user)
    if picks is not None:  # a broker looked up the organization they act for, without JavaScript
        listing = or_404(introductions.request_target, current_user, form.kind.data or "",
                         form_id(form.listing_id.data) or 0)
        chosen = pickers.chosen("organization", current_user, form.counterpart_org_id.data)
        return render_template("introductions/request.html", form=form, listing=listing, picks=picks,
                               chosen=chosen)
    back = local_url(form.next.data, url_for("introductions.index"))
    if not form.validate():
        for field in (form.message, form.counterpart_org_id):
            for message in field.errors:
                flash(f"{field.label.text}: {message}", "error")
        return redirect(back)
    try:
        data = introductions.RequestInput(
            kind=form.kind.data or "", listing_id=form_id(form.listing_id.data) or 0, message=form.message.data or "",
            origin=form.origin.data or "search", counterpart_org_id=form.counterpart_org_id.data,
            counterpart_listing_id=form_id(form.counterpart_listing_id.data))
        introductions.request(current_user, data)
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(back)
    flash(_("Your request was sent. The owner has been notified."), "success")
    return redirect(back)


def _load(intro_id: int) -> Any:
    return or_404(introductions.get_for, current_user, intro_id)


@bp.get("/<int:intro_id>")
@login_required
def view(intro_id: int):
    intro = _load(intro_id)
    return _render_view(intro, AnswerForm(), DeclineForm(kind=intro.kind))


def _render_view(intro: Any, accept_form: AnswerForm, decline_form: DeclineForm, **forms: Any) -> str:
    return render_template("introductions/view.html", intro=intro, accept_form=accept_form,
                           decline_form=decline_form, can_answer=introductions.can_answer(current_user, intro),
                           after=introductions.after_acceptance(current_user, intro),
                           talk=conversation.thread(current_user, intro),
                           message_form=forms.get("message_form") or MessageForm(formdata=None),
                           meeting_form=forms.get("meeting_form") or MeetingForm(formdata=None),
                           handover_form=forms.get("handover_form") or HandoverForm(formdata=None),
                           attachment_types=attachments.ALLOWED,
                           attachment_limit=attachments.human_size(attachments.max_bytes()))


@bp.post("/<int:intro_id>/accept")
@login_required
def accept(intro_id: int):
    _load(intro_id)
    form = AnswerForm()
    act(introductions.accept, current_user, intro_id, form.note.data or "",
        success=_("Accepted. The requester can now see the details and your contact."))
    return redirect(url_for("introductions.view", intro_id=intro_id))


@bp.post("/<int:intro_id>/decline")
@login_required
def decline(intro_id: int):
    intro = _load(intro_id)
    form = DeclineForm(kind=intro.kind)
    if form.validate():
        try:
            introductions.decline(current_user, intro_id, form.reason.data, form.note.data or "")
        except NotAllowed:
            abort(403)
        except ValidationFailed as exc:
            apply_errors(form, exc.errors)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("introductions.view", intro_id=intro_id))
        else:
            flash(_("Declined. The requester sees your reason."), "success")
            return redirect(url_for("introductions.view", intro_id=intro_id))
    return _render_view(intro, AnswerForm(formdata=None), form), 400


@bp.post("/<int:intro_id>/withdraw")
@login_required
def withdraw(intro_id: int):
    _load(intro_id)
    act(introductions.withdraw, current_user, intro_id, success=_("Your request was withdrawn."))
    return redirect(url_for("introductions.view", intro_id=intro_id))


# --- the conversation after acceptance ---------------------------------------------------------------

def _talk(intro_id: int, form_name: str, form: Any, call: Any, success: str):
    """Run one conversation action: back to the conversation with `success`, or the page again with the
    refusal under the form (400), or flashed when it is about the state (409-like: redirect)."""
    intro = _load(intro_id)
    try:
        call()
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)
    except ValidationFailed as exc:
        apply_errors(form, exc.errors)
        return _render_view(intro, AnswerForm(formdata=None), DeclineForm(formdata=None, kind=intro.kind),
                            **{form_name: form}), 400
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return redirect(url_for("introductions.view", intro_id=intro_id, _anchor="conversation"))


@bp.post("/<int:intro_id>/messages")
@login_required
def post_message(intro_id: int):
    form = MessageForm()
    data = form.file.data
    upload = (conversation.Upload(data.filename or "", data.stream)
              if isinstance(data, FileStorage) and (data.filename or "").strip() else None)
    return _talk(intro_id, "message_form", form,
                 lambda: conversation.post(current_user, intro_id, form.body.data or "", upload),
                 _("Your message was sent."))


@bp.post("/<int:intro_id>/meeting")
@login_required
def propose_meeting(intro_id: int):
    form = MeetingForm()
    form.validate()  # parses the day and time; the service judges them
    data = conversation.MeetingInput(day=form.day.data, at=form.at.data, note=form.note.data or "")
    return _talk(intro_id, "meeting_form", form, lambda: conversation.propose_meeting(current_user, intro_id, data),
                 _("Your meeting proposal was sent."))


@bp.post("/<int:intro_id>/intention")
@login_required
def mark_intention(intro_id: int):
    return _talk(intro_id, "message_form", MessageForm(formdata=None),
                 lambda: conversation.mark_intention_signed(current_user, intro_id),
                 _("The deal now shows the intention as signed."))


@bp.post("/<int:intro_id>/handover")
@login_required
def hand_over(intro_id: int):
    form = HandoverForm()
    return _talk(intro_id, "handover_form", form,
                 lambda: conversation.hand_to_broker(current_user, intro_id, form.note.data or ""),
                 _("The broker has been told and takes the deal from here."))


@bp.get("/<int:intro_id>/files/<int:attachment_id>")
@login_required
def download_file(intro_id: int, attachment_id: int):
    row, path = or_404(conversation.attachment_for, current_user, intro_id, attachment_id)
    return send_file(path, mimetype=attachments.mimetype(row.file_type), as_attachment=True,
                     download_name=row.filename, max_age=0)


@bp.errorhandler(413)
def _too_large(_error: Any):
    intro_id = (request.view_args or {}).get("intro_id")
    flash(_("The file is larger than %(limit)s.", limit=attachments.human_size(attachments.max_bytes())), "error")
    if intro_id:
        return redirect(url_for("introductions.view", intro_id=intro_id, _anchor="conversation"))
    return redirect(url_for("introductions.index"))
