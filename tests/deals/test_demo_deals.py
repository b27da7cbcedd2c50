"""The demo data tells a plausible story on the statistics dashboard and the pipeline."""
from __future__ import annotations

import sqlalchemy as sa

from matchmaker.core import permissions
from matchmaker.demo import seed
from matchmaker.stats import stats
from models import Contract, Deal, Fair, Introduction, ResearchResult, Session, User


def test_demo_has_an_accepted_introduction_that_releases_a_confidential_result(app):
    seed.load()
    accepted = Session.scalars(sa.select(Introduction).where(Introduction.status == "accepted")).all()
    pending = Session.scalars(sa.select(Introduction).where(Introduction.status == "pending")).all()
    assert (len(accepted), len(pending)) == (1, 1)
    [intro] = accepted
    result = Session.get(ResearchResult, intro.result_id)
    assert result.confidential
    asker = Session.scalar(sa.select(User).where(User.email == "enterprise@demo.cn"))
    other = Session.scalar(sa.select(User).where(User.email == "food@demo.cn"))
    assert permissions.can_view_details(asker, result) and not permissions.can_view_details(other, result)
    assert Session.scalar(sa.select(Deal).where(Deal.introduction_id == intro.id)) is not None


def test_demo_dashboard_funnel_stays_within_100_percent_and_links_its_contracts(app):
    seed.load()
    with app.test_request_context("/?lang=en"):
        board = stats.dashboard(stats.Scope(period="all"), "en")
        assert all(s.rate is None or s.rate <= 1 for s in board.funnel)
        assert all(row["meeting_to_contract"] is None or row["meeting_to_contract"] <= 1
                   for row in board.funnel_by_fair)
        contracts_step = board.funnel[-1]
    linked = Session.scalar(sa.select(sa.func.count()).where(Contract.deal_id.is_not(None)))
    assert contracts_step.contracts == linked == 2
    # Most of the register is historical: no deal and no fair.
    total = Session.scalar(sa.select(sa.func.count()).select_from(Contract))
    unlinked = Session.scalar(sa.select(sa.func.count()).where(Contract.deal_id.is_(None), Contract.fair_id.is_(None)))
    assert unlinked / total > 0.9
    # Contracts linked to a fair were signed after it started.
    for signed, start in Session.execute(sa.select(Contract.signing_date, Fair.start_date)
                                         .join(Fair, Fair.id == Contract.fair_id)):
        assert signed >= start
