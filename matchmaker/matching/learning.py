"""The platform learns from its own outcomes: labelled pairs from what people did with suggestions, a
periodic refit of the calibrated relevance on them, and model versions staff can roll back.

Labels (`outcome_labels`): a signed contract, an opened deal (unless lost because the technology did not
fit) and an accepted introduction say a pair was relevant (1); a broker's verdict says good (1) or bad (0);
an introduction declined as "not a fit" and an owner's "not relevant" dismissal say it was not (0). When
several outcomes name one pair, the strongest evidence wins, in that order. Each pair's features are
recomputed by the site's own ranking (`matches.features_for`), so the refit learns from exactly what the
calibration sees; a pair whose candidate is no longer searchable (closed, expired) keeps the features the
last refit computed for it (`OutcomeFeatures`), and is left out if none ever did.

The refit (`refit`, job "matching.refit", periodic and on demand) fits the active model's features on the
labels and compares it with the active model on held-out labels (cross-validation over query listings,
`engine.calibration.judge_refit`); it becomes active only when it beats the base rate and is not worse
than the active model, and is otherwise recorded as rejected with the reason.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, jobs, permissions
from matchmaker.core.errors import Conflict, NotFound
from matchmaker.engine.calibration import Calibration, judge_refit
from matchmaker.matching import matches, versions
from models import (
    CalibrationVersion,
    Contract,
    Deal,
    DealStage,
    DeclineReason,
    DismissReason,
    Introduction,
    IntroductionStatus,
    Job,
    LostReason,
    MatchDismissal,
    MatchFeedback,
    ModelStatus,
    OutcomeFeatures,
    Session,
    Verdict,
    aware,
    listing_model,
    utcnow,
)

JOB = "matching.refit"
# An unfinished refit older than this never started (queued while Redis was down) or died with its worker:
# it no longer shows as running, and "refit now" may queue another.
STALE_AFTER = timedelta(hours=1)
# Strongest evidence first: when outcomes disagree about one pair, the earlier source decides.
SOURCES = ("contract", "deal", "introduction", "feedback", "dismissal")


@dataclass(frozen=True)
class Outcome:
    """One labelled pair: the candidate as it appeared in the query listing's matches."""

    query_kind: str
    query_id: int
    candidate_id: int
    label: int  # 1 relevant, 0 not
    source: str  # one of SOURCES

    @property
    def pair(self) -> tuple[int, int]:
        """(need id, result id)."""
        return (self.query_id, self.candidate_id) if self.query_kind == "need" else (self.candidate_id, self.query_id)


def outcome_labels() -> list[Outcome]:
    """Every pair some outcome labelled, one label per pair (the strongest source; within a source the latest)."""
    best: dict[tuple[int, int], Outcome] = {}
    for outcome in _all_outcomes():
        held = best.get(outcome.pair)
        if held is None or SOURCES.index(outcome.source) <= SOURCES.index(held.source):
            best[outcome.pair] = outcome
    return sorted(best.values(), key=lambda o: (o.query_kind, o.query_id, o.candidate_id))


def _all_outcomes() -> list[Outcome]:
    """Weakest source first and, within a source, oldest first, so later entries may replace earlier ones."""
    found: list[Outcome] = []
    dismissed = sa.select(MatchDismissal).where(MatchDismissal.reason == DismissReason.NOT_RELEVANT)
    for row in Session.scalars(dismissed.order_by(MatchDismissal.id)):
        query_id, candidate_id = (row.need_id, row.result_id) if row.side == "need" else (row.result_id, row.need_id)
        found.append(Outcome(row.side, query_id, candidate_id, 0, "dismissal"))
    for row in Session.scalars(sa.select(MatchFeedback).order_by(MatchFeedback.created_at, MatchFeedback.id)):
        found.append(Outcome("need", row.need_id, row.result_id, int(row.verdict == Verdict.GOOD), "feedback"))
    answered = sa.select(Introduction).where(Introduction.status.in_(
        [IntroductionStatus.ACCEPTED, IntroductionStatus.DECLINED])).order_by(Introduction.id)
    for intro in Session.scalars(answered):
        if intro.status == IntroductionStatus.DECLINED and intro.decline_reason != DeclineReason.NOT_A_FIT:
            continue  # declined for another reason (timing, capacity …): says nothing about relevance
        label = int(intro.status == IntroductionStatus.ACCEPTED)
        # The counterpart asked from its own listing's matches: that listing is the query.
        if intro.result_id is not None and intro.counterpart_need_id is not None:
            found.append(Outcome("need", intro.counterpart_need_id, intro.result_id, label, "introduction"))
        elif intro.need_id is not None and intro.counterpart_result_id is not None:
            found.append(Outcome("result", intro.counterpart_result_id, intro.need_id, label, "introduction"))
    deals = sa.select(Deal.need_id, Deal.result_id, Deal.stage, Deal.lost_reason).where(Deal.need_id.is_not(None))
    for need_id, result_id, stage, lost_reason in Session.execute(deals.order_by(Deal.id)):
        lost_on_fit = stage == DealStage.LOST and lost_reason == LostReason.TECHNOLOGY_FIT
        found.append(Outcome("need", need_id, result_id, 0 if lost_on_fit else 1, "deal"))
    contracts = sa.select(Contract.need_id, Contract.result_id).where(
        Contract.need_id.is_not(None), Contract.result_id.is_not(None)).order_by(Contract.id)
    for need_id, result_id in Session.execute(contracts):
        found.append(Outcome("need", need_id, result_id, 1, "contract"))
    return found


def labelled_features(outcomes: list[Outcome], progress: Callable[[int, int], None] | None = None
                      ) -> tuple[list[tuple[Outcome, dict[str, float]]], int]:
    """Each outcome with its calibration features as the site's ranking computes them now (one ranking
    per query listing), and how many of them came from the last refit's snapshot instead: a pair whose
    listing closed or expired keeps the features it had then; a pair never computed is left out."""
    stored = {(row.query_kind, row.need_id, row.result_id): row for row in Session.scalars(sa.select(OutcomeFeatures))}
    by_query: dict[tuple[str, int], list[Outcome]] = {}
    for outcome in outcomes:
        by_query.setdefault((outcome.query_kind, outcome.query_id), []).append(outcome)
    rows: list[tuple[Outcome, dict[str, float]]] = []
    from_snapshot = 0
    for done, ((kind, query_id), items) in enumerate(sorted(by_query.items()), start=1):
        listing = Session.get(listing_model(kind), query_id)
        features = matches.features_for(listing, [o.candidate_id for o in items]) if listing is not None else {}
        for outcome in items:
            snapshot = stored.get((kind, *outcome.pair))
            if outcome.candidate_id in features:
                rows.append((outcome, features[outcome.candidate_id]))
                if snapshot is None:
                    need_id, result_id = outcome.pair
                    Session.add(OutcomeFeatures(need_id=need_id, result_id=result_id, query_kind=kind,
                                                features=features[outcome.candidate_id]))
                else:
                    snapshot.features, snapshot.computed_at = features[outcome.candidate_id], utcnow()
            elif snapshot is not None:
                rows.append((outcome, dict(snapshot.features)))
                from_snapshot += 1
        Session.commit()
        if progress is not None:
            progress(done, len(by_query))
    return rows, from_snapshot


# --- versions ------------------------------------------------------------------------------------------

def active_model() -> tuple[int | None, Calibration]:
    """The version the site uses now, read afresh (None: the shipped file)."""
    versions.forget()
    return versions.current(matches.shipped_calibration)


def _baseline() -> CalibrationVersion:
    """The active row; the first time, the shipped calibration is recorded as version 1 so that every
    later version can be rolled back to it."""
    row = Session.scalar(sa.select(CalibrationVersion).where(CalibrationVersion.status == ModelStatus.ACTIVE)
                         .order_by(CalibrationVersion.id.desc()).with_for_update())
    if row is None:
        shipped = matches.shipped_calibration()
        row = CalibrationVersion(model=shipped.to_json(), status=ModelStatus.ACTIVE, origin="shipped",
                                 figures=dict(shipped.figures), activated_at=utcnow())
        Session.add(row)
        Session.flush()
    return row


def start_refit(user: Any) -> Job:
    """Staff's "refit now": a job row the page shows, then the job in the background."""
    permissions.require(user, "match.models", _("Only staff can refit the relevance model."))
    if Session.scalar(sa.select(Job.id).where(Job.kind == JOB, Job.finished_at.is_(None),
                                              Job.created_at > utcnow() - STALE_AFTER)):
        raise Conflict(_("A refit is already queued or running; its result will appear here."))
    job = jobs.create_job(JOB, user_id=user.id)
    audit.record(user.id, "calibration.refit_requested", job)
    Session.commit()
    jobs.dispatch(JOB, job.id)
    return job


def refit(job_id: int | None = None) -> dict[str, Any]:
    """The job: labels, features, a refitted model judged against the active one on held-out labels,
    recorded as a new version (active or rejected). Periodic runs (no job id) make their own job row."""
    if job_id is None:
        job_id = jobs.create_job(JOB).id
    job = Session.get(Job, job_id)
    if job is None:
        return {}
    try:
        result = _refit(job)
    except Exception as exc:
        Session.rollback()
        _fail_candidates(job.id)
        jobs.finish_job(job.id, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    jobs.finish_job(job.id, result)
    return result


def _refit(job: Job) -> dict[str, Any]:
    jobs.report_progress(job.id, 0)
    base = _baseline()
    candidate = CalibrationVersion(status=ModelStatus.CANDIDATE, origin="refit", job_id=job.id,
                                   created_by_id=job.created_by_id, figures={})
    Session.add(candidate)
    Session.commit()
    active = Calibration.from_json(base.model or "")
    outcomes = outcome_labels()
    rows, from_snapshot = labelled_features(outcomes,
                                            lambda done, total: jobs.report_progress(job.id, done, total + 1))
    x = np.array([[features.get(name, 0.0) for name in active.features] for _o, features in rows], dtype=np.float64)
    y = np.array([o.label for o, _f in rows], dtype=np.float64)
    decision = judge_refit(active, x.reshape(len(rows), len(active.features)), y,
                           [(o.query_kind, o.query_id) for o, _f in rows],
                           min_labels=int(current_app.config.get("MATCH_REFIT_MIN_LABELS", 30)),
                           version=f"refit-{candidate.id}")
    candidate.model = decision.model.to_json() if decision.model is not None else None
    candidate.reason = decision.reason
    candidate.figures = {**decision.figures, "compared_with": base.id, "outcomes": len(outcomes),
                         "left_out": len(outcomes) - len(rows), "from_snapshot": from_snapshot,
                         "sources": dict(Counter(o.source for o, _f in rows))}
    if decision.accepted:
        # Every active row, not only the one compared with: two refits at once must not leave two active.
        for row in Session.scalars(sa.select(CalibrationVersion).where(
                CalibrationVersion.status == ModelStatus.ACTIVE).with_for_update()):
            row.status = ModelStatus.RETIRED
        candidate.status, candidate.activated_at = ModelStatus.ACTIVE, utcnow()
    else:
        candidate.status = ModelStatus.REJECTED
    audit.record(job.created_by_id, "calibration.refit", candidate,
                 {"status": [None, candidate.status], "reason": [None, decision.reason],
                  "replaced": [base.id, candidate.id] if decision.accepted else None})
    Session.commit()
    versions.forget()
    return {"version_id": candidate.id, "status": str(candidate.status), "reason": decision.reason}


def _fail_candidates(job_id: int) -> None:
    for row in Session.scalars(sa.select(CalibrationVersion).where(
            CalibrationVersion.job_id == job_id, CalibrationVersion.status == ModelStatus.CANDIDATE)):
        row.status, row.reason = ModelStatus.REJECTED, "failed"
    Session.commit()


def roll_back(user: Any, version_id: int) -> CalibrationVersion:
    """Make an earlier version (one that was active before) the one the site uses again."""
    permissions.require(user, "match.models", _("Only staff can roll back the relevance model."))
    target = Session.get(CalibrationVersion, version_id)
    if target is None:
        raise NotFound(_("No such model version."))
    if target.status not in (ModelStatus.RETIRED, ModelStatus.ROLLED_BACK) or not target.model:
        raise Conflict(_("Only a version that was in use before can be brought back."))
    replaced = list(Session.scalars(sa.select(CalibrationVersion).where(
        CalibrationVersion.status == ModelStatus.ACTIVE).with_for_update()))
    for row in replaced:
        row.status = ModelStatus.ROLLED_BACK
    before = target.status
    target.status, target.activated_at = ModelStatus.ACTIVE, utcnow()
    audit.record(user.id, "calibration.roll_back", target,
                 {"status": [before, ModelStatus.ACTIVE], "replaced": [r.id for r in replaced]})
    Session.commit()
    versions.forget()
    return target


@dataclass(frozen=True)
class VersionsPage:
    versions: list[CalibrationVersion]
    jobs: list[Job]  # recent refits, newest first
    running: list[Job]  # those queued or running now (the page shows their progress)
    active_id: int | None
    label_counts: dict[str, int]


def overview(user: Any, limit: int = 50) -> VersionsPage:
    permissions.require(user, "match.models", _("Only staff can see the relevance model versions."))
    rows = list(Session.scalars(sa.select(CalibrationVersion).order_by(CalibrationVersion.id.desc()).limit(limit)))
    recent = list(Session.scalars(sa.select(Job).where(Job.kind == JOB).order_by(Job.id.desc()).limit(5)))
    active = next((r.id for r in rows if r.status == ModelStatus.ACTIVE), None)
    outcomes = outcome_labels()
    counts = {"pairs": len(outcomes), "relevant": sum(o.label for o in outcomes)}
    since = utcnow() - STALE_AFTER
    running = [job for job in recent if job.finished_at is None and aware(job.created_at) > since]
    return VersionsPage(rows, recent, running, active, counts)


def model_of(version: CalibrationVersion) -> Calibration | None:
    return Calibration.from_json(version.model) if version.model else None


STATUS_LABELS = {
    ModelStatus.CANDIDATE: _l("Being checked"),
    ModelStatus.ACTIVE: _l("In use"),
    ModelStatus.RETIRED: _l("Replaced"),
    ModelStatus.REJECTED: _l("Rejected"),
    ModelStatus.ROLLED_BACK: _l("Rolled back"),
}

FEATURE_LABELS = {
    "dense": _l("Whole-text similarity"),
    "dense_title": _l("Title similarity"),
    "dense_rel": _l("Whole-text similarity, rank within the query"),
    "title_rel": _l("Title similarity, rank within the query"),
    "lexical": _l("Shared terms (BM25)"),
    "industry": _l("Industry"),
    "structured": _l("Structured checks"),
}


def weights_of(version: CalibrationVersion) -> list[tuple[str, float]]:
    """(feature label, coefficient) of a version's model, intercept last; empty when it has no model."""
    model = model_of(version)
    if model is None:
        return []
    rows = [(str(FEATURE_LABELS.get(name, name)), c) for name, c in zip(model.features, model.coefficients,
                                                                         strict=True)]
    return [*rows, (_("Intercept"), model.intercept)]


def describe(version: CalibrationVersion) -> str:
    """Why the version is what it is, in the reader's language, with the figures that decided."""
    f = version.figures or {}
    new, old = f.get("new") or {}, f.get("active") or {}
    if version.origin == "shipped":
        return _("The calibration shipped with the site, fitted on judged pairs of the development set.")
    if version.reason == "too_few_labels":
        return _("Too few labels: %(n)s pairs (%(pos)s relevant); at least %(needed)s pairs with %(each)s of "
                 "each kind are needed.", n=f.get("labels", 0), pos=f.get("positives", 0),
                 needed=f.get("needed_labels", 0), each=f.get("needed_each", 0))
    if version.reason == "no_signal":
        return _("No better than the share of relevant pairs alone on held-out labels (log-loss %(new)s vs "
                 "%(base)s): the labels do not follow the model's signals.", new=new.get("log_loss"),
                 base=f.get("base_rate_log_loss"))
    if version.reason == "worse":
        return _("Worse than the model in use on held-out labels: log-loss %(new)s vs %(old)s, ECE %(ece_new)s vs "
                 "%(ece_old)s.", new=new.get("log_loss"), old=old.get("log_loss"), ece_new=new.get("ece"),
                 ece_old=old.get("ece"))
    if version.reason == "better":
        return _("Not worse than the model in use on held-out labels: log-loss %(new)s vs %(old)s, ECE %(ece_new)s "
                 "vs %(ece_old)s.", new=new.get("log_loss"), old=old.get("log_loss"), ece_new=new.get("ece"),
                 ece_old=old.get("ece"))
    if version.reason == "failed":
        return _("The refit stopped with an error; see the job's message.")
    return _("Being checked.")
