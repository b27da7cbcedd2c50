"""Matchmaking fairs (对接会): sessions and slots, participants with their listings and availability,
meeting requests, scheduled 1:1 meetings at numbered tables, check-ins and schedule runs."""
from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, TimestampMixin, utcnow
from models.listing import ResearchResult, TechNeed
from models.org import Organization, User

# Fair-local wall-clock times (a fair happens in one place): stored without a time zone.
LocalDateTime = sa.DateTime(timezone=False)


class FairStatus(StrEnum):
    DRAFT = "draft"            # being set up by staff, invisible to participants
    OPEN = "open"              # registration / requests possible (within the window)
    CLOSED = "closed"          # registration closed, schedule being finalised / fair running
    FINISHED = "finished"      # over; only outcomes and the report change


class ParticipantType(StrEnum):
    RESEARCH = "research"      # 成果方 (universities, institutes)
    ENTERPRISE = "enterprise"  # 需求方
    BROKER = "broker"          # 技术经纪人
    OBSERVER = "observer"      # attends, takes no meetings


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    VALIDATED = "validated"
    REJECTED = "rejected"


class RequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class MeetingStatus(StrEnum):
    PLANNED = "planned"        # accepted; scheduled when slot_id is set
    HELD = "held"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class MeetingOutcome(StrEnum):
    NONE = "none"
    FOLLOW_UP = "follow_up"    # 后续跟进
    INTENTION = "intention"    # 签订意向
    CONTRACT = "contract"      # 签约


class Fair(TimestampMixin, Base):
    __tablename__ = "fairs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    venue: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    start_date: so.Mapped[date]
    end_date: so.Mapped[date]
    meeting_minutes: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=20)
    registration_opens: so.Mapped[date | None]
    registration_closes: so.Mapped[date | None]
    # Unanswered requests expire after this many hours so they stop blocking slots.
    request_expiry_hours: so.Mapped[int] = so.mapped_column(default=72)
    max_meetings_per_participant: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    participant_types: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=FairStatus.DRAFT, index=True)
    copied_from_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="SET NULL"))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Bumped on every change to the schedule so printouts can show "updated at".
    schedule_updated_at: so.Mapped[datetime | None]

    sessions: so.Mapped[list[FairSession]] = so.relationship(
        back_populates="fair", cascade="all, delete-orphan", order_by="(FairSession.day, FairSession.start_time)"
    )
    participants: so.Mapped[list[FairParticipant]] = so.relationship(
        back_populates="fair", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("start_date <= end_date", name="date_order"),
        sa.CheckConstraint("meeting_minutes > 0", name="meeting_minutes_positive"),
    )

    def __repr__(self) -> str:
        return f"<Fair {self.id} {self.name}>"


class FairSession(Base):
    """A block of time on one day (e.g. Tuesday morning) with a number of meeting tables."""

    __tablename__ = "fair_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    day: so.Mapped[date]
    start_time: so.Mapped[time]
    end_time: so.Mapped[time]
    tables: so.Mapped[int] = so.mapped_column(sa.SmallInteger)

    fair: so.Mapped[Fair] = so.relationship(back_populates="sessions")
    slots: so.Mapped[list[FairSlot]] = so.relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="FairSlot.starts_at"
    )

    __table_args__ = (
        sa.CheckConstraint("start_time < end_time", name="time_order"),
        sa.CheckConstraint("tables > 0", name="tables_positive"),
    )


class FairSlot(Base):
    __tablename__ = "fair_slots"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    session_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("fair_sessions.id", ondelete="CASCADE"), index=True
    )
    starts_at: so.Mapped[datetime] = so.mapped_column(LocalDateTime)
    ends_at: so.Mapped[datetime] = so.mapped_column(LocalDateTime)

    session: so.Mapped[FairSession] = so.relationship(back_populates="slots")


class FairParticipant(TimestampMixin, Base):
    """A person registered for a fair by their organization (not necessarily a platform user)."""

    __tablename__ = "fair_participants"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    organization_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    user_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    job_title: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    participant_type: so.Mapped[str] = so.mapped_column(sa.String(20))
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=RegistrationStatus.PENDING, index=True)
    status_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    registered_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Per-person cap set by staff; overrides the fair's cap when lower.
    max_meetings: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    # Random token in the check-in URL printed as a QR code.
    checkin_token: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    checked_in_at: so.Mapped[datetime | None]

    fair: so.Mapped[Fair] = so.relationship(back_populates="participants")
    organization: so.Mapped[Organization] = so.relationship()
    user: so.Mapped[User | None] = so.relationship(foreign_keys=[user_id])
    listings: so.Mapped[list[FairListing]] = so.relationship(
        back_populates="participant", cascade="all, delete-orphan"
    )
    availability: so.Mapped[list[FairAvailability]] = so.relationship(
        back_populates="participant", cascade="all, delete-orphan"
    )

    __table_args__ = (sa.UniqueConstraint("fair_id", "email", name="uq_fair_participants_fair_email"),)

    def __repr__(self) -> str:
        return f"<FairParticipant {self.id} {self.name}>"


class FairListing(Base):
    """A research result or technical need a participant brings to the fair."""

    __tablename__ = "fair_listings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    participant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True
    )
    result_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="CASCADE"), index=True
    )
    need_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="CASCADE"), index=True)

    participant: so.Mapped[FairParticipant] = so.relationship(back_populates="listings")
    result: so.Mapped[ResearchResult | None] = so.relationship()
    need: so.Mapped[TechNeed | None] = so.relationship()

    __table_args__ = (
        sa.CheckConstraint("(result_id IS NULL) <> (need_id IS NULL)", name="one_listing"),
        sa.UniqueConstraint("participant_id", "result_id", "need_id", name="uq_fair_listings_participant_id"),
    )

    @property
    def listing(self) -> Any:
        return self.result if self.result_id else self.need

    @property
    def kind(self) -> str:
        return "result" if self.result_id else "need"


class FairAvailability(Base):
    """A session the participant can attend, optionally only between two times of that session."""

    __tablename__ = "fair_availability"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    participant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True
    )
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fair_sessions.id", ondelete="CASCADE"))
    available_from: so.Mapped[time | None]
    available_until: so.Mapped[time | None]

    participant: so.Mapped[FairParticipant] = so.relationship(back_populates="availability")
    session: so.Mapped[FairSession] = so.relationship()

    __table_args__ = (
        sa.UniqueConstraint("participant_id", "session_id", name="uq_fair_availability_participant_id"),
    )


class MeetingRequest(Base):
    __tablename__ = "fair_meeting_requests"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    requester_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True
    )
    recipient_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True
    )
    message: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The listings the request is about (optional), carried over to the meeting.
    result_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("research_results.id", ondelete="SET NULL"))
    need_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="SET NULL"))
    score: so.Mapped[float | None]
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=RequestStatus.PENDING, index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(index=True)
    responded_at: so.Mapped[datetime | None]
    response_note: so.Mapped[str | None] = so.mapped_column(sa.Text)

    requester: so.Mapped[FairParticipant] = so.relationship(foreign_keys=[requester_id])
    recipient: so.Mapped[FairParticipant] = so.relationship(foreign_keys=[recipient_id])
    result: so.Mapped[ResearchResult | None] = so.relationship()
    need: so.Mapped[TechNeed | None] = so.relationship()

    __table_args__ = (sa.CheckConstraint("requester_id <> recipient_id", name="distinct_parties"),)


class FairMeeting(TimestampMixin, Base):
    """An agreed 1:1 meeting; scheduled once it has a slot and a table."""

    __tablename__ = "fair_meetings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    a_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True)
    b_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True)
    request_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("fair_meeting_requests.id", ondelete="SET NULL"), unique=True
    )
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    result_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("research_results.id", ondelete="SET NULL"))
    need_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="SET NULL"))
    score: so.Mapped[float | None]
    priority: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=1)

    slot_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("fair_slots.id", ondelete="SET NULL"), index=True)
    table_no: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    pinned: so.Mapped[bool] = so.mapped_column(default=False)
    # Why the last scheduler run left it out (scheduler reason code), cleared when placed.
    unplaced_reason: so.Mapped[str | None] = so.mapped_column(sa.String(30))

    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=MeetingStatus.PLANNED, index=True)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(20), default=MeetingOutcome.NONE)
    outcome_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    outcome_at: so.Mapped[datetime | None]

    a: so.Mapped[FairParticipant] = so.relationship(foreign_keys=[a_id])
    b: so.Mapped[FairParticipant] = so.relationship(foreign_keys=[b_id])
    slot: so.Mapped[FairSlot | None] = so.relationship()
    result: so.Mapped[ResearchResult | None] = so.relationship()
    need: so.Mapped[TechNeed | None] = so.relationship()

    __table_args__ = (
        sa.CheckConstraint("a_id <> b_id", name="distinct_parties"),
        sa.CheckConstraint("(slot_id IS NULL) = (table_no IS NULL)", name="slot_with_table"),
        # A table holds one meeting per slot; participant double-booking is checked in the service.
        sa.UniqueConstraint("slot_id", "table_no", name="uq_fair_meetings_slot_id"),
    )

    @property
    def scheduled(self) -> bool:
        return self.slot_id is not None

    def other(self, participant_id: int) -> FairParticipant:
        return self.b if participant_id == self.a_id else self.a


class FairCheckIn(Base):
    """One check-in at the desk (by search or by the QR code on the printed schedule)."""

    __tablename__ = "fair_checkins"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    participant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("fair_participants.id", ondelete="CASCADE"), index=True
    )
    method: so.Mapped[str] = so.mapped_column(sa.String(10))  # "search" or "qr"
    checked_in_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class FairScheduleRun(Base):
    """One scheduler run: its figures are shown on the schedule page ("312 of at most 318")."""

    __tablename__ = "fair_schedule_runs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    fair_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("fairs.id", ondelete="CASCADE"), index=True)
    job_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    finished_at: so.Mapped[datetime | None]
    meetings: so.Mapped[int | None]
    scheduled: so.Mapped[int | None]
    upper_bound: so.Mapped[int | None]
    optimal: so.Mapped[bool | None]
    seconds: so.Mapped[float | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
