"""Brokers' and staff's judgments of suggested matches, and their export (CSV, JSON lines) for evaluation."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, permissions
from matchmaker.core.errors import NotFound, ValidationFailed
from models import FeedbackReason, MatchFeedback, ResearchResult, Session, TechNeed, Verdict, utcnow

VERDICT_LABELS = {Verdict.GOOD: _l("Good match"), Verdict.BAD: _l("Bad match")}
REASON_LABELS = {
    FeedbackReason.TOO_EARLY: _l("Too early stage"),
    FeedbackReason.BENEFIT_UNCLEAR: _l("Benefit unclear"),
    FeedbackReason.ROUTE_UNCLEAR: _l("Route to market unclear"),
    FeedbackReason.DESCRIPTION_UNCLEAR: _l("Description unclear"),
    FeedbackReason.OFF_TOPIC: _l("Off topic"),
}
EXPORT_COLUMNS = ("need_id", "result_id", "verdict", "reason", "note", "score", "user_id", "created_at",
                  "need_title", "result_title")


@dataclass(frozen=True)
class FeedbackInput:
    need_id: int
    result_id: int
    verdict: str
    reason: str = ""
    note: str = ""
    score: float | None = None


def record(user: Any, data: FeedbackInput) -> MatchFeedback:
    """Store (or replace) the user's judgment of one need–result pair."""
    permissions.require(user, "match.feedback", _("Only brokers and staff can judge matches."))
    errors: dict[str, list[str]] = {}
    if data.verdict not in set(Verdict):
        errors["verdict"] = [_("Choose good or bad.")]
    if data.reason and data.reason not in set(FeedbackReason):
        errors["reason"] = [_("Choose a reason from the list.")]
    if data.verdict == Verdict.BAD and not data.reason:
        errors["reason"] = [_("Say why the match is bad.")]
    if len(data.note or "") > 2000:
        errors["note"] = [_("At most %(limit)s characters.", limit=2000)]
    if errors:
        raise ValidationFailed(errors)
    if Session.get(TechNeed, data.need_id) is None or Session.get(ResearchResult, data.result_id) is None:
        raise NotFound(_("No such listing."))
    row = Session.scalar(sa.select(MatchFeedback).where(
        MatchFeedback.need_id == data.need_id, MatchFeedback.result_id == data.result_id,
        MatchFeedback.user_id == user.id))
    values = {"verdict": data.verdict, "reason": data.reason or None, "note": (data.note or "").strip() or None,
              "score": data.score, "created_at": utcnow()}
    if row is None:
        row = MatchFeedback(need_id=data.need_id, result_id=data.result_id, user_id=user.id, **values)
        Session.add(row)
        changes = {k: [None, v] for k, v in values.items() if k != "created_at"}
    else:
        changes = audit.apply(row, values)
        changes.pop("created_at", None)
    audit.record(user.id, "match.feedback", row, changes)
    Session.commit()
    return row


def for_pair(need_id: int, result_id: int) -> list[MatchFeedback]:
    return list(Session.scalars(sa.select(MatchFeedback).where(
        MatchFeedback.need_id == need_id, MatchFeedback.result_id == result_id)
        .order_by(MatchFeedback.created_at.desc())))


def _rows() -> Iterator[dict[str, Any]]:
    stmt = (sa.select(MatchFeedback, TechNeed.title, ResearchResult.title)
            .join(TechNeed, TechNeed.id == MatchFeedback.need_id)
            .join(ResearchResult, ResearchResult.id == MatchFeedback.result_id)
            .order_by(MatchFeedback.id))
    for row, need_title, result_title in Session.execute(stmt):
        yield {"need_id": row.need_id, "result_id": row.result_id, "verdict": row.verdict,
               "reason": row.reason or "", "note": row.note or "", "score": row.score, "user_id": row.user_id,
               "created_at": row.created_at.isoformat(), "need_title": need_title, "result_title": result_title}


def export(user: Any, fmt: str) -> tuple[str, str]:
    """(body, mimetype) of every judgment as CSV or JSON lines."""
    permissions.require(user, "match.export_feedback", _("Only staff can export match judgments."))
    if fmt == "jsonl":
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in _rows())
        return body, "application/x-ndjson"
    if fmt != "csv":
        raise ValidationFailed({"format": [_("Choose CSV or JSON lines.")]})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(_rows())
    # A byte-order mark so Excel opens the Chinese titles as UTF-8.
    return "\ufeff" + out.getvalue(), "text/csv; charset=utf-8"
