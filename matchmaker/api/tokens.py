"""API tokens: create (the secret is shown once), list, revoke, and authenticate a request.

A personal token acts as its user. An organization token (made by the organization's admins or staff)
acts as the organization: through its service account, a member with the role of its ordinary members.

A token acts for its user with the user's own permissions; its scopes only narrow them, per area of
the API: "<area>:read" for safe methods, "<area>:write" for the rest (e.g. "contracts:write"). The
plain "read" and "write" of tokens made before areas existed cover every area. Tokens expire (a year
by default) and die with the user's deactivation; a revoked token stops working on the next request.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, permissions
from matchmaker.core.errors import NotAllowed, NotFound, ValidationFailed
from models import ApiToken, Organization, OrgKind, Role, Session, User, aware, utcnow

PREFIX = "mm_"
LEVELS = ("read", "write")
AREAS = ("listings", "matching", "deals", "contracts", "fairs", "stats", "account")
AREA_LABELS = {
    "listings": _l("Listings (results and needs)"),
    "matching": _l("Matches and feedback"),
    "deals": _l("Introductions and deals"),
    "contracts": _l("Contracts"),
    "fairs": _l("Fairs"),
    "stats": _l("Statistics"),
    "account": _l("Account, notifications and organizations"),
}
# "read" and "write" alone: every area (tokens made before the areas, and the page's "every area" row).
SCOPES = (*LEVELS, *(f"{area}:{level}" for area in AREAS for level in LEVELS))
DEFAULT_DAYS = 365
MAX_TOKENS = 20


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(user: User, name: str, scopes: list[str], days: int = DEFAULT_DAYS, *,
           organization: Organization | None = None, actor: User | None = None) -> tuple[ApiToken, str]:
    """A new token for `user` (for an organization token: the organization's service account, made by
    `actor`); returns it and its secret, which is never stored or shown again."""
    actor = actor or user
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [_("Name the token (up to 100 characters), e.g. the program that will use it.")]
    scopes = [s for s in SCOPES if s in (scopes or [])]
    if not scopes:
        errors["scopes"] = [_("Choose what the token may do: read or change data, in every area or in some.")]
    if not 1 <= int(days) <= 3 * 365:
        errors["days"] = [_("A token lasts from 1 day to 3 years.")]
    if len(list_for(user)) >= MAX_TOKENS:
        errors["name"] = [_("You have %(n)s active tokens already; revoke one first.", n=MAX_TOKENS)]
    if errors:
        raise ValidationFailed(errors)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(secret), prefix=secret[:10], scopes=scopes,
                     expires_at=utcnow() + timedelta(days=int(days)), created_by_id=actor.id,
                     organization_id=organization.id if organization is not None else None)
    Session.add(token)
    Session.flush()
    audit.record(actor.id, "api_token.create", token, {"name": [None, name], "scopes": [None, scopes],
                                                       "organization_id": [None, token.organization_id]})
    Session.commit()
    return token, secret


def allows(token: ApiToken, area: str, level: str) -> bool:
    """Whether the token may `level` ("read" or "write") in `area`."""
    scopes = token.scopes or []
    return level in scopes or f"{area}:{level}" in scopes


def describe(scopes: list[str]) -> list[str]:
    """The scopes as the token page lists them."""
    shown = [_("read everything") if "read" in scopes else None, _("change everything") if "write" in scopes else None]
    for area in AREAS:
        levels = [level for level in LEVELS if f"{area}:{level}" in scopes and level not in scopes]
        if levels:
            shown.append(f"{AREA_LABELS[area]}: " + "/".join(_("read") if lv == "read" else _("change data")
                                                             for lv in levels))
    return [text for text in shown if text]


def list_for(user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(Session.scalars(sa.select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        .order_by(ApiToken.id.desc())))


# --- organization tokens -------------------------------------------------------------------------

# The role an organization token acts with: that of the organization's ordinary members. Bureaus and
# agencies act through their staff's and brokers' personal tokens (their rights are personal).
ORG_TOKEN_ROLES = {OrgKind.UNIVERSITY: Role.RESEARCHER, OrgKind.INSTITUTE: Role.RESEARCHER,
                   OrgKind.ENTERPRISE: Role.ENTERPRISE}
SERVICE = "service"  # User.org_role of the account an organization's tokens act as


def is_org_admin(user: Any, organization_id: int | None) -> bool:
    """Staff, or an admin of that organization (User.org_role), may manage its tokens."""
    if not permissions.signed_in(user) or organization_id is None:
        return False
    return permissions.is_staff(user) or (user.organization_id == organization_id and user.org_role == "admin")


def service_account(organization: Organization) -> User:
    """The account an organization's tokens act as: a member of the organization with the role of its
    ordinary members, that cannot log in (no usable password) and gets no mail (a .invalid address)."""
    email = f"api-org-{organization.id}@service.invalid"
    user = Session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=f"{organization.name} · API"[:100], role=ORG_TOKEN_ROLES[organization.kind],
                    organization_id=organization.id, password_hash="!", org_role=SERVICE, match_notices="off")
        Session.add(user)
        Session.flush()
    return user


def create_for_organization(actor: User, organization_id: Any, name: str, scopes: list[str],
                            days: int = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """A token that acts as the organization (its ordinary members' rights, not the creator's), made by
    one of its admins or by staff; it keeps working when its creator leaves."""
    organization = Session.get(Organization, organization_id) if isinstance(organization_id, int) else None
    if organization is None and permissions.is_staff(actor):
        raise ValidationFailed({"organization_id": [_("Choose the organization.")]})
    if organization is None or not is_org_admin(actor, organization.id):
        raise NotAllowed(_("Only the organization's admins and bureau staff create organization tokens."))
    if organization.kind not in ORG_TOKEN_ROLES:
        raise ValidationFailed({"organization_id": [_("Bureaus and agencies use their people's personal tokens.")]})
    return create(service_account(organization), name, scopes, days, organization=organization, actor=actor)


def list_for_organization(organization_id: int) -> list[ApiToken]:
    return list(Session.scalars(sa.select(ApiToken).where(
        ApiToken.organization_id == organization_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
        .order_by(ApiToken.id.desc())))


def list_all() -> list[ApiToken]:
    return list(Session.scalars(sa.select(ApiToken).where(ApiToken.revoked_at.is_(None))
                                .order_by(ApiToken.id.desc())))


def revoke(actor: User, token_id: int) -> ApiToken:
    """Revoke one of the actor's tokens (staff: anyone's); effective on the next request."""
    token = Session.get(ApiToken, token_id) if isinstance(token_id, int) else None
    if token is None or not (token.user_id == actor.id or permissions.is_staff(actor)
                             or is_org_admin(actor, token.organization_id)):
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(actor.id, "api_token.revoke", token, {"name": [token.name, None]})
        Session.commit()
    return token


def authenticate(header: str | None, ip: str | None) -> tuple[User, ApiToken] | None:
    """The user and token named by an "Authorization: Bearer <token>" header, or None when it names no
    working token (unknown, revoked, expired, or its user deactivated)."""
    scheme, _sep, secret = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = Session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash(secret.strip())))
    now = utcnow()
    if token is None or token.revoked_at is not None or aware(token.expires_at) <= now:
        return None
    user = Session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.organization_id is not None and user.organization_id != token.organization_id:
        return None  # an organization token acts only within its organization
    token.last_used_at, token.last_used_ip = now, (ip or "")[:45] or None
    Session.commit()
    return user, token
