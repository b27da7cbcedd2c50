"""Joining an existing organization: a request that the organization's members or bureau staff decide.

Until it is approved the account belongs to no organization, so it sees and does nothing on the
organization's behalf (no confidential details, drafts, introductions, deals or contracts).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from matchmaker.core import audit, notifications, permissions
from matchmaker.core.errors import NotAllowed, NotFound
from models import Organization, Role, Session, User

STAFF_ROLES = (Role.STAFF, Role.ADMIN)


def request_membership(user: User, organization: Organization) -> None:
    """Record the request (in the caller's transaction) and tell the people who may decide it."""
    user.pending_organization_id = organization.id
    user.organization_id = None
    Session.flush()
    audit.record(user.id, "membership.request", user, {"organization_id": organization.id})
    notifications.notify(_deciders(organization.id), "membership.requested",
                         {"name": user.name, "email": user.email, "organization": organization.name},
                         link="/account/requests", dedupe=f"membership:{user.id}:{organization.id}")


def _deciders(organization_id: int) -> list[int]:
    members = sa.select(User.id).where(User.organization_id == organization_id, User.active.is_(True))
    staff = sa.select(User.id).where(User.role.in_(STAFF_ROLES), User.active.is_(True))
    return sorted(set(Session.scalars(members)) | set(Session.scalars(staff)))


def can_decide(actor: Any, user: User) -> bool:
    if user.pending_organization_id is None or not permissions.signed_in(actor):
        return False
    return permissions.is_staff(actor) or actor.organization_id == user.pending_organization_id


def pending_for(actor: Any) -> list[User]:
    """The requests `actor` may decide: all for staff, those to the actor's own organization otherwise."""
    if not permissions.signed_in(actor):
        return []
    stmt = sa.select(User).where(User.pending_organization_id.is_not(None), User.active.is_(True))
    if not permissions.is_staff(actor):
        if actor.organization_id is None:
            return []
        stmt = stmt.where(User.pending_organization_id == actor.organization_id)
    return list(Session.scalars(stmt.order_by(User.created_at, User.id)))


def _pending(actor: Any, user_id: int) -> User:
    user = Session.get(User, user_id)
    if user is None or user.pending_organization_id is None:
        raise NotFound(_("No such membership request."))
    if not can_decide(actor, user):
        raise NotAllowed(_("Only members of that organization or bureau staff decide this request."))
    return user


def approve(actor: Any, user_id: int) -> User:
    user = _pending(actor, user_id)
    organization = Session.get(Organization, user.pending_organization_id)
    user.organization_id, user.pending_organization_id = user.pending_organization_id, None
    audit.record(actor.id, "membership.approve", user, {"organization_id": user.organization_id})
    notifications.notify([user.id], "membership.approved", {"organization": organization.name if organization else ""},
                         link="/account/profile")
    Session.commit()
    return user


def reject(actor: Any, user_id: int) -> User:
    user = _pending(actor, user_id)
    organization = Session.get(Organization, user.pending_organization_id)
    audit.record(actor.id, "membership.reject", user, {"organization_id": user.pending_organization_id})
    user.pending_organization_id = None
    notifications.notify([user.id], "membership.rejected", {"organization": organization.name if organization else ""},
                         link="/account/profile")
    Session.commit()
    return user
