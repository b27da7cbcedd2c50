"""Who may do what: one table of rules every view and service asks, so tests can walk it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from matchmaker.core.errors import NotAllowed
from models import MAX_ID, ListingStatus, Role, Session

ALL_ROLES = tuple(Role)
STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})

# Role-only actions: the role alone decides.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "result.create": frozenset({Role.RESEARCHER, Role.STAFF, Role.ADMIN}),
    "need.create": frozenset({Role.ENTERPRISE, Role.STAFF, Role.ADMIN}),
    "listing.review": STAFF_ROLES,
    "listing.export": frozenset(ALL_ROLES),
    "org.verify": STAFF_ROLES,
    "import.run": STAFF_ROLES,
    "user.manage": frozenset({Role.ADMIN}),
    "match.feedback": frozenset({Role.BROKER, Role.STAFF, Role.ADMIN}),
    "match.export_feedback": STAFF_ROLES,
    "match.models": STAFF_ROLES,  # calibration versions: refit now, roll back
    "index.rebuild": STAFF_ROLES,
    "introduction.request": frozenset({Role.RESEARCHER, Role.ENTERPRISE, Role.BROKER, Role.STAFF, Role.ADMIN}),
    "deal.manage": frozenset({Role.BROKER, Role.STAFF, Role.ADMIN}),
    "contract.manage": STAFF_ROLES,
    "stats.view": STAFF_ROLES,
    "fair.manage": STAFF_ROLES,
    "fair.register": frozenset({Role.RESEARCHER, Role.ENTERPRISE, Role.BROKER, Role.STAFF, Role.ADMIN}),
}

# The role that may own each kind of listing (besides staff).
OWNER_ROLE = {"result": Role.RESEARCHER, "need": Role.ENTERPRISE}

_DETAIL_CHECKS = "matchmaker.detail_access_checks"


def add_detail_access_check(app: Flask, check: Callable[[Any, Any], bool]) -> None:
    """Another way to see a confidential listing's details (an accepted introduction, say); a
    feature's init_app adds it, so this module imports no feature."""
    checks = app.extensions.setdefault(_DETAIL_CHECKS, [])
    if check not in checks:
        checks.append(check)


def detail_access_checks(app: Flask | None = None) -> list[Callable[[Any, Any], bool]]:
    return list((app or current_app).extensions.get(_DETAIL_CHECKS, ()))


# What anyone, signed in or not, may open: a closed listing stays readable as a teaser.
PUBLIC_STATUSES = (ListingStatus.PUBLISHED, ListingStatus.CLOSED)


def signed_in(user: Any) -> bool:
    """An authenticated, active account; a deactivated one counts as anonymous everywhere."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def is_staff(user: Any) -> bool:
    return signed_in(user) and user.role in STAFF_ROLES


def can(user: Any, action: str, obj: Any = None) -> bool:
    if not signed_in(user):
        return action == "listing.view" and obj is not None and obj.status in PUBLIC_STATUSES
    if action in ROLE_ACTIONS:
        return user.role in ROLE_ACTIONS[action]
    if action == "listing.view":
        return can_view_listing(user, obj)
    if action in ("listing.edit", "listing.submit", "listing.close", "listing.renew", "listing.delete"):
        return is_staff(user) or owns(user, obj)
    raise KeyError(f"unknown action {action!r}")


def require(user: Any, action: str, message: str, obj: Any = None) -> None:
    """Raise NotAllowed(message) unless `can(user, action, obj)`; callers pass `_("...")` so babel finds it."""
    if not can(user, action, obj):
        raise NotAllowed(message)


def owns(user: Any, listing: Any) -> bool:
    """Members of the owning organization in the owning role manage the listing."""
    if not signed_in(user) or listing is None:
        return False
    return (
        user.organization_id is not None
        and user.organization_id == listing.organization_id
        and user.role == OWNER_ROLE.get(listing.kind)
    )


def same_org(user: Any, listing: Any) -> bool:
    return bool(signed_in(user) and user.organization_id and user.organization_id == listing.organization_id)


def can_view_listing(user: Any, listing: Any) -> bool:
    """Published listings are public (as a teaser when confidential); others only to owner org and staff."""
    if listing.status in PUBLIC_STATUSES:
        return True
    return is_staff(user) or same_org(user, listing)


def usable_listing(user: Any, model: Any, listing_id: Any) -> Any:
    """The listing a form names by id, if it exists and the user may see it; None otherwise.

    Every form that takes a listing id goes through this, so a typed number never reveals or links
    a draft or another organization's unpublished listing.
    """
    if not isinstance(listing_id, int) or not 0 < listing_id <= MAX_ID:
        return None
    listing = Session.get(model, listing_id)
    return listing if listing is not None and can(user, "listing.view", listing) else None


def can_view_details(user: Any, listing: Any) -> bool:
    """Description and contact: everyone for open listings; for confidential ones only the owner's
    organization, staff, and counterparts whose introduction the owner accepted."""
    if not listing.confidential:
        return can_view_listing(user, listing)
    if is_staff(user) or same_org(user, listing):
        return True
    if not signed_in(user):
        return False
    return any(check(user, listing) for check in detail_access_checks())
