"""The hourly expiry job: past-validity listings expire, owners are reminded once beforehand."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from matchmaker.core import jobs
from matchmaker.listings import lifecycle
from models import ListingStatus, Notification, ResearchResult, Role, Session, TechNeed


def _notes(kind: str) -> list[Notification]:
    return list(Session.scalars(sa.select(Notification).where(Notification.kind == kind)))


def test_job_is_registered_hourly(app):
    assert jobs.periodic(app)["listings.expire"] == 3600


def test_expiry_and_single_reminder(app, make):
    owner = make.user(Role.RESEARCHER, email="owner@qzut.edu.cn")
    past = make.result(owner=owner, title="过期成果", valid_until=date.today() - timedelta(days=1))
    soon = make.result(owner=owner, title="即将到期成果", valid_until=date.today() + timedelta(days=5))
    later = make.result(owner=owner, title="远期成果", valid_until=date.today() + timedelta(days=60))
    need = make.need(title="即将到期需求", valid_until=date.today() + timedelta(days=1))

    assert jobs.run_now("listings.expire") == {"expired": 1, "reminded": 2}
    Session.expire_all()
    assert Session.get(ResearchResult, past.id).status == ListingStatus.EXPIRED
    assert Session.get(ResearchResult, soon.id).status == ListingStatus.PUBLISHED
    assert Session.get(ResearchResult, soon.id).expiry_reminded_at is not None
    assert Session.get(ResearchResult, later.id).expiry_reminded_at is None
    reminders = _notes("listing_expiring")
    assert {(n.user_id, n.params["title"]) for n in reminders} == {
        (owner.id, "即将到期成果"), (need.owner_id, "即将到期需求")}
    assert [n.params["title"] for n in _notes("listing_expired")] == ["过期成果"]
    outbox = app.extensions["mail_outbox"]
    assert {m["To"] for m in outbox} == {"owner@qzut.edu.cn", Session.get(TechNeed, need.id).owner.email}
    assert any("即将到期成果" in m["Subject"] for m in outbox)

    # Running again the same day tells nobody anything new.
    assert jobs.run_now("listings.expire") == {"expired": 0, "reminded": 0}
    assert len(app.extensions["mail_outbox"]) == len(outbox) and len(_notes("listing_expiring")) == 2


def test_renewal_allows_a_new_reminder_and_republishes(app, make):
    owner = make.user(Role.RESEARCHER)
    listing = make.result(owner=owner, valid_until=date.today() + timedelta(days=3))
    jobs.run_now("listings.expire")
    lifecycle.renew_listing(owner, listing, date.today() + timedelta(days=10))
    assert listing.expiry_reminded_at is None
    jobs.run_now("listings.expire")
    assert len(_notes("listing_expiring")) == 2


def test_a_listing_past_validity_disappears_from_browse_even_before_the_job(client, make):
    make.result(title="昨天到期", valid_until=date.today() - timedelta(days=1))
    assert "昨天到期" not in client.get("/results").get_data(as_text=True)
