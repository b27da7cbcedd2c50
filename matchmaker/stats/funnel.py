"""The conversion funnel from suggestion to contract: each thread (a need and a result, through
introductions, fair meetings and deals) counted at the furthest step it reached within the scope."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from matchmaker.deals.deals import stage_rank
from matchmaker.stats.scope import FunnelStep, Scope
from models import (
    DEAL_STAGE_ORDER,
    Contract,
    Deal,
    DealOrigin,
    DealStage,
    DealStageChange,
    Fair,
    FairMeeting,
    Introduction,
    IntroductionStatus,
    MatchFeedback,
    MeetingRequest,
    Notification,
    Session,
)
from models.fairs import MeetingOutcome, MeetingStatus, RequestStatus

# --- funnel -------------------------------------------------------------------------------------
#
# A funnel follows threads: one contact between two parties, from its request to a contract. A
# thread counts under a step only when it got that far (skipped steps count as passed), so every
# step is a subset of the one above it and no rate can exceed 100%.

THREAD_STEPS = ("requests", "accepted", "meetings", "intentions", "contracts")

FUNNEL_LABELS = {
    "suggestions": _l("Match suggestions"),
    "requests": _l("Contacts requested"),
    "accepted": _l("Contacts accepted"),
    "meetings": _l("Meetings held"),
    "intentions": _l("Intentions signed"),
    "contracts": _l("Led to a technology contract"),
}

# Deals opened by hand that still came from the platform's matchmaking.
_MATCHMAKING_ORIGINS = (DealOrigin.MATCH, DealOrigin.FAIR)
_INTENTION_OUTCOMES = (MeetingOutcome.INTENTION, MeetingOutcome.CONTRACT)


@dataclass
class _Thread:
    """What is known of one thread: from its request or fair meeting, and from its deal, if any."""

    fair_id: int | None = None
    agreed: bool = False
    met: bool = False
    intention: bool = False
    deal_rank: int | None = None  # the furthest pipeline stage (stage_rank) its deal reached
    contracts: int = 0            # registered contracts linked to its deal
    amount_fen: int = 0

    def reached(self) -> int:
        """Index in THREAD_STEPS of the furthest step; a later step implies the earlier ones."""
        rank = -1 if self.deal_rank is None else self.deal_rank
        if self.contracts:
            return 4
        if self.intention or rank >= stage_rank(DealStage.INTENTION_SIGNED):
            return 3
        if self.met or rank >= stage_rank(DealStage.MEETING_HELD):
            return 2
        # A deal exists only once both sides agreed to talk.
        return 1 if self.agreed or self.deal_rank is not None else 0


def _moment_bounds(scope: Scope) -> tuple[datetime | None, datetime | None]:
    start, end = scope.bounds()
    if start is None or end is None:
        return None, None
    return (datetime(start.year, start.month, start.day, tzinfo=UTC),
            datetime(end.year, end.month, end.day, tzinfo=UTC))


def _count(stmt: Any) -> int:
    return int(Session.scalar(stmt) or 0)


def _in_period(stmt: Any, column: Any, scope: Scope) -> Any:
    start, end = _moment_bounds(scope)
    return stmt if start is None else stmt.where(column >= start, column < end)


def _suggestions(scope: Scope) -> int:
    """Match notifications sent, else brokers' judged suggestions: whatever the matching side records."""
    notified = _count(_in_period(sa.select(sa.func.count(Notification.id)).where(
        Notification.kind.like("match%")), Notification.created_at, scope))
    if notified:
        return notified
    return _count(_in_period(sa.select(sa.func.count(MatchFeedback.id)), MatchFeedback.created_at, scope))


def _with_progress(stmt: Any, deal_id: Any) -> Any:
    """Add the deal's furthest stage and its linked contracts (count, 成交额) to a thread query."""
    rank = sa.case({stage: i for i, stage in enumerate(DEAL_STAGE_ORDER)}, value=DealStageChange.to_stage, else_=-1)
    reached = (sa.select(DealStageChange.deal_id, sa.func.max(rank).label("rank"))
               .group_by(DealStageChange.deal_id).subquery())
    linked = (sa.select(Contract.deal_id, sa.func.count().label("n"), sa.func.sum(Contract.amount_fen).label("amount"))
              .where(Contract.deal_id.is_not(None)).group_by(Contract.deal_id).subquery())
    return (stmt.add_columns(reached.c.rank, linked.c.n, linked.c.amount)
            .outerjoin(reached, reached.c.deal_id == deal_id).outerjoin(linked, linked.c.deal_id == deal_id))


def _progress(row: Any) -> dict[str, Any]:
    return {"deal_rank": None if row.rank is None else int(row.rank), "contracts": int(row.n or 0),
            "amount_fen": int(row.amount or 0)}


def _threads(scope: Scope, fair_ids: list[int] | None = None) -> list[_Thread]:
    """The threads a funnel covers.

    - Without a fair (the platform's funnel): introductions requested in the period; meeting
      requests and organiser-made meetings of fairs that started in the period; deals a broker
      opened in the period from a match suggestion or a fair without either record.
    - For one fair (scope.fair_id) or the listed fair_ids: those fairs' meeting requests,
      organiser-made meetings and deals opened for the fair, whatever the period.
    """
    fair_wide = fair_ids is not None or bool(scope.fair_id)
    wanted = fair_ids if fair_ids is not None else [scope.fair_id] if scope.fair_id else None

    def at_fairs(column: Any) -> Any:
        if wanted is not None:
            return column.in_(wanted)
        start, end = scope.bounds()
        held = sa.select(Fair.id)
        return column.in_(held if start is None else held.where(Fair.start_date >= start, Fair.start_date < end))

    threads: list[_Thread] = []
    if not fair_wide:
        intros = _in_period(_with_progress(
            sa.select(Introduction.status).select_from(Introduction)
            .outerjoin(Deal, Deal.introduction_id == Introduction.id), Deal.id), Introduction.created_at, scope)
        threads += [_Thread(agreed=row.status == IntroductionStatus.ACCEPTED, **_progress(row))
                    for row in Session.execute(intros)]
    requests = _with_progress(
        sa.select(MeetingRequest.fair_id, MeetingRequest.status.label("request_status"),
                  FairMeeting.id.label("meeting"), FairMeeting.status, FairMeeting.outcome).select_from(MeetingRequest)
        .outerjoin(FairMeeting, FairMeeting.request_id == MeetingRequest.id)
        .outerjoin(Deal, Deal.fair_meeting_id == FairMeeting.id), Deal.id).where(at_fairs(MeetingRequest.fair_id))
    made = _with_progress(
        sa.select(FairMeeting.fair_id, sa.literal(RequestStatus.ACCEPTED).label("request_status"),
                  FairMeeting.id.label("meeting"), FairMeeting.status, FairMeeting.outcome).select_from(FairMeeting)
        .outerjoin(Deal, Deal.fair_meeting_id == FairMeeting.id), Deal.id).where(
        FairMeeting.request_id.is_(None), at_fairs(FairMeeting.fair_id))
    for stmt in (requests, made):
        threads += [_Thread(fair_id=row.fair_id,
                            agreed=row.request_status == RequestStatus.ACCEPTED or row.meeting is not None,
                            met=row.status == MeetingStatus.HELD, intention=row.outcome in _INTENTION_OUTCOMES,
                            **_progress(row)) for row in Session.execute(stmt)]
    direct = _with_progress(sa.select(Deal.fair_id).select_from(Deal), Deal.id).where(
        Deal.introduction_id.is_(None), Deal.fair_meeting_id.is_(None), Deal.origin.in_(_MATCHMAKING_ORIGINS))
    direct = direct.where(at_fairs(Deal.fair_id)) if fair_wide else _in_period(direct, Deal.created_at, scope)
    threads += [_Thread(fair_id=row.fair_id, agreed=True, **_progress(row)) for row in Session.execute(direct)]
    return threads


@dataclass
class _Tally:
    counts: list[int] = field(default_factory=lambda: [0] * len(THREAD_STEPS))
    contracts: int = 0
    amount_fen: int = 0

    def add(self, thread: _Thread) -> None:
        for step in range(thread.reached() + 1):
            self.counts[step] += 1
        self.contracts += thread.contracts
        self.amount_fen += thread.amount_fen

    def get(self, key: str) -> int:
        return self.counts[THREAD_STEPS.index(key)]


def _tally(threads: Iterable[_Thread]) -> _Tally:
    tally = _Tally()
    for thread in threads:
        tally.add(thread)
    return tally


def funnel(scope: Scope) -> list[FunnelStep]:
    """Match suggestions → contacts requested → accepted → meetings held → intentions → contracts.

    Each thread step counts the threads (see _threads) that reached it, from the first record of
    the thread in the scope to today:
    - requests: every thread (an introduction requested, a fair meeting request or an
      organiser-made meeting, or a deal opened by hand from a match suggestion or a fair);
    - accepted: the introduction or meeting request was accepted, or the meeting or deal exists;
    - meetings: the fair meeting was held, or the deal reached "meeting held" or beyond;
    - intentions: a fair meeting recorded an intention or a contract, or the deal reached
      "intention signed" or beyond (a contract signed but not yet registered stays here);
    - contracts: at least one registered technology contract is linked to the thread's deal
      (Contract.deal_id); a deal with several contracts counts once (`contracts` and `amount_fen`
      of that step give the contracts themselves). Contracts linked to no deal, such as imported
      historical ones, are in the contract tables only.
    Rates are shares of the step above and of the requests. Match suggestions, when any are
    recorded, come first for context: they are not linked to requests one by one, so the requests'
    rate is not comparable ("n/a").
    """
    tally = _tally(_threads(scope))
    steps: list[FunnelStep] = []
    suggestions = 0 if scope.fair_id else _suggestions(scope)
    if suggestions:
        steps.append(FunnelStep("suggestions", str(FUNNEL_LABELS["suggestions"]), suggestions))
    top = tally.counts[0]
    for i, key in enumerate(THREAD_STEPS):
        n = tally.counts[i]
        if i == 0:
            steps.append(FunnelStep(key, str(FUNNEL_LABELS[key]), n, comparable=not suggestions))
            continue
        prev = tally.counts[i - 1]
        steps.append(FunnelStep(key, str(FUNNEL_LABELS[key]), n, rate=n / prev if prev else None,
                                rate_from_top=n / top if top else None))
    steps[-1].contracts, steps[-1].amount_fen = tally.contracts, tally.amount_fen
    return steps


def funnel_by_fair(scope: Scope) -> list[dict[str, Any]]:
    """One row per fair that started in the period (or the scope's fair): its threads' funnel
    (as in `funnel` for that fair), the contracts linked to their deals and their 成交额."""
    stmt = sa.select(Fair.id, Fair.name, Fair.start_date).order_by(Fair.start_date.desc())
    start, end = scope.bounds()
    if start is not None:
        stmt = stmt.where(Fair.start_date >= start, Fair.start_date < end)
    if scope.fair_id:
        stmt = stmt.where(Fair.id == scope.fair_id)
    fairs = list(Session.execute(stmt.limit(100)))
    if not fairs:
        return []
    tallies: dict[int, _Tally] = {}
    for thread in _threads(scope, fair_ids=[f.id for f in fairs]):
        tallies.setdefault(thread.fair_id, _Tally()).add(thread)  # type: ignore[arg-type]
    rows = []
    for fair in fairs:
        tally = tallies.get(fair.id, _Tally())
        held, won = tally.get("meetings"), tally.get("contracts")
        rows.append({"fair_id": fair.id, "name": fair.name, "start_date": fair.start_date,
                     **{key: tally.get(key) for key in THREAD_STEPS},
                     "contract_count": tally.contracts, "amount_fen": tally.amount_fen,
                     "meeting_to_contract": (won / held) if held else None})
    return rows


