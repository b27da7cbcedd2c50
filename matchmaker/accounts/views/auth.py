"""Log in and out, register, reset a forgotten password, and the small profile page."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from matchmaker.accounts import memberships, users
from matchmaker.accounts.forms.auth import ForgotForm, LoginForm, ProfileForm, RegisterForm, ResetForm
from matchmaker.accounts.organizations import NewOrganization
from matchmaker.core.errors import ValidationFailed
from matchmaker.core.web import local_url
from matchmaker.extensions import limiter

bp = Blueprint("auth", __name__, url_prefix="/account")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _show_errors(form: FlaskForm, error: ValidationFailed, field_map: dict[str, str] | None = None) -> None:
    """Put service errors next to their fields; errors without a field become a flash."""
    for field, messages in error.errors.items():
        target = getattr(form, (field_map or {}).get(field, field), None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + list(messages)
        else:
            for message in messages:
                flash(message, "error")


@bp.errorhandler(429)
def too_many_attempts(_error):
    form = LoginForm()
    form.email.data = request.form.get("email", "")
    flash(_("Too many attempts. Please wait a minute and try again."), "error")
    return render_template("auth/login.html", form=form, locked=True), 429


def _login_key() -> str:
    # Per address and account: a fair's attendees behind one venue Wi-Fi do not lock each other out,
    # while guesses at one account from one address are still cut off.
    return f"{get_remote_address()}|{(request.form.get('email') or '').strip().lower()[:254]}"


def _account_key() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_key)
@limiter.limit(_account_limit, methods=["POST"], key_func=_account_key)  # the same account from many addresses
def login():
    if current_user.is_authenticated:
        return redirect(local_url(request.args.get("next"), url_for("main.index")))
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            if user.locale:
                session["lang"] = user.locale
            flash(_("Welcome back, %(name)s.", name=user.name), "success")
            return redirect(local_url(request.args.get("next"), url_for("main.index")))
        # One message for an unknown e-mail and a wrong password: no account discovery.
        flash(_("Wrong e-mail or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        users.end_sessions(current_user, current_user.id)  # a copied cookie dies with this one
    logout_user()
    flash(_("You have logged out."), "success")
    return redirect(url_for("main.index"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        new_org = None
        if form.org_mode.data == "new":
            new_org = NewOrganization(name=form.org_name.data or "", kind=form.org_kind.data or "",
                                      entity_type=form.org_entity_type.data or None,
                                      region=form.org_region.data or None)
        data = users.Registration(
            email=form.email.data, name=form.name.data, password=form.password.data, role=form.role.data,
            organization_id=form.organization_id.data if new_org is None else None,
            new_organization=new_org, locale=session.get("lang"))
        try:
            user = users.register(data)
        except ValidationFailed as error:
            _show_errors(form, error)
        else:
            login_user(user)
            if new_org is not None:
                flash(_("Your account is ready. Your organization will show as unverified until bureau "
                        "staff check it; you can already prepare listings."), "success")
            else:
                flash(_("Your account is ready. Your request to join %(organization)s has been sent: a member "
                        "of it or bureau staff will approve it, and until then you cannot act for it.",
                        organization=user.pending_organization.name), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/register.html", form=form)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        users.request_password_reset(
            form.email.data, lambda token: url_for("auth.reset", token=token, _external=True))
        # The same answer whether or not the address has an account.
        flash(_("If an account uses this e-mail address, we have sent it a link to choose a new password."),
              "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    try:
        users.user_for_reset_token(token)
    except ValidationFailed as error:
        flash(error.message, "error")
        return redirect(url_for("auth.forgot"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            users.reset_password(token, form.password.data)
        except ValidationFailed as error:
            _show_errors(form, error)
        else:
            flash(_("Your password has been changed. You can log in with it now."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, token=token)


@bp.get("/requests")
@login_required
def membership_requests():
    return render_template("auth/membership_requests.html", requests=memberships.pending_for(current_user))


@bp.post("/requests/<int:user_id>/<any(approve,reject):decision>")
@login_required
def decide_membership(user_id: int, decision: str):
    user = (memberships.approve if decision == "approve" else memberships.reject)(current_user, user_id)
    if decision == "approve":
        flash(_("%(name)s is now a member of your organization.", name=user.name), "success")
    else:
        flash(_("The request of %(name)s was declined.", name=user.name), "success")
    return redirect(url_for("auth.membership_requests"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        form.locale.data = current_user.locale or ""
    if form.validate_on_submit():
        try:
            users.update_profile(current_user, form.name.data, form.phone.data, form.locale.data or None,
                                 form.match_notices.data, form.message_notices.data)
        except ValidationFailed as error:
            _show_errors(form, error)
        else:
            if form.locale.data:
                session["lang"] = form.locale.data
            else:
                session.pop("lang", None)
            flash(_("Your profile has been saved."), "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form)
