"""Matching pages: free-text search, the matches shown on a listing's page, broker feedback and its export."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.core import permissions
from matchmaker.core.errors import DomainError, NotAllowed, NotFound, ValidationFailed
from matchmaker.core.form_fields import form_id, form_number
from matchmaker.core.i18n import current_lang
from matchmaker.core.web import act, local_url, require
from matchmaker.listings import lifecycle
from matchmaker.listings.forms import NeedForm
from matchmaker.matching import assistant, dismissals, learning, matches
from matchmaker.matching import feedback as match_feedback
from matchmaker.reference import INDUSTRY_SECTIONS, REGIONS, TRL_LEVELS
from models import ListingStatus

bp = Blueprint("matching", __name__)
log = logging.getLogger(__name__)

MATCHES_SHOWN = 10


def _matches_for(listing: Any) -> dict[str, Any]:
    """Matches for the listing page, computed at most once per request."""
    cache = request.environ.setdefault("matchmaker.matching_cache", {})
    key = (listing.kind, listing.id)
    if key not in cache:
        filters = matches.parse_filters(request.args)
        items: list[matches.MatchItem] = []
        error = None
        if listing.status == ListingStatus.PUBLISHED:
            try:
                items = matches.matches_for_listing(listing, current_user, MATCHES_SHOWN, filters)
            except Exception:  # matching is an extra on the page: never let it take the listing down
                log.exception("matches for %s %s failed", listing.kind, listing.id)
                error = _("Matches cannot be shown right now. Try again in a minute.")
        cache[key] = {"items": items, "filters": filters, "error": error,
                      "side": matches.OTHER_SIDE[listing.kind],
                      "removed": dismissals.removed(current_user, listing) if not error else []}
    return cache[key]


def _choices() -> dict[str, Any]:
    lang = current_lang()
    provinces = [(code, label) for code, label in REGIONS.choices(lang) if code.endswith("0000")]
    return {"region_choices": provinces, "trl_choices": TRL_LEVELS.choices(lang),
            "verdict_labels": match_feedback.VERDICT_LABELS, "reason_labels": match_feedback.REASON_LABELS,
            "dismiss_labels": dismissals.REASON_LABELS}


@bp.app_context_processor
def _listing_matches_helpers() -> dict[str, Any]:
    return {"listing_matches": _matches_for, "matching_choices": _choices}


@bp.get("/search")
def search():
    text = (request.args.get("q") or "").strip()
    side = request.args.get("side") if request.args.get("side") in matches.OTHER_SIDE else "result"
    filters = matches.parse_filters(request.args)
    items: list[matches.MatchItem] = []
    error = None
    if text:
        try:
            items = matches.search(current_user, text, side, filters)
        except ValidationFailed as failure:
            error = failure.message
    return render_template("matching/search.html", q=text, side=side, filters=filters, items=items,
                           error=error, advice=matches.query_advice(text) if text and not error else [],
                           **_choices())


@bp.route("/need/assist", methods=["GET", "POST"])
@login_required
def need_assistant():
    """The need-writing assistant: own words in, a structured draft out; nothing is saved here.

    Accepting the draft posts it to /need/new, which shows the need form filled in."""
    require("need.create")
    text = request.form.get("problem", "") if request.method == "POST" else request.args.get("problem", "")
    draft, errors = None, []
    if request.method == "POST":
        try:
            draft = assistant.draft_need(current_user, text, current_lang())
        except ValidationFailed as failure:
            errors = [m for messages in failure.errors.values() for m in messages]
    form = None
    if draft is not None:
        form = NeedForm(formdata=None, data=draft.form_data())
        form.setup(current_lang(), None)
    return render_template("matching/need_assistant.html", text=text, draft=draft, errors=errors, form=form,
                           missing_labels=assistant.missing_labels(), sections=INDUSTRY_SECTIONS,
                           max_chars=assistant.MAX_CHARS)


@bp.get("/matches/<any(result,need):kind>/<int:listing_id>")
def listing_matches(kind: str, listing_id: int):
    """The matches block alone, so a listing page can refresh it as new listings arrive."""
    try:
        listing = lifecycle.get_visible(current_user, kind, listing_id)
    except NotFound:
        abort(404)
    # The listing page's refresh asks for the block alone; a link opened in the browser gets a page.
    if request.headers.get("X-Fragment") == "1":
        response = make_response(render_template("matching/_listing_matches.html", listing=listing, kind=kind,
                                                 fragment=True))
    else:
        response = make_response(render_template("matching/listing_matches_page.html", listing=listing, kind=kind))
    response.vary.add("X-Fragment")
    return response


@bp.post("/matches/feedback")
@login_required
def feedback():
    if not permissions.can(current_user, "match.feedback"):
        abort(403)
    back = local_url(request.form.get("next"), url_for("matching.search"))
    need_id, result_id = form_id(request.form.get("need_id")), form_id(request.form.get("result_id"))
    if need_id is None or result_id is None:
        abort(400)
    data = match_feedback.FeedbackInput(
        need_id=need_id, result_id=result_id, verdict=request.form.get("verdict", ""),
        reason=request.form.get("reason", ""), note=request.form.get("note", ""),
        score=form_number(request.form.get("score")))
    try:
        match_feedback.record(current_user, data)
        flash(_("Thank you: your judgment of this match was saved."), "success")
    except NotAllowed:
        abort(403)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(error.message, "error")
    return redirect(back)


@bp.get("/matches/feedback/export.<any(csv,jsonl):fmt>")
@login_required
def export_feedback(fmt: str):
    try:
        body, mimetype = match_feedback.export(current_user, fmt)
    except NotAllowed:
        abort(403)
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=match-feedback.{fmt}"})


def _suggestion_form() -> tuple[str, int, int, str]:
    """The listing and suggestion a dismiss/restore button names, and where to go back (400 if unusable)."""
    kind = request.form.get("kind", "")
    listing_id, other_id = form_id(request.form.get("listing_id")), form_id(request.form.get("other_id"))
    if kind not in matches.OTHER_SIDE or listing_id is None or other_id is None:
        abort(400)
    back = local_url(request.form.get("next"), url_for("listings.detail", kind=kind, listing_id=listing_id))
    return kind, listing_id, other_id, back


@bp.post("/matches/dismiss")
@login_required
def dismiss():
    """An owner takes a suggestion off their listing's matches."""
    kind, listing_id, other_id, back = _suggestion_form()
    act(dismissals.dismiss, current_user, kind, listing_id, other_id, request.form.get("reason", ""),
        success=_("The suggestion was removed from this listing's matches. Thank you: it helps the matching learn."))
    return redirect(back)


@bp.post("/matches/restore")
@login_required
def restore_dismissed():
    """An owner puts a removed suggestion back."""
    kind, listing_id, other_id, back = _suggestion_form()
    act(dismissals.restore, current_user, kind, listing_id, other_id,
        success=_("The suggestion is back on this listing's matches."))
    return redirect(back)


# --- staff: the relevance model's versions ----------------------------------------------------------

@bp.get("/admin/relevance-model")
@login_required
def model_versions():
    require("match.models")
    page = learning.overview(current_user)
    return render_template("matching/models.html", page=page, describe=learning.describe,
                           weights_of=learning.weights_of, status_labels=learning.STATUS_LABELS,
                           running=page.running)


@bp.post("/admin/relevance-model/refit")
@login_required
def refit_now():
    require("match.models")
    act(learning.start_refit, current_user, http_errors=False,
        success=_("The refit has been queued. Its result appears below when it is done."))
    return redirect(url_for("matching.model_versions"))


@bp.post("/admin/relevance-model/<int:version_id>/restore")
@login_required
def restore_version(version_id: int):
    require("match.models")
    act(learning.roll_back, current_user, version_id, http_errors=False,
        success=lambda version: _("Version %(id)s is in use again.", id=version.id))
    return redirect(url_for("matching.model_versions"))
