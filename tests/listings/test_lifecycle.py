"""The review lifecycle in the service: allowed transitions, refused ones, audit and matching events."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from matchmaker.core.errors import Conflict, ValidationFailed
from matchmaker.listings import events as listing_events
from matchmaker.listings import lifecycle
from models import AuditLog, ListingStatus, ResearchResult, Role, Session


def _values(**kw):
    values = {"title": "基于振动信号的设备预测性维护系统", "summary": "出故障前预警", "description": "详细",
              "keywords": ["振动", "预测性维护"], "industry_section": "C", "industry_division": "34",
              "transfer_modes": ["license"], "maturity": "pilot", "price_fen": 50 * 1_000_000}
    values.update(kw)
    return values


@pytest.fixture
def events(app):
    calls: list[tuple[str, int]] = []

    def listener(kind: str, listing_id: int) -> None:
        # A listener's row must land in the same transaction as the change.
        calls.append((kind, listing_id))
        Session.add(AuditLog(action="outbox", entity_type=kind, entity_id=listing_id, changes={}))

    listing_events.on_listing_changed(app, listener)
    yield calls
    app.extensions[listing_events._KEY].remove(listener)


@pytest.fixture
def people(make):
    researcher = make.user(Role.RESEARCHER)
    staff = make.user(Role.STAFF)
    return researcher, staff


def _actions(listing):
    return [row.action for row in Session.scalars(sa.select(AuditLog).where(
        AuditLog.entity_id == listing.id, AuditLog.entity_type == "research_results").order_by(AuditLog.id))]


def test_draft_to_published_with_audit_and_matching_event(people, events):
    researcher, staff = people
    listing = lifecycle.create_listing(researcher, "result", _values())
    assert listing.status == ListingStatus.DRAFT
    assert listing.trl == 7  # default TRL of "passed pilot" when none is given
    assert listing.valid_until == date.today() + timedelta(days=365) or listing.valid_until > date.today()
    lifecycle.submit_listing(researcher, listing)
    assert listing.status == ListingStatus.PENDING and listing.submitted_at
    lifecycle.approve_listing(staff, listing)
    Session.expire_all()
    listing = Session.get(ResearchResult, listing.id)
    assert listing.status == ListingStatus.PUBLISHED and listing.published_at
    assert _actions(listing) == ["listing.create", "listing.submit", "listing.approve"]
    assert events == [("result", listing.id)]
    outbox = Session.scalars(sa.select(AuditLog).where(AuditLog.action == "outbox")).all()
    assert len(outbox) == 1  # committed together with the approval


def test_reject_needs_a_reason_and_owner_resubmits(people):
    researcher, staff = people
    listing = lifecycle.create_listing(researcher, "result", _values(), submit=True)
    with pytest.raises(ValidationFailed) as exc:
        lifecycle.reject_listing(staff, listing, "  ")
    assert "reason" in exc.value.errors
    lifecycle.reject_listing(staff, listing, "请补充中试数据")
    assert listing.status == ListingStatus.REJECTED and listing.review_note == "请补充中试数据"
    lifecycle.update_listing(researcher, listing, _values(description="补充了中试数据"), submit=True)
    assert listing.status == ListingStatus.PENDING
    lifecycle.approve_listing(staff, listing)
    assert listing.status == ListingStatus.PUBLISHED and listing.review_note is None


@pytest.mark.parametrize("status, action", [
    (ListingStatus.DRAFT, "approve"),
    (ListingStatus.DRAFT, "reject"),
    (ListingStatus.PUBLISHED, "submit"),
    (ListingStatus.PENDING, "submit"),
    (ListingStatus.CLOSED, "close"),
    (ListingStatus.DRAFT, "renew"),
    (ListingStatus.PENDING, "renew"),
    (ListingStatus.CLOSED, "renew"),
    (ListingStatus.CLOSED, "edit"),
])
def test_refused_transitions_leave_the_listing_as_it_was(make, people, status, action):
    researcher, staff = people
    listing = make.result(owner=researcher, status=status)
    calls = {
        "approve": lambda: lifecycle.approve_listing(staff, listing),
        "reject": lambda: lifecycle.reject_listing(staff, listing, "不行"),
        "submit": lambda: lifecycle.submit_listing(researcher, listing),
        "close": lambda: lifecycle.close_listing(researcher, listing, "withdrawn"),
        "renew": lambda: lifecycle.renew_listing(researcher, listing),
        "edit": lambda: lifecycle.update_listing(researcher, listing, _values()),
    }
    with pytest.raises(Conflict):
        calls[action]()
    Session.rollback()
    assert Session.get(ResearchResult, listing.id).status == status


def test_editing_published_text_goes_back_to_review_but_price_does_not(make, people, events):
    researcher, _staff = people
    listing = make.result(owner=researcher, title="原标题", summary="简介")
    base = _values(title="原标题", summary="简介", description=listing.description, keywords=[])
    assert lifecycle.update_listing(researcher, listing, {**base, "price_fen": 1_000_000}) is False
    assert listing.status == ListingStatus.PUBLISHED
    assert lifecycle.update_listing(researcher, listing, {**base, "title": "新标题"}) is True
    assert listing.status == ListingStatus.PENDING
    assert events == [("result", listing.id), ("result", listing.id)]


def test_close_with_reason_and_renew_an_expired_listing(make, people, events):
    researcher, _staff = people
    expired = make.result(owner=researcher, status=ListingStatus.EXPIRED, valid_until=date.today() - timedelta(days=3))
    lifecycle.renew_listing(researcher, expired, date.today() + timedelta(days=90))
    assert expired.status == ListingStatus.PUBLISHED and expired.valid_until == date.today() + timedelta(days=90)
    with pytest.raises(ValidationFailed):
        lifecycle.renew_listing(researcher, expired, date.today() - timedelta(days=1))
    with pytest.raises(ValidationFailed):
        lifecycle.close_listing(researcher, expired, "bored")
    lifecycle.close_listing(researcher, expired, "transferred")
    assert expired.status == ListingStatus.CLOSED and expired.close_reason == "transferred" and expired.closed_at
    assert events == [("result", expired.id), ("result", expired.id)]


def test_detail_page_lifecycle_buttons(client, make, login, people):
    researcher, staff = people
    listing = make.result(owner=researcher, status=ListingStatus.DRAFT)
    login(researcher)
    client.post(f"/result/{listing.id}/submit")
    assert Session.get(ResearchResult, listing.id).status == ListingStatus.PENDING
    login(staff)
    queue = client.get("/admin/review").get_data(as_text=True)
    assert listing.title in queue
    client.post(f"/result/{listing.id}/reject", data={"reason": "缺少专利号"})
    assert Session.get(ResearchResult, listing.id).status == ListingStatus.REJECTED
    login(researcher)
    page = client.get(f"/result/{listing.id}").get_data(as_text=True)
    assert "缺少专利号" in page
