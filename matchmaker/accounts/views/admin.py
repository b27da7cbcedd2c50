"""The staff area: dashboard, organization verification, and user administration."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from matchmaker.accounts import organizations
from matchmaker.accounts import users as accounts
from matchmaker.accounts.forms.admin import UserRoleForm
from matchmaker.accounts.forms.auth import ROLE_LABELS
from matchmaker.core import jobs
from matchmaker.core.permissions import can, is_staff
from matchmaker.core.web import act, require
from matchmaker.imports import importer
from matchmaker.matching import outbox
from matchmaker.reference import LEGAL_ENTITY_TYPES, ORG_KINDS, REGIONS

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _staff_only():
    if not is_staff(current_user):
        abort(403)


@bp.get("/")
def index():
    orgs = organizations.list_organizations()
    return render_template(
        "admin/index.html",
        unverified_count=sum(1 for org in orgs if not org.verified),
        org_count=len(orgs),
        recent_imports=importer.recent_batches(limit=5),
        broker=jobs.broker_status(),
        outbox_pending=outbox.pending_count(),
    )


@bp.get("/organizations")
def organizations_list():
    unverified_only = request.args.get("show") == "unverified"
    return render_template(
        "admin/organizations.html",
        organizations=organizations.list_organizations(unverified_only=unverified_only),
        members=organizations.member_counts(),
        unverified_only=unverified_only,
        org_kinds=ORG_KINDS, entity_types=LEGAL_ENTITY_TYPES, regions=REGIONS,
    )


@bp.post("/organizations/<int:org_id>/verify")
def verify_organization(org_id: int):
    return _set_verified(org_id, True)


@bp.post("/organizations/<int:org_id>/unverify")
def unverify_organization(org_id: int):
    return _set_verified(org_id, False)


def _set_verified(org_id: int, verified: bool):
    require("org.verify")
    act(organizations.set_verified, current_user, org_id, verified, http_errors=False,
        success=lambda org: (_("%(name)s is now verified.", name=org.name) if verified
                             else _("%(name)s is no longer verified.", name=org.name)))
    return redirect(request.referrer if _same_site(request.referrer) else url_for("admin.organizations_list"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.get("/users")
def users():
    query = request.args.get("q", "").strip()
    return render_template("admin/users.html", users=accounts.list_users(query or None), query=query,
                           role_form=UserRoleForm(), role_labels=ROLE_LABELS,
                           can_manage=can(current_user, "user.manage"))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int):
    require("user.manage")
    form = UserRoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the roles offered."), "error")
        return redirect(url_for("admin.users"))
    act(accounts.set_role, current_user, user_id, form.role.data, http_errors=False,
        success=lambda user: _("The role of %(name)s has been changed.", name=user.name))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/org-admin")
def set_org_admin(user_id: int):
    require("user.manage")
    admin = request.form.get("admin") == "1"
    act(accounts.set_org_admin, current_user, user_id, admin, http_errors=False,
        success=lambda user: (_("%(name)s is now an admin of their organization.", name=user.name) if admin
                              else _("%(name)s is no longer an admin of their organization.", name=user.name)))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/sign-out")
def sign_out_everywhere(user_id: int):
    require("user.manage")
    act(accounts.sign_out_everywhere, current_user, user_id, http_errors=False,
        success=lambda user: _("%(name)s has been signed out on every device.", name=user.name))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    require("user.manage")
    active = request.form.get("active") == "1"
    act(accounts.set_active, current_user, user_id, active, http_errors=False,
        success=lambda user: (_("%(name)s can log in again.", name=user.name) if active
                              else _("%(name)s has been deactivated and can no longer log in.", name=user.name)))
    return redirect(url_for("admin.users"))
