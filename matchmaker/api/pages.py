"""The account page for API tokens: create one (its secret shown once), see and revoke one's own;
staff see and revoke everyone's."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from matchmaker.accounts import organizations
from matchmaker.api import tokens
from matchmaker.core import webhooks
from matchmaker.core.errors import DomainError, ValidationFailed
from matchmaker.core.form_fields import form_id
from matchmaker.core.permissions import is_staff
from matchmaker.core.web import flash_errors

bp = Blueprint("api_tokens", __name__, url_prefix="/account/tokens")
docs_bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
hooks_bp = Blueprint("webhooks", __name__, url_prefix="/account/webhooks")


@docs_bp.get("/docs")
def reference():
    """The interactive reference, served by the site itself (vendored Swagger UI, no CDN)."""
    return render_template("api/reference.html", spec_url=url_for("api-docs.openapi_json"))


def _page(secret: str | None = None, errors: dict | None = None, status: int = 200, org_form: bool = False):
    """The page: one's own tokens; for an organization's admins its tokens too; for staff every token and
    an organization picker. `org_form`: the errors and values belong to the organization form."""
    staff = is_staff(current_user)
    own_org = current_user.organization_id if tokens.is_org_admin(current_user, current_user.organization_id) \
        and not staff else None
    return render_template(
        "api/tokens.html", mine=tokens.list_for(current_user), secret=secret,
        everyone=tokens.list_all() if staff else None,
        org_tokens=tokens.list_for_organization(own_org) if own_org else None, own_org=own_org,
        org_choices=organizations.choices() if staff else None,
        personal_errors={} if org_form else errors or {}, personal_form=MultiDict() if org_form else request.form,
        org_errors=(errors or {}) if org_form else {}, org_values=request.form if org_form else MultiDict(),
        levels=tokens.LEVELS, areas=tokens.AREAS,
        area_labels=tokens.AREA_LABELS, describe=tokens.describe), status


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/")
@login_required
def create():
    days = form_id(request.form.get("days")) or 0
    try:
        _token, secret = tokens.create(current_user, request.form.get("name", ""),
                                       request.form.getlist("scopes"), days)
    except ValidationFailed as failure:
        return _page(errors=failure.errors, status=422)
    flash(_("Token created. Copy it now: it will not be shown again."), "success")
    return _page(secret=secret)


@bp.post("/organization")
@login_required
def create_for_organization():
    """An organization token: its admins (for their organization) and staff (for any)."""
    days = form_id(request.form.get("days")) or 0
    try:
        _token, secret = tokens.create_for_organization(
            current_user, form_id(request.form.get("organization_id")), request.form.get("name", ""),
            request.form.getlist("scopes"), days)
    except ValidationFailed as failure:
        return _page(errors=failure.errors, status=422, org_form=True)
    except DomainError as error:
        flash_errors(error)
        return redirect(url_for("api_tokens.index"))
    flash(_("Organization token created. Copy it now: it will not be shown again."), "success")
    return _page(secret=secret)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    try:
        token = tokens.revoke(current_user, token_id)
    except DomainError as error:
        flash_errors(error)
    else:
        flash(_("Token %(name)s revoked: programs using it are refused from now on.", name=token.name), "success")
    return redirect(url_for("api_tokens.index"))


def _hooks_page(secret: str | None = None, errors: dict | None = None, status: int = 200):
    hooks = webhooks.for_user(current_user)
    deliveries = {hook.id: webhooks.recent_deliveries(current_user, hook.id) for hook in hooks}
    return render_template("api/webhooks.html", hooks=hooks, deliveries=deliveries, secret=secret,
                           events=webhooks.EVENTS, errors=errors or {}, form=request.form), status


@hooks_bp.get("/")
@login_required
def hooks_index():
    return _hooks_page()


@hooks_bp.post("/")
@login_required
def hooks_create():
    try:
        _hook, secret = webhooks.subscribe(current_user, request.form.get("url", ""), request.form.getlist("events"))
    except ValidationFailed as failure:
        return _hooks_page(errors=failure.errors, status=422)
    flash(_("Webhook added. Copy its signing secret now: it will not be shown again."), "success")
    return _hooks_page(secret=secret)


@hooks_bp.post("/<int:webhook_id>/delete")
@login_required
def hooks_delete(webhook_id: int):
    try:
        webhooks.remove(current_user, webhook_id)
    except DomainError as error:
        flash_errors(error)
    else:
        flash(_("Webhook removed."), "success")
    return redirect(url_for("webhooks.hooks_index"))


@hooks_bp.post("/deliveries/<int:delivery_id>/redeliver")
@login_required
def hooks_redeliver(delivery_id: int):
    try:
        webhooks.redeliver(current_user, delivery_id)
    except DomainError as error:
        flash_errors(error)
    else:
        flash(_("The delivery will be sent again within a minute."), "success")
    return redirect(url_for("webhooks.hooks_index"))
