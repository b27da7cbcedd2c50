"""Organizations: creation at registration (unverified), lookup, and verification by bureau staff.

Verification is a trust badge, not a gate: members of an unverified organization can draft and
submit listings, and staff see an "unverified" badge when they review them.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from matchmaker.core import audit
from matchmaker.core.errors import NotFound, ValidationFailed
from matchmaker.core.permissions import require
from matchmaker.reference import LEGAL_ENTITY_TYPES, ORG_KINDS, REGIONS
from models import Organization, OrgKind, Session, User, utcnow

# Bureaus are set up by the platform's operators, not created by people registering.
SELF_SERVICE_KINDS = tuple(code for code in ORG_KINDS.codes if code != OrgKind.BUREAU)


@dataclass
class NewOrganization:
    name: str
    kind: str
    entity_type: str | None = None
    region: str | None = None


def get(org_id: int | None) -> Organization | None:
    return Session.get(Organization, org_id) if org_id is not None else None


def find_by_name(name: str) -> Organization | None:
    """Match the Chinese or English name exactly (ignoring surrounding spaces and case for English)."""
    cleaned = (name or "").strip()
    if not cleaned:
        return None
    return Session.scalar(sa.select(Organization).where(
        sa.or_(Organization.name == cleaned, sa.func.lower(Organization.name_en) == cleaned.lower())))


def choices() -> list[tuple[int, str]]:
    """(id, name) of every organization, for select boxes."""
    rows = Session.execute(sa.select(Organization.id, Organization.name).order_by(Organization.name))
    return [(row.id, row.name) for row in rows]


def check_new(data: NewOrganization) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = (data.name or "").strip()
    if not name:
        errors["org_name"] = [_("Enter the organization's name.")]
    elif find_by_name(name) is not None:
        errors["org_name"] = [_("This organization is already registered: choose it from the list.")]
    if data.kind not in SELF_SERVICE_KINDS:
        errors["org_kind"] = [_("Choose one of the organization types offered.")]
    if data.entity_type and data.entity_type not in LEGAL_ENTITY_TYPES:
        errors["org_entity_type"] = [_("Choose one of the legal-entity types offered.")]
    if data.region and data.region not in REGIONS:
        errors["org_region"] = [_("Choose one of the regions offered.")]
    return errors


def create(data: NewOrganization, actor_id: int | None) -> Organization:
    """Add an unverified organization to the caller's transaction (the caller commits)."""
    if errors := check_new(data):
        raise ValidationFailed(errors)
    org = Organization(name=data.name.strip(), kind=data.kind, entity_type=data.entity_type or None,
                       region=data.region or None, verified=False)
    Session.add(org)
    audit.record(actor_id, "org.create", org, {"name": org.name, "kind": org.kind})
    return org


def list_organizations(unverified_only: bool = False) -> list[Organization]:
    stmt = sa.select(Organization).order_by(Organization.verified, Organization.created_at.desc())
    if unverified_only:
        stmt = stmt.where(Organization.verified.is_(False))
    return list(Session.scalars(stmt))


def directory(query: str = "", kind: str | None = None, offset: int = 0, limit: int = 50) -> list[Organization]:
    """Organizations by name (the names the sign-up form lists anyway), optionally of one kind or with
    `query` in the Chinese or English name; callers show public fields only."""
    stmt = sa.select(Organization).order_by(Organization.name, Organization.id)
    if query.strip():
        stmt = stmt.where(sa.or_(Organization.name.contains(query.strip(), autoescape=True),
                                 Organization.name_en.icontains(query.strip(), autoescape=True)))
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    return list(Session.scalars(stmt.offset(offset).limit(limit)))


def member_counts() -> dict[int, int]:
    rows = Session.execute(sa.select(User.organization_id, sa.func.count()).group_by(User.organization_id))
    return {org_id: n for org_id, n in rows if org_id is not None}


def set_verified(actor: User, org_id: int, verified: bool) -> Organization:
    require(actor, "org.verify", _("Only bureau staff can verify organizations."))
    org = get(org_id)
    if org is None:
        raise NotFound(_("No such organization."))
    changes = audit.apply(org, {"verified": verified, "verified_at": utcnow() if verified else None})
    if changes:
        audit.record(actor.id, "org.verify" if verified else "org.unverify", org, changes)
    Session.commit()
    return org
