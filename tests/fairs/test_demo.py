"""The demo fairs load on top of the demo organizations and listings and make a usable picture."""
from __future__ import annotations

from matchmaker.demo import seed as demo
from matchmaker.fairs import report
from models import Fair, FairMeeting, Session
from models.deals import Deal


def test_demo_fairs_have_scheduled_meetings_and_outcomes(monkeypatch):
    monkeypatch.setattr(demo, "LOADERS", ("matchmaker.demo.listing_samples", "matchmaker.demo.fair_samples"))
    demo.load()
    past, upcoming = Session.query(Fair).order_by(Fair.start_date).all()
    assert (past.status, upcoming.status) == ("finished", "open")
    scheduled = Session.query(FairMeeting).filter(FairMeeting.fair_id == upcoming.id,
                                                  FairMeeting.slot_id.is_not(None)).count()
    assert scheduled == 3
    figures = report.figures(past.id)
    assert (figures.held, figures.no_show, figures.intentions_at_meetings) == (3, 1, 1)
    assert Session.query(Deal).filter(Deal.fair_id == past.id).count() == 2
