"""Research results (科技成果) and technical needs (技术需求): the two kinds of listing."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, Money, TimestampMixin
from models.org import Organization, User


class ListingStatus(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"        # submitted, waiting for staff review
    REJECTED = "rejected"      # back to the owner with a reason
    PUBLISHED = "published"
    CLOSED = "closed"          # with close_reason: transferred, withdrawn, other
    EXPIRED = "expired"        # validity window passed; the owner may renew


class CloseReason(StrEnum):
    TRANSFERRED = "transferred"
    WITHDRAWN = "withdrawn"
    OTHER = "other"


class ListingMixin(TimestampMixin):
    """Fields both kinds share: text, classification, lifecycle, confidentiality, contact."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    # The teaser is always public; description and contact are confidential when `confidential`.
    summary: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    keywords: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    industry_section: so.Mapped[str | None] = so.mapped_column(sa.String(1), index=True)
    industry_division: so.Mapped[str | None] = so.mapped_column(sa.String(2), index=True)
    tech_field: so.Mapped[str | None] = so.mapped_column(sa.String(40), index=True)
    transfer_modes: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    region: so.Mapped[str | None] = so.mapped_column(sa.String(6), index=True)
    language: so.Mapped[str] = so.mapped_column(sa.String(5), default="zh")

    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=ListingStatus.DRAFT, index=True)
    review_note: so.Mapped[str | None] = so.mapped_column(sa.Text)  # staff's reason on rejection
    close_reason: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    submitted_at: so.Mapped[datetime | None]
    published_at: so.Mapped[datetime | None]
    closed_at: so.Mapped[datetime | None]
    valid_until: so.Mapped[date | None] = so.mapped_column(index=True)
    expiry_reminded_at: so.Mapped[datetime | None]

    confidential: so.Mapped[bool] = so.mapped_column(default=False)
    contact_name: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    contact_phone: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    contact_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))

    # Where the listing came from when imported (e.g. "zhibei:ach-1-0"); unique per kind.
    external_ref: so.Mapped[str | None] = so.mapped_column(sa.String(100), unique=True)

    # Space-delimited word tokens (jieba) of the text outsiders may search, kept current by
    # matchmaker.listings.search on every flush; keyword search matches whole tokens in it.
    search_text: so.Mapped[str | None] = so.mapped_column(sa.Text, deferred=True)

    @so.declared_attr
    def organization_id(cls) -> so.Mapped[int]:
        return so.mapped_column(sa.ForeignKey("organizations.id"), index=True)

    @so.declared_attr
    def owner_id(cls) -> so.Mapped[int | None]:
        return so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)

    @so.declared_attr
    def organization(cls) -> so.Mapped[Organization]:
        return so.relationship(Organization)

    @so.declared_attr
    def owner(cls) -> so.Mapped[User | None]:
        return so.relationship(User)

    @property
    def is_public(self) -> bool:
        return self.status == ListingStatus.PUBLISHED

    def text_for_matching(self) -> str:
        """The text that is embedded and indexed: title, keywords, summary and description."""
        parts = [self.title, " ".join(self.keywords or []), self.summary, self.description]
        return "\n".join(p.strip() for p in parts if p and p.strip())


class ResearchResult(ListingMixin, Base):
    __tablename__ = "research_results"
    kind = "result"

    maturity: so.Mapped[str | None] = so.mapped_column(sa.String(20), index=True)
    trl: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    ip_status: so.Mapped[str | None] = so.mapped_column(sa.String(30), index=True)
    patent_numbers: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    price_fen: so.Mapped[int | None] = so.mapped_column(Money)  # None means 面议 (negotiable)
    inventors: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    application_areas: so.Mapped[str | None] = so.mapped_column(sa.Text)

    __table_args__ = (
        sa.CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_nonnegative"),
        sa.CheckConstraint("trl IS NULL OR (trl BETWEEN 1 AND 9)", name="trl_range"),
    )

    @property
    def negotiable(self) -> bool:
        return self.price_fen is None


class TechNeed(ListingMixin, Base):
    __tablename__ = "tech_needs"
    kind = "need"

    budget_min_fen: so.Mapped[int | None] = so.mapped_column(Money)
    budget_max_fen: so.Mapped[int | None] = so.mapped_column(Money)
    # What the enterprise needs: the lowest maturity it can use.
    min_maturity: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    min_trl: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    deadline: so.Mapped[date | None]

    __table_args__ = (
        sa.CheckConstraint("budget_min_fen IS NULL OR budget_min_fen >= 0", name="budget_min_nonnegative"),
        sa.CheckConstraint(
            "budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
            name="budget_order",
        ),
        sa.CheckConstraint("min_trl IS NULL OR (min_trl BETWEEN 1 AND 9)", name="min_trl_range"),
    )


LISTING_MODELS: dict[str, type[ResearchResult] | type[TechNeed]] = {
    "result": ResearchResult,
    "need": TechNeed,
}


def listing_model(kind: str) -> Any:
    try:
        return LISTING_MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown listing kind {kind!r}") from None
