"""Asking a broker: an owner whose listing has no likely match asks the brokers, one broker takes it."""
from __future__ import annotations

import pytest

from models import HelpRequest, ListingStatus, Notification, Session
from tests.matching.test_matching import NEED, RICE


@pytest.fixture
def lonely_need(make, people):
    """A published, indexed need whose only candidate (a rice variety) is unlikely to meet it."""
    from matchmaker.listings import lifecycle

    for owner, factory, fields in ((people["researcher"], make.result, RICE), (people["enterprise"], make.need, NEED)):
        listing = factory(owner, status=ListingStatus.PENDING, **fields)
        lifecycle.approve_listing(people["staff"], listing)
    return listing


def _notices(user, kind):
    return Session.query(Notification).filter_by(user_id=user.id, kind=kind).all()


def test_the_owner_asks_a_broker_from_the_no_likely_match_block(client, auth, people, lonely_need):
    auth.login(people["enterprise"])
    page = client.get(f"/need/{lonely_need.id}?lang=en").get_data(as_text=True)
    assert "No likely match yet." in page and "Ask a broker" in page

    answer = client.post(f"/deals/help/need/{lonely_need.id}", data={"message": "我们愿意出资委托开发"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/need/{lonely_need.id}#listing-matches")
    again = client.post(f"/deals/help/need/{lonely_need.id}", data={"message": ""}, follow_redirects=True)
    assert "Brokers already have a request for this listing." in again.get_data(as_text=True)

    requests = Session.query(HelpRequest).all()
    assert len(requests) == 1 and requests[0].need_id == lonely_need.id
    assert requests[0].message == "我们愿意出资委托开发"
    assert len(_notices(people["broker"], "help.requested")) == 1
    assert len(_notices(people["other_broker"], "help.requested")) == 1


def test_a_broker_takes_the_request_and_the_owner_learns_who(client, auth, people, lonely_need):
    auth.login(people["enterprise"])
    client.post(f"/deals/help/need/{lonely_need.id}", data={"message": ""})
    request_id = Session.query(HelpRequest).one().id

    auth.login(people["broker"])
    board = client.get("/deals/help?lang=en").get_data(as_text=True)
    assert NEED["title"] in board and "Take it" in board
    assert client.post(f"/deals/help/{request_id}/take").status_code == 302
    mine = client.get("/deals/help?lang=en").get_data(as_text=True)
    assert "Taken by you" in mine and f"need_id={lonely_need.id}" in mine  # "open a deal" comes prefilled

    taken = _notices(people["enterprise"], "help.taken")
    assert len(taken) == 1 and taken[0].params["broker"] == people["broker"].name

    auth.login(people["other_broker"])
    assert NEED["title"] not in client.get("/deals/help?lang=en").get_data(as_text=True)
    refused = client.post(f"/deals/help/{request_id}/take", follow_redirects=True).get_data(as_text=True)
    assert "Another broker has already taken this request." in refused
    assert Session.get(HelpRequest, request_id).broker_id == people["broker"].id


def test_only_the_owner_may_ask_and_only_about_a_published_listing(client, auth, make, people, lonely_need):
    auth.login(people["outsider"])
    assert client.post(f"/deals/help/need/{lonely_need.id}", data={"message": "x"}).status_code == 403
    draft = make.need(people["enterprise"], status=ListingStatus.DRAFT, title="草稿需求")
    auth.login(people["enterprise"])
    client.get("/?lang=en")
    shown = client.post(f"/deals/help/need/{draft.id}", data={"message": "x"}, follow_redirects=True)
    assert "Publish the listing first" in shown.get_data(as_text=True)
    too_long = client.post(f"/deals/help/need/{lonely_need.id}", data={"message": "长" * 2001}, follow_redirects=True)
    assert "Keep the message under 2000 characters." in too_long.get_data(as_text=True)
    assert Session.query(HelpRequest).count() == 0
    assert client.get("/deals/help").status_code == 403  # enterprises do not see the brokers' list


def test_the_broker_who_took_it_closes_it(client, auth, people, lonely_need):
    auth.login(people["enterprise"])
    client.post(f"/deals/help/need/{lonely_need.id}", data={"message": ""})
    request_id = Session.query(HelpRequest).one().id
    auth.login(people["other_broker"])
    client.post(f"/deals/help/{request_id}/take")
    auth.login(people["broker"])
    assert client.post(f"/deals/help/{request_id}/close").status_code == 403
    auth.login(people["other_broker"])
    client.post(f"/deals/help/{request_id}/close")
    assert Session.get(HelpRequest, request_id).status == "closed"
    # A closed request no longer blocks a new one.
    auth.login(people["enterprise"])
    client.post(f"/deals/help/need/{lonely_need.id}", data={"message": "再试一次"})
    assert Session.query(HelpRequest).count() == 2
