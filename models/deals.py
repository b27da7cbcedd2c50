"""From match to money: introductions between parties, the broker's deal pipeline with its stage
history and notes, and registered technology contracts (技术合同, JJ-001 fields)."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import orm as so

import models.fairs  # noqa: F401  (deals and contracts point at fairs and fair_meetings)
from models.base import Base, Money, TimestampMixin, utcnow
from models.listing import ResearchResult, TechNeed
from models.org import Organization, User


class IntroductionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"        # unanswered for INTRODUCTION_EXPIRY_DAYS
    WITHDRAWN = "withdrawn"    # cancelled by the requester


class DeclineReason(StrEnum):
    """Why an owner declined an introduction: Inpart's feedback categories for an enterprise turning
    down a technology, the research side's own reasons for turning down an enterprise, and other."""

    TOO_EARLY = "too_early"
    BENEFIT_UNCLEAR = "benefit_unclear"
    ROUTE_TO_MARKET_UNCLEAR = "route_to_market_unclear"
    DESCRIPTION_UNCLEAR = "description_unclear"
    NOT_A_FIT = "not_a_fit"            # research side: the result does not answer this need
    NOT_AVAILABLE = "not_available"    # research side: licensed or committed elsewhere
    NO_CAPACITY = "no_capacity"        # research side: cannot take on the work now
    OTHER = "other"


class DealOrigin(StrEnum):
    MATCH = "match"        # a match suggestion
    SEARCH = "search"      # found by searching / browsing
    FAIR = "fair"          # a meeting at a matchmaking fair
    OFFLINE = "offline"    # the broker's own contacts


class DealStage(StrEnum):
    INTRODUCED = "introduced"
    MEETING_HELD = "meeting_held"
    NEGOTIATING = "negotiating"
    INTENTION_SIGNED = "intention_signed"   # 意向
    CONTRACT_SIGNED = "contract_signed"
    REGISTERED = "registered"
    LOST = "lost"


# Pipeline order; LOST sits outside it.
DEAL_STAGE_ORDER: tuple[str, ...] = (
    DealStage.INTRODUCED, DealStage.MEETING_HELD, DealStage.NEGOTIATING, DealStage.INTENTION_SIGNED,
    DealStage.CONTRACT_SIGNED, DealStage.REGISTERED,
)


class LostReason(StrEnum):
    PRICE = "price"
    TECHNOLOGY_FIT = "technology_fit"
    TIMING = "timing"
    COMPETITOR = "competitor"
    NO_RESPONSE = "no_response"
    OTHER = "other"


class OneListing:
    """For rows where exactly one of result_id / need_id names the listing concerned."""

    if TYPE_CHECKING:  # declared by each model; declarative must not see them on the mixin
        result_id: int | None
        result: ResearchResult | None
        need: TechNeed | None

    @property
    def listing(self) -> ResearchResult | TechNeed:
        return self.result if self.result_id is not None else self.need  # type: ignore[return-value]

    @property
    def kind(self) -> str:
        return "result" if self.result_id is not None else "need"


class Introduction(OneListing, TimestampMixin, Base):
    """A request that the owner of one listing meet a counterpart organization.

    Exactly one of result_id / need_id names the listing whose owner answers. Accepting releases
    that listing's confidential details to counterpart_org_id alone.
    """

    __tablename__ = "introductions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    result_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="CASCADE"), index=True)
    need_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("tech_needs.id", ondelete="CASCADE"), index=True)
    owner_org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    counterpart_org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    # The counterpart's own listing of the other kind, when the request came from a match.
    counterpart_result_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="SET NULL"))
    counterpart_need_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("tech_needs.id", ondelete="SET NULL"))
    origin: so.Mapped[str] = so.mapped_column(sa.String(20), default=DealOrigin.SEARCH)
    requested_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    broker_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    message: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=IntroductionStatus.PENDING, index=True)
    decline_reason: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    decline_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    answered_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: so.Mapped[datetime | None]
    reminded_at: so.Mapped[datetime | None]

    result: so.Mapped[ResearchResult | None] = so.relationship(foreign_keys=[result_id])
    need: so.Mapped[TechNeed | None] = so.relationship(foreign_keys=[need_id])
    counterpart_result: so.Mapped[ResearchResult | None] = so.relationship(foreign_keys=[counterpart_result_id])
    counterpart_need: so.Mapped[TechNeed | None] = so.relationship(foreign_keys=[counterpart_need_id])
    owner_org: so.Mapped[Organization] = so.relationship(foreign_keys=[owner_org_id])
    counterpart_org: so.Mapped[Organization] = so.relationship(foreign_keys=[counterpart_org_id])
    requested_by: so.Mapped[User | None] = so.relationship(foreign_keys=[requested_by_id])
    broker: so.Mapped[User | None] = so.relationship(foreign_keys=[broker_id])

    __table_args__ = (
        sa.CheckConstraint("(result_id IS NULL) <> (need_id IS NULL)", name="one_listing"),
        sa.Index("ix_introductions_created_at", "created_at"),
    )


class MessageKind(StrEnum):
    """What a line of an introduction's conversation is: words (maybe with a file), or a next step."""

    TEXT = "text"
    MEETING = "meeting"        # a proposed meeting, with its date and time
    INTENTION = "intention"    # a party marked the intention signed (the deal moved to INTENTION_SIGNED)
    HANDOVER = "handover"      # a party handed the deal to the broker


class IntroductionMessage(Base):
    """One line of the conversation an accepted introduction opens between the two parties and the
    broker of its deal."""

    __tablename__ = "introduction_messages"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    introduction_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("introductions.id", ondelete="CASCADE"), index=True)
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), default=MessageKind.TEXT)
    body: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    meeting_at: so.Mapped[datetime | None]
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    introduction: so.Mapped[Introduction] = so.relationship()
    author: so.Mapped[User | None] = so.relationship()
    attachments: so.Mapped[list[IntroductionAttachment]] = so.relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="IntroductionAttachment.id")


class IntroductionAttachment(Base):
    """A file sent in the conversation; the bytes live under ATTACHMENT_DIR as `stored_name`."""

    __tablename__ = "introduction_attachments"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("introduction_messages.id", ondelete="CASCADE"), index=True)
    introduction_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("introductions.id", ondelete="CASCADE"), index=True)
    uploaded_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))  # as the uploader named it
    file_type: so.Mapped[str] = so.mapped_column(sa.String(10))  # pdf, docx, ... as its content says
    size: so.Mapped[int]
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    stored_name: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    message: so.Mapped[IntroductionMessage] = so.relationship(back_populates="attachments")
    uploaded_by: so.Mapped[User | None] = so.relationship()


class HelpRequestStatus(StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    CLOSED = "closed"


class HelpRequest(OneListing, TimestampMixin, Base):
    """An owner asking the brokers to find a counterpart for a listing the matching cannot serve yet.

    Exactly one of result_id / need_id names the listing; a listing has at most one open request.
    """

    __tablename__ = "help_requests"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    result_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="CASCADE"), index=True)
    need_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("tech_needs.id", ondelete="CASCADE"), index=True)
    organization_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    requested_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    message: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=HelpRequestStatus.OPEN, index=True)
    broker_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    taken_at: so.Mapped[datetime | None]

    result: so.Mapped[ResearchResult | None] = so.relationship(foreign_keys=[result_id])
    need: so.Mapped[TechNeed | None] = so.relationship(foreign_keys=[need_id])
    organization: so.Mapped[Organization] = so.relationship(foreign_keys=[organization_id])
    requested_by: so.Mapped[User | None] = so.relationship(foreign_keys=[requested_by_id])
    broker: so.Mapped[User | None] = so.relationship(foreign_keys=[broker_id])

    __table_args__ = (sa.CheckConstraint("(result_id IS NULL) <> (need_id IS NULL)", name="one_listing"),)


class Deal(TimestampMixin, Base):
    """One prospective transaction a broker follows from introduction to registered contract."""

    __tablename__ = "deals"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    result_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("research_results.id"), index=True)
    need_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="SET NULL"))
    seller_org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    buyer_org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    broker_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    origin: so.Mapped[str] = so.mapped_column(sa.String(20), index=True)
    introduction_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("introductions.id", ondelete="SET NULL"), unique=True)
    fair_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="SET NULL"), index=True)
    # One deal per fair meeting: open_deal is idempotent on it.
    fair_meeting_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("fair_meetings.id", ondelete="SET NULL"), unique=True)
    stage: so.Mapped[str] = so.mapped_column(sa.String(20), default=DealStage.INTRODUCED, index=True)
    stage_changed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    lost_reason: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    lost_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    next_action: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    next_action_date: so.Mapped[date | None] = so.mapped_column(index=True)
    next_action_reminded_at: so.Mapped[datetime | None]
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    result: so.Mapped[ResearchResult] = so.relationship(foreign_keys=[result_id])
    need: so.Mapped[TechNeed | None] = so.relationship(foreign_keys=[need_id])
    seller_org: so.Mapped[Organization] = so.relationship(foreign_keys=[seller_org_id])
    buyer_org: so.Mapped[Organization] = so.relationship(foreign_keys=[buyer_org_id])
    broker: so.Mapped[User | None] = so.relationship(foreign_keys=[broker_id])
    introduction: so.Mapped[Introduction | None] = so.relationship(foreign_keys=[introduction_id])
    stage_changes: so.Mapped[list[DealStageChange]] = so.relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealStageChange.id")
    notes: so.Mapped[list[DealNote]] = so.relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealNote.id.desc()")

    @property
    def title(self) -> str:
        return self.result.title if self.result is not None else f"#{self.id}"


class DealStageChange(Base):
    __tablename__ = "deal_stage_changes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    deal_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    from_stage: so.Mapped[str | None] = so.mapped_column(sa.String(20))  # None: the deal was opened
    to_stage: so.Mapped[str] = so.mapped_column(sa.String(20))
    at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)

    deal: so.Mapped[Deal] = so.relationship(back_populates="stage_changes")
    actor: so.Mapped[User | None] = so.relationship()

    # The funnel counts deals reaching each stage in a period.
    __table_args__ = (sa.Index("ix_deal_stage_changes_to_stage_at", "to_stage", "at"),)


class DealNote(Base):
    __tablename__ = "deal_notes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    deal_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    author_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    deal: so.Mapped[Deal] = so.relationship(back_populates="notes")
    author: so.Mapped[User | None] = so.relationship()


class Contract(TimestampMixin, Base):
    """A technology contract as the registration form (技术合同登记表, JJ-001) records it."""

    __tablename__ = "contracts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Optimistic lock: an UPDATE that finds another version raises StaleDataError.
    version: so.Mapped[int] = so.mapped_column(default=1)
    contract_type: so.Mapped[str] = so.mapped_column(sa.String(20))
    contract_subtype: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    project_name: so.Mapped[str] = so.mapped_column(sa.String(300))
    registration_number: so.Mapped[str | None] = so.mapped_column(sa.String(18), unique=True)
    signing_date: so.Mapped[date]
    valid_from: so.Mapped[date | None]
    valid_until: so.Mapped[date | None]
    amount_fen: so.Mapped[int] = so.mapped_column(Money)          # 合同成交额
    tech_amount_fen: so.Mapped[int] = so.mapped_column(Money)     # 技术交易额
    payment_mode: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    ip_type: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    tech_field: so.Mapped[str | None] = so.mapped_column(sa.String(40))

    # Parties: an organization on the platform when there is one; name, type and region always,
    # because imported historical contracts name parties that never joined.
    seller_org_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    seller_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    seller_entity_type: so.Mapped[str] = so.mapped_column(sa.String(3))
    seller_region: so.Mapped[str] = so.mapped_column(sa.String(6))
    # reference.party_type(seller_entity_type), kept so statistics group by a column.
    seller_party_type: so.Mapped[str] = so.mapped_column(sa.String(20))
    buyer_org_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    buyer_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    buyer_entity_type: so.Mapped[str] = so.mapped_column(sa.String(3))
    buyer_region: so.Mapped[str] = so.mapped_column(sa.String(6))

    deal_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    result_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="SET NULL"), index=True)
    need_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="SET NULL"))
    fair_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="SET NULL"), index=True)
    source: so.Mapped[str] = so.mapped_column(sa.String(20), default="form")  # form | import | demo
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    seller_org: so.Mapped[Organization | None] = so.relationship(foreign_keys=[seller_org_id])
    buyer_org: so.Mapped[Organization | None] = so.relationship(foreign_keys=[buyer_org_id])
    deal: so.Mapped[Deal | None] = so.relationship(foreign_keys=[deal_id])
    result: so.Mapped[ResearchResult | None] = so.relationship(foreign_keys=[result_id])
    need: so.Mapped[TechNeed | None] = so.relationship(foreign_keys=[need_id])
    updated_by: so.Mapped[User | None] = so.relationship(foreign_keys=[updated_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
        sa.CheckConstraint("tech_amount_fen >= 0 AND tech_amount_fen <= amount_fen", name="tech_amount_range"),
        sa.CheckConstraint("valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until",
                           name="validity_order"),
        # The contract list filters by year and type and sorts by signing date; statistics read
        # ContractMonthStat instead.
        sa.Index("ix_contracts_signing", "signing_date"),
        sa.Index("ix_contracts_type_signing", "contract_type", "signing_date"),
    )


class ContractMonthStat(Base):
    """Contracts signed in one month, counted and summed under one key of one breakdown.

    The contracts service adjusts these rows in the same transaction as every contract it writes,
    so the statistics read a few thousand sums instead of every contract; `flask
    rebuild-contract-stats` recounts them after contracts were written around the service (COPY).
    """

    __tablename__ = "contract_month_stats"

    # 0 sums every contract; a fair's id sums only that fair's contracts (the dashboard's fair filter).
    fair_key: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    month: so.Mapped[date] = so.mapped_column(primary_key=True)  # first day of the signing month
    # month (key ""), type, field, party, flow ("<seller region>><buyer region>"), institution, fair
    dimension: so.Mapped[str] = so.mapped_column(sa.String(12), primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(200), primary_key=True)  # "" when not given
    contracts: so.Mapped[int] = so.mapped_column(default=0)
    amount_fen: so.Mapped[int] = so.mapped_column(Money, default=0)
    tech_amount_fen: so.Mapped[int] = so.mapped_column(Money, default=0)

    # The period's breakdowns read (fair_key, month range) through the primary key; the long view
    # by year reads one dimension over every month.
    __table_args__ = (sa.Index("ix_contract_month_stats_dimension", "fair_key", "dimension", "month"),)
