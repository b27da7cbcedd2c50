"""Matching efficiency (对接成功率): how introductions requested in a period went on to acceptances, deals
and contracts, by where they came from (a match suggestion, a search, a broker), by side and by
industry; and how quickly published needs found a counterpart.

Everything follows one thread: the introduction, the deal its acceptance opened (Deal.introduction_id)
and the contracts registered against that deal (Contract.deal_id). Deals a broker opened without an
introduction (a fair meeting, an offline contact) are counted by their own origin in `deals_by_origin`.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker import reference
from matchmaker.core import xlsx
from matchmaker.deals.deals import ORIGIN_LABELS
from matchmaker.stats.scope import Scope
from models import Contract, Deal, Introduction, IntroductionStatus, ListingStatus, Session, TechNeed, aware

REACH_DAYS = 30  # a need "found a counterpart" when an introduction involved it within this many days

SIDE_LABELS = {
    "result": _l("Enterprises asking about research results"),
    "need": _l("Research teams answering technical needs"),
}


@dataclass
class Step:
    """One row of a funnel: introductions requested, accepted, deals opened, contracts and their value."""

    label: str
    requested: int = 0
    accepted: int = 0
    deals: int = 0
    won: int = 0  # threads with at least one registered contract
    contracts: int = 0
    amount_fen: int = 0

    def rate(self, part: str) -> float | None:
        return getattr(self, part) / self.requested if self.requested else None


@dataclass
class NeedsReached:
    label: str
    published: int = 0
    reached: int = 0  # with an introduction within REACH_DAYS of publication

    @property
    def share(self) -> float | None:
        return self.reached / self.published if self.published else None


@dataclass
class Efficiency:
    scope: Scope
    total: Step
    by_origin: list[Step] = field(default_factory=list)
    by_side: list[Step] = field(default_factory=list)
    by_industry: list[Step] = field(default_factory=list)
    deals_by_origin: list[Step] = field(default_factory=list)
    needs: NeedsReached = field(default_factory=lambda: NeedsReached(""))
    needs_by_industry: list[NeedsReached] = field(default_factory=list)
    days_to_first_introduction: float | None = None  # median, over needs published in the period
    days_to_first_contract: float | None = None


def _moments(scope: Scope) -> tuple[datetime | None, datetime | None]:
    start, end = scope.bounds()
    if start is None or end is None:
        return None, None
    return datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(end.year, end.month, end.day, tzinfo=UTC)


def _in(stmt: Any, column: Any, scope: Scope) -> Any:
    start, end = _moments(scope)
    return stmt if start is None else stmt.where(column >= start, column < end)


def _contracts_by_deal(deal_ids: Iterable[int]) -> dict[int, tuple[int, int, date]]:
    """deal id -> (contracts, 成交额 in fen, first signing date)."""
    ids = list(set(deal_ids))
    if not ids:
        return {}
    rows = Session.execute(sa.select(Contract.deal_id, sa.func.count(), sa.func.sum(Contract.amount_fen),
                                     sa.func.min(Contract.signing_date))
                           .where(Contract.deal_id.in_(ids)).group_by(Contract.deal_id))
    return {deal: (int(n), int(amount or 0), first) for deal, n, amount, first in rows}


def _industry_label(section: str | None, lang: str) -> str:
    return reference.INDUSTRY_SECTIONS.label(section, lang) if section else _("Industry not given")


def efficiency(scope: Scope, lang: str = "zh") -> Efficiency:
    intros = list(Session.scalars(_in(sa.select(Introduction), Introduction.created_at, scope)))
    deal_of = dict(Session.execute(sa.select(Deal.introduction_id, Deal.id).where(
        Deal.introduction_id.in_([i.id for i in intros]))).all()) if intros else {}
    contracts = _contracts_by_deal(deal_of.values())

    total = Step(_("All introductions"))
    groups: dict[str, dict[str, Step]] = {"origin": {}, "side": {}, "industry": {}}
    for intro in intros:
        listing = intro.listing
        need = intro.need if intro.need_id else intro.counterpart_need
        keys = {"origin": str(ORIGIN_LABELS.get(intro.origin, intro.origin)),
                "side": str(SIDE_LABELS[intro.kind]),
                "industry": _industry_label((need or listing).industry_section, lang)}
        steps = [total] + [groups[g].setdefault(k, Step(k)) for g, k in keys.items()]
        deal = deal_of.get(intro.id)
        n, amount, _first = contracts.get(deal, (0, 0, None)) if deal else (0, 0, None)
        for step in steps:
            step.requested += 1
            step.accepted += intro.status == IntroductionStatus.ACCEPTED
            step.deals += deal is not None
            step.won += n > 0
            step.contracts += n
            step.amount_fen += amount

    direct = list(Session.execute(_in(sa.select(Deal.id, Deal.origin).where(Deal.introduction_id.is_(None)),
                                      Deal.created_at, scope)))
    direct_contracts = _contracts_by_deal(d for d, _o in direct)
    by_deal_origin: dict[str, Step] = {}
    for deal_id, origin in direct:
        label = str(ORIGIN_LABELS.get(origin, origin))
        step = by_deal_origin.setdefault(label, Step(label))
        n, amount, _first = direct_contracts.get(deal_id, (0, 0, None))
        step.deals += 1
        step.won += n > 0
        step.contracts += n
        step.amount_fen += amount

    report = Efficiency(scope, total, *[sorted(groups[g].values(), key=lambda s: (-s.requested, s.label))
                                        for g in ("origin", "side", "industry")],
                        deals_by_origin=sorted(by_deal_origin.values(), key=lambda s: (-s.deals, s.label)))
    _needs(report, scope, lang)
    return report


def _needs(report: Efficiency, scope: Scope, lang: str) -> None:
    """Needs published in the period: how many an introduction reached within REACH_DAYS, and the median
    days from publication to the first introduction and to the first contract."""
    needs = list(Session.execute(_in(
        sa.select(TechNeed.id, TechNeed.published_at, TechNeed.industry_section).where(
            TechNeed.published_at.is_not(None),
            TechNeed.status.in_([ListingStatus.PUBLISHED, ListingStatus.CLOSED, ListingStatus.EXPIRED])),
        TechNeed.published_at, scope)))
    ids = [n.id for n in needs]
    first_intro: dict[int, datetime] = {}
    if ids:
        for column in (Introduction.need_id, Introduction.counterpart_need_id):
            for need_id, moment in Session.execute(sa.select(column, sa.func.min(Introduction.created_at))
                                                   .where(column.in_(ids)).group_by(column)):
                moment = aware(moment)
                if need_id not in first_intro or moment < first_intro[need_id]:
                    first_intro[need_id] = moment
    first_contract = dict(Session.execute(
        sa.select(Deal.need_id, sa.func.min(Contract.signing_date)).join(Contract, Contract.deal_id == Deal.id)
        .where(Deal.need_id.in_(ids)).group_by(Deal.need_id)).all()) if ids else {}

    report.needs = NeedsReached(_("All needs published in the period"))
    by_industry: dict[str, NeedsReached] = defaultdict(lambda: NeedsReached(""))
    to_intro, to_contract = [], []
    for need in needs:
        published = aware(need.published_at)
        label = _industry_label(need.industry_section, lang)
        row = by_industry[label]
        row.label = label
        reached = need.id in first_intro and first_intro[need.id] - published <= timedelta(days=REACH_DAYS)
        for target in (report.needs, row):
            target.published += 1
            target.reached += reached
        if need.id in first_intro:
            to_intro.append(max(0.0, (first_intro[need.id] - published).total_seconds() / 86400))
        if need.id in first_contract:
            to_contract.append(max(0, (first_contract[need.id] - published.date()).days))
    report.needs_by_industry = sorted(by_industry.values(), key=lambda r: (-r.published, r.label))
    report.days_to_first_introduction = round(statistics.median(to_intro), 1) if to_intro else None
    report.days_to_first_contract = round(statistics.median(to_contract), 1) if to_contract else None


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def export_xlsx(report: Efficiency) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    head = [_("Group"), _("Introductions requested"), _("Accepted"), _("Deals opened"), _("Contracts"),
            _("Contract amount (10,000 yuan)"), _("Acceptance rate"), _("Requests that led to a contract")]
    for title, steps in ((_("By origin"), [report.total, *report.by_origin]), (_("By side"), report.by_side),
                         (_("By industry"), report.by_industry)):
        sheet = book.create_sheet(xlsx.sheet_title(title))
        sheet.append(head)
        for s in steps:
            sheet.append([s.label, s.requested, s.accepted, s.deals, s.contracts, s.amount_fen / 1_000_000,
                          _percent(s.rate("accepted")), _percent(s.rate("won"))])
        xlsx.bold_header(sheet)
    sheet = book.create_sheet(xlsx.sheet_title(_("Needs reached")))
    sheet.append([_("Industry"), _("Needs published"), _("Reached within %(days)s days", days=REACH_DAYS),
                  _("Share")])
    for row in [report.needs, *report.needs_by_industry]:
        sheet.append([row.label, row.published, row.reached, _percent(row.share)])
    xlsx.bold_header(sheet)
    return xlsx.to_bytes(book)

