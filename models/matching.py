"""Matching state: stored listing vectors, the embedding outbox, index generations and match feedback."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from models.base import Base, utcnow


class ListingVector(Base):
    """One embedding of one listing's text by one model; the index is rebuilt from these rows."""

    __tablename__ = "listing_vectors"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))  # "result" or "need"
    listing_id: so.Mapped[int]
    model_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    dim: so.Mapped[int]
    # sha256 of the embedded text: unchanged text is never embedded twice.
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    vector: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary)  # float32 little-endian, L2-normalised
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("kind", "listing_id", "model_name", name="listing_vectors_listing_model"),
        sa.Index("ix_listing_vectors_model_kind", "model_name", "kind"),
    )


class OutboxEvent(Base):
    """A listing changed: written in the listing's own transaction, processed after it commits.

    Rows stay until a worker has indexed the change, so nothing is lost if Redis or a worker dies.
    """

    __tablename__ = "matching_outbox"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(10))
    listing_id: so.Mapped[int]
    reason: so.Mapped[str] = so.mapped_column(sa.String(20))  # publish, edit, close, expire, renew, ...
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    processed_at: so.Mapped[datetime | None] = so.mapped_column(index=True)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)


class IndexState(Base):
    """The current snapshot of one side's vector index; web processes reload when generation moves."""

    __tablename__ = "index_states"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    side: so.Mapped[str] = so.mapped_column(sa.String(10))  # the listing kind the index holds
    model_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    dim: so.Mapped[int]
    generation: so.Mapped[int] = so.mapped_column(default=0)
    path: so.Mapped[str | None] = so.mapped_column(sa.String(500))  # file name inside INDEX_DIR
    count: so.Mapped[int] = so.mapped_column(default=0)
    built_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("side", "model_name", name="index_states_side_model"),)


class Verdict(StrEnum):
    GOOD = "good"
    BAD = "bad"


class FeedbackReason(StrEnum):
    """The fixed list brokers choose from when a suggestion is bad (or what makes it good)."""

    TOO_EARLY = "too_early"
    BENEFIT_UNCLEAR = "benefit_unclear"
    ROUTE_UNCLEAR = "route_unclear"
    DESCRIPTION_UNCLEAR = "description_unclear"
    OFF_TOPIC = "off_topic"


class MatchFeedback(Base):
    """A broker's or staff member's judgment of one suggested need–result pair."""

    __tablename__ = "match_feedback"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    need_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="CASCADE"), index=True)
    result_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="CASCADE"), index=True)
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    verdict: so.Mapped[str] = so.mapped_column(sa.String(10))
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(30))
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    score: so.Mapped[float | None]  # the hybrid score shown when the judgment was made
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("need_id", "result_id", "user_id", name="match_feedback_pair_user"),
    )


class DismissReason(StrEnum):
    """Why an owner took a suggestion off their listing's matches; only NOT_RELEVANT says the match was wrong."""

    NOT_RELEVANT = "not_relevant"
    ALREADY_KNOWN = "already_known"  # the owner knows this party already
    NOT_NOW = "not_now"


class MatchDismissal(Base):
    """An owner dismissed a suggestion on their own listing's matches (`side`: the kind of that listing)."""

    __tablename__ = "match_dismissals"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    need_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="CASCADE"), index=True)
    result_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("research_results.id", ondelete="CASCADE"), index=True)
    side: so.Mapped[str] = so.mapped_column(sa.String(10))  # "need" or "result": whose list it was taken off
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reason: so.Mapped[str] = so.mapped_column(sa.String(30))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("need_id", "result_id", "side", name="match_dismissals_pair_side"),)


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"  # being checked
    ACTIVE = "active"  # what the site uses (at most one)
    RETIRED = "retired"  # was active, replaced by a better refit
    REJECTED = "rejected"  # never used: too few labels, no signal, or worse than the active model
    ROLLED_BACK = "rolled_back"  # was active, staff went back to an earlier version


class CalibrationVersion(Base):
    """One version of the calibrated-relevance model, with the figures that decided whether it is used.

    The site uses the one ACTIVE row (none: the shipped calibration.json); every process re-reads which
    one that is within MATCH_CALIBRATION_TTL seconds.
    """

    __tablename__ = "calibration_versions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # engine.calibration.Calibration as JSON; None when a refit had too few labels to fit anything.
    model: so.Mapped[str | None] = so.mapped_column(sa.Text)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=ModelStatus.CANDIDATE, index=True)
    origin: so.Mapped[str] = so.mapped_column(sa.String(20))  # "shipped", "refit"
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(30))  # engine RefitDecision.reason
    figures: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    job_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    activated_at: so.Mapped[datetime | None]


class OutcomeFeatures(Base):
    """The calibration features a labelled pair had when a refit last computed them, so the pair keeps
    teaching later refits after one of its listings closes or expires (and leaves the indexes)."""

    __tablename__ = "outcome_features"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    need_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tech_needs.id", ondelete="CASCADE"), index=True)
    result_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("research_results.id", ondelete="CASCADE"))
    query_kind: so.Mapped[str] = so.mapped_column(sa.String(10))  # whose match list the pair was in
    features: so.Mapped[dict[str, float]] = so.mapped_column(sa.JSON)
    computed_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("need_id", "result_id", "query_kind", name="outcome_features_pair"),)
