"""Broker judgments of matches and their export; strong-match notifications, the notifications page, digests."""
from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from matchmaker.core import notifications
from models import MatchFeedback, Notification, Role, Session
from tests.matching.test_matching import BEARING, NEED


@pytest.fixture
def pair(publish):
    return publish("need", **NEED), publish("result", **BEARING)


def _judge(client, need, result, **form):
    data = {"need_id": need.id, "result_id": result.id, "next": f"/need/{need.id}", **form}
    return client.post("/matches/feedback", data=data)


@pytest.mark.parametrize(("verdict", "reason", "saved"), [
    ("good", "", True),
    ("bad", "too_early", True),
    ("bad", "", False),          # a bad verdict needs a reason
    ("bad", "made_up", False),   # only reasons from the fixed list
    ("maybe", "", False),
])
def test_broker_judges_a_suggestion(client, auth, make, pair, verdict, reason, saved):
    broker = make.user(Role.BROKER)
    auth.login(broker)
    response = _judge(client, *pair, verdict=verdict, reason=reason)
    assert response.status_code == 302
    rows = Session.scalars(sa.select(MatchFeedback)).all()
    assert bool(rows) == saved
    if saved:
        assert (rows[0].verdict, rows[0].reason or "", rows[0].user_id) == (verdict, reason, broker.id)


def test_judging_again_replaces_the_earlier_judgment(client, auth, make, pair):
    auth.login(make.user(Role.BROKER))
    _judge(client, *pair, verdict="good")
    _judge(client, *pair, verdict="bad", reason="off_topic", note="不相关")
    rows = Session.scalars(sa.select(MatchFeedback)).all()
    assert [(r.verdict, r.reason, r.note) for r in rows] == [("bad", "off_topic", "不相关")]


@pytest.mark.parametrize("role", [Role.RESEARCHER, Role.ENTERPRISE])
def test_owners_cannot_judge_matches(client, auth, make, pair, role):
    auth.login(make.user(role))
    assert _judge(client, *pair, verdict="good").status_code == 403


def test_broker_sees_the_judgment_form_on_a_need_page(client, auth, make, pair):
    need, _result = pair
    auth.login(make.user(Role.BROKER))
    html = client.get(f"/need/{need.id}?lang=en").get_data(as_text=True)
    assert "Judge this suggestion" in html and "Too early stage" in html


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_staff_export_judgments(client, auth, make, pair, staff, fmt):
    need, result = pair
    auth.login(make.user(Role.BROKER))
    _judge(client, need, result, verdict="bad", reason="benefit_unclear", note="收益说不清")
    auth.login(staff)
    response = client.get(f"/matches/feedback/export.{fmt}")
    assert response.status_code == 200
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text))) if fmt == "csv" else [json.loads(x) for x in text.splitlines()]
    assert [(int(r["need_id"]), int(r["result_id"]), r["verdict"], r["reason"], r["note"]) for r in rows] == [
        (need.id, result.id, "bad", "benefit_unclear", "收益说不清")]


def test_brokers_cannot_export_judgments(client, auth, make):
    auth.login(make.user(Role.BROKER))
    assert client.get("/matches/feedback/export.csv").status_code == 403


def test_a_new_strong_match_notifies_both_owners_once(client, auth, publish):
    need = publish("need", **NEED)
    result = publish("result", **BEARING)
    rows = Session.scalars(sa.select(Notification).where(Notification.kind == "match.new")).all()
    assert {r.user_id for r in rows} == {need.owner_id, result.owner_id}
    publish("result", **{**BEARING, "title": "轴承故障预测系统（改进版）"})
    first_pair = Session.scalars(sa.select(Notification).where(
        Notification.dedupe_key.startswith(f"match:need:{need.id}:result:{result.id}:"))).all()
    assert len(first_pair) == 2  # one per owner; the earlier pair is not announced a second time
    auth.login(need.owner)
    html = client.get("/notifications/?lang=en").get_data(as_text=True)
    assert f'New strong match for "{need.title}": {result.title}' in html.replace("&#34;", '"')


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, auth, publish):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    note = Session.scalar(sa.select(Notification).where(Notification.user_id == need.owner_id))
    auth.login(need.owner)
    response = client.post(f"/notifications/{note.id}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/need/{need.id}")
    Session.refresh(note)
    assert note.read_at is not None


def test_someone_elses_notification_cannot_be_opened(client, auth, make, publish):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    note = Session.scalar(sa.select(Notification).where(Notification.user_id == need.owner_id))
    auth.login(make.user(Role.ENTERPRISE))
    assert client.post(f"/notifications/{note.id}/open").status_code == 404


def test_mark_all_read(client, auth, publish):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    auth.login(need.owner)
    client.post("/notifications/read-all")
    assert not Session.scalars(sa.select(Notification).where(
        Notification.user_id == need.owner_id, Notification.read_at.is_(None))).all()


def test_email_digest_lists_new_matches_once(app, publish):
    need = publish("need", **NEED)
    publish("result", **BEARING)
    assert notifications.send_digest() == 2
    assert notifications.send_digest() == 0
    mails = [m for m in app.extensions["mail_outbox"] if m["To"] == need.owner.email]
    assert len(mails) == 1 and need.title in mails[0].get_content()


@pytest.mark.parametrize(("kind", "params", "expected"), [
    ("match.new", {"title": "A", "other_title": "B"}, 'New strong match for "A": B'),
    ("listing_expired", {"title": "A"}, 'Your listing "A" has expired'),
    ("something.new", {"title": "A"}, "Update: A"),
    ("match.new", {}, 'New strong match for "": '),
])
def test_notification_messages(app, kind, params, expected):
    from flask_babel import force_locale

    with force_locale("en"):
        assert notifications.render(Notification(kind=kind, params=params)) == expected


def test_an_introduction_asked_from_a_match_records_the_match_and_the_pair(client, auth, pair):
    """The need's owner opens a suggested result from the need's match list and asks for an introduction:
    it is recorded as coming from a match, for this need, and the deal it opens carries both."""
    import re

    from models import Deal, Introduction
    from models.deals import DealOrigin

    need, result = pair
    owner = need.owner
    auth.login(owner)
    matches_page = client.get(f"/need/{need.id}").get_data(as_text=True)
    link = re.search(rf'href="(/result/{result.id}\?[^"]*)"', matches_page)
    assert link and "from=match" in link.group(1) and f"via={need.id}" in link.group(1)
    detail = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert re.search(r'name="origin"[^>]*value="match"', detail)
    # Reached without the match (a search hit), the same page records a search.
    assert re.search(r'name="origin"[^>]*value="search"', client.get(f"/result/{result.id}").get_data(as_text=True))
    client.post("/introductions/request", data={
        "kind": "result", "listing_id": result.id, "origin": "match", "counterpart_listing_id": need.id,
        "message": "想了解轴承故障预测能否用于我们的产线"})
    intro = Session.query(Introduction).one()
    assert (intro.origin, intro.counterpart_need_id) == (DealOrigin.MATCH, need.id)
    auth.login(result.owner)
    client.post(f"/introductions/{intro.id}/accept")
    deal = Session.query(Deal).one()
    assert (deal.origin, deal.need_id, deal.result_id) == (DealOrigin.MATCH, need.id, result.id)
