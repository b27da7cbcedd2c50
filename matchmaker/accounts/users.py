"""User accounts: registration, log-in checks, password reset by e-mailed token, profile, admin changes."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from matchmaker.accounts import memberships, organizations
from matchmaker.core import audit, mail, notifications
from matchmaker.core.errors import NotAllowed, NotFound, ValidationFailed
from matchmaker.core.passwords import hash_password, verify_password
from matchmaker.core.permissions import require
from models import Role, Session, User, utcnow

# Roles people may choose when they register; staff and admin are granted by an admin.
SELF_SERVICE_ROLES = (Role.RESEARCHER, Role.ENTERPRISE, Role.BROKER)
MIN_PASSWORD_LENGTH = 8
_RESET_SALT = "password-reset"
# Verified when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH: str | None = None


@dataclass
class Registration:
    email: str
    name: str
    password: str
    role: str
    organization_id: int | None = None
    new_organization: organizations.NewOrganization | None = None
    locale: str | None = None


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return Session.scalar(sa.select(User).where(sa.func.lower(User.email) == normalise_email(email)))


def check_password_strength(password: str) -> list[str]:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return [_("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)]
    return []


def register(data: Registration) -> User:
    """Create the account (and its new, unverified organization) and return the user."""
    errors: dict[str, list[str]] = {}
    email = normalise_email(data.email)
    if find_by_email(email) is not None:
        errors["email"] = [_("An account with this e-mail already exists. Log in or reset your password.")]
    if not data.name.strip():
        errors["name"] = [_("Enter your name.")]
    if data.role not in SELF_SERVICE_ROLES:
        errors["role"] = [_("Choose one of the roles offered.")]
    if problems := check_password_strength(data.password):
        errors["password"] = problems
    org_id = data.organization_id
    if data.new_organization is None:
        if org_id is None or organizations.get(org_id) is None:
            errors["organization_id"] = [_("Choose your organization, or create a new one.")]
    else:
        errors.update(organizations.check_new(data.new_organization))
    if errors:
        raise ValidationFailed(errors)
    joining = None
    if data.new_organization is not None:
        org_id = organizations.create(data.new_organization, actor_id=None).id
    else:
        # An existing organization is joined by request only: its members or staff approve it.
        joining, org_id = organizations.get(org_id), None
    # Whoever registers a new organization is its first admin (manages its API tokens).
    user = User(email=email, name=data.name.strip(), role=data.role, organization_id=org_id,
                password_hash=hash_password(data.password), locale=data.locale,
                org_role="admin" if data.new_organization is not None else "member")
    Session.add(user)
    Session.flush()
    audit.record(user.id, "user.register", user,
                 {"email": email, "role": str(data.role), "organization_id": org_id})
    if joining is not None:
        memberships.request_membership(user, joining)
    Session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (the caller shows one generic message)."""
    global _DUMMY_HASH
    user = find_by_email(email)
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password("not a real password")
        verify_password(_DUMMY_HASH, password or "")
        return None
    if not verify_password(user.password_hash, password or "") or not user.active:
        return None
    user.last_login_at = utcnow()
    Session.commit()
    return user


# --- password reset -------------------------------------------------------------------------

def _serializer(user: User) -> URLSafeTimedSerializer:
    # Salting with the current hash makes a token stop working once the password changes.
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"{_RESET_SALT}:{user.password_hash}")


def make_reset_token(user: User) -> str:
    return _serializer(user).dumps({"uid": user.id})


def request_password_reset(email: str, reset_url: Callable[[str], str]) -> None:
    """Mail a reset link when the address belongs to an active account; silent otherwise."""
    user = find_by_email(email)
    if user is None or not user.active:
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    body = _(
        "Hello %(name)s,\n\nSomeone (hopefully you) asked to reset the password of your Matchmaker "
        "account. Open this link within %(minutes)s minutes to choose a new password:\n\n%(url)s\n\n"
        "The link works once. If you did not ask for it, ignore this message; your password is unchanged.",
        name=user.name, minutes=minutes, url=reset_url(make_reset_token(user)),
    )
    mail.send(user.email, _("Reset your Matchmaker password"), body)


def user_for_reset_token(token: str) -> User:
    """The user the token was issued to, if it is genuine, fresh and unused; DomainError otherwise."""
    invalid = ValidationFailed({"token": [_("This reset link is invalid or has already been used. "
                                             "Ask for a new one.")]})
    try:
        _valid, payload = URLSafeTimedSerializer(current_app.config["SECRET_KEY"]).loads_unsafe(token)
    except Exception:  # garbage of any shape is just an invalid link
        raise invalid from None
    uid = payload.get("uid") if isinstance(payload, dict) else None
    user = Session.get(User, uid) if isinstance(uid, int) else None
    if user is None or not user.active:
        raise invalid
    try:
        _serializer(user).loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except SignatureExpired:
        raise ValidationFailed({"token": [_("This reset link has expired. Ask for a new one.")]}) from None
    except BadSignature:
        raise invalid from None
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    if problems := check_password_strength(new_password):
        raise ValidationFailed({"password": problems})
    user.password_hash = hash_password(new_password)
    audit.record(user.id, "user.password_reset", user, {})
    end_sessions(user, user.id, commit=False)
    Session.commit()
    return user


def end_sessions(user: User, actor_id: int | None, commit: bool = True) -> None:
    """Sign the user out everywhere: every session and remember-me cookie issued so far stops working."""
    user.session_version = (user.session_version or 0) + 1
    audit.record(actor_id, "user.sessions_ended", user, {})
    if commit:
        Session.commit()


# --- profile and administration ---------------------------------------------------------------

def update_profile(user: User, name: str, phone: str | None, locale: str | None,
                   match_notices: str | None = None, message_notices: str | None = None) -> User:
    if not (name or "").strip():
        raise ValidationFailed({"name": [_("Enter your name.")]})
    if locale and locale not in current_app.config["LANGUAGES"]:
        raise ValidationFailed({"locale": [_("Choose one of the languages offered.")]})
    if match_notices is not None and match_notices not in notifications.MATCH_NOTICES:
        raise ValidationFailed({"match_notices": [_("Choose one of the options offered.")]})
    if message_notices is not None and message_notices not in notifications.MESSAGE_NOTICES:
        raise ValidationFailed({"message_notices": [_("Choose one of the options offered.")]})
    changes = audit.apply(user, {"name": name.strip(), "phone": (phone or "").strip() or None,
                                 "locale": locale or None,
                                 "match_notices": match_notices or user.match_notices or "daily",
                                 "message_notices": message_notices or user.message_notices or "bell"})
    if changes:
        audit.record(user.id, "user.profile", user, changes)
    Session.commit()
    return user


def list_users(query: str | None = None) -> list[User]:
    stmt = sa.select(User).order_by(User.created_at.desc(), User.id.desc())
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(sa.or_(User.email.ilike(like), User.name.ilike(like)))
    return list(Session.scalars(stmt.limit(500)))


def _managed_user(actor: User, user_id: int) -> User:
    require(actor, "user.manage", _("Only administrators can change accounts."))
    user = Session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    if user.id == actor.id:
        # An admin demoting or disabling themselves could leave nobody able to undo it.
        raise NotAllowed(_("You cannot change your own role or deactivate your own account."))
    return user


def set_role(actor: User, user_id: int, role: str) -> User:
    user = _managed_user(actor, user_id)
    if role not in tuple(Role):
        raise ValidationFailed({"role": [_("Choose one of the roles offered.")]})
    if user.org_role == "service" and role != user.role:
        # An organization token acts with its ordinary members' role, never more.
        raise ValidationFailed({"role": [_("The account of an organization's API tokens keeps its members' role.")]})
    changes = audit.apply(user, {"role": role})
    if changes:
        audit.record(actor.id, "user.role", user, changes)
    Session.commit()
    return user


def set_org_admin(actor: User, user_id: int, admin: bool) -> User:
    """Make a member an admin of their organization (who manages its API tokens), or a member again."""
    user = _managed_user(actor, user_id)
    if user.organization_id is None or user.org_role == "service":
        raise ValidationFailed({"org_role": [_("Only a member of an organization can be its admin.")]})
    changes = audit.apply(user, {"org_role": "admin" if admin else "member"})
    if changes:
        audit.record(actor.id, "user.org_role", user, changes)
    Session.commit()
    return user


def sign_out_everywhere(actor: User, user_id: int) -> User:
    """Staff end every session of an account (a lost laptop, a shared password) without deactivating it."""
    user = _managed_user(actor, user_id)
    end_sessions(user, actor.id)
    return user


def set_active(actor: User, user_id: int, active: bool) -> User:
    user = _managed_user(actor, user_id)
    changes = audit.apply(user, {"active": active})
    if changes:
        audit.record(actor.id, "user.activate" if active else "user.deactivate", user, changes)
        if not active:
            end_sessions(user, actor.id, commit=False)  # reactivating later must not revive old cookies
    Session.commit()
    return user
