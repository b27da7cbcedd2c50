"""Organizations (universities, institutes, enterprises, bureaus, agencies) and their users."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, TimestampMixin


class OrgKind(StrEnum):
    UNIVERSITY = "university"
    INSTITUTE = "institute"
    ENTERPRISE = "enterprise"
    BUREAU = "bureau"
    AGENCY = "agency"


class Role(StrEnum):
    RESEARCHER = "researcher"
    ENTERPRISE = "enterprise"
    BROKER = "broker"
    STAFF = "staff"
    ADMIN = "admin"


class Organization(TimestampMixin, Base):
    __tablename__ = "organizations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    name_en: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), index=True)
    # JJ-001 legal-entity type code (e.g. 022 高等院校), see matchmaker.reference.LEGAL_ENTITY_TYPES.
    entity_type: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    region: so.Mapped[str | None] = so.mapped_column(sa.String(6), index=True)  # GB/T 2260
    credit_code: so.Mapped[str | None] = so.mapped_column(sa.String(18))  # 统一社会信用代码
    website: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    verified: so.Mapped[bool] = so.mapped_column(default=False)
    verified_at: so.Mapped[datetime | None]  # who verified is in the audit log

    users: so.Mapped[list[User]] = so.relationship(back_populates="organization",
                                                  foreign_keys="User.organization_id")

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name}>"


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(200))
    role: so.Mapped[str] = so.mapped_column(sa.String(20), index=True)
    organization_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # Joining an existing organization is a request: until a member of it or staff approve, the
    # account belongs to no organization and has no rights in this one.
    pending_organization_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # Within the organization: "member", or "admin" (manages the organization's API tokens). Service
    # accounts that organization tokens act as are "service": they never log in.
    org_role: so.Mapped[str] = so.mapped_column(sa.String(10), default="member", server_default="member")
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(5))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    last_login_at: so.Mapped[datetime | None]
    # Part of every session and remember-me cookie; raising it ends them all (logout, password
    # reset, "sign out everywhere").
    session_version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # New strong matches for the user's listings: "instant", "daily" (one digest a day), "weekly" or
    # "off" (no bell entries, no mail); see core.notifications.MATCH_NOTICES.
    match_notices: so.Mapped[str] = so.mapped_column(sa.String(10), default="daily", server_default="daily")
    # New messages in an introduction's conversation: "bell" (a notification each time), "mail" (and
    # an email), "off"; see deals.conversation.MESSAGE_NOTICES.
    message_notices: so.Mapped[str] = so.mapped_column(sa.String(10), default="bell", server_default="bell")
    digest_sent_at: so.Mapped[datetime | None]

    organization: so.Mapped[Organization | None] = so.relationship(
        back_populates="users", foreign_keys=[organization_id])
    pending_organization: so.Mapped[Organization | None] = so.relationship(foreign_keys=[pending_organization_id])

    # Flask-Login protocol, kept here so web and workers share one User class.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id) if not self.session_version else f"{self.id}.{self.session_version}"

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
