"""Introductions: request, answer, release of confidential details to that counterpart alone, expiry."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import render_template
from flask_login import login_user

from matchmaker.core import jobs, permissions
from matchmaker.deals import introductions
from models import Deal, Introduction, IntroductionStatus, Notification, Session, utcnow


@pytest.fixture
def secret(make, people):
    """A confidential published result owned by the university."""
    return make.result(owner=people["researcher"], confidential=True, contact_phone="0595-12345678")


def ask(client, listing, message="我们想在产线上试用这项技术。", **extra):
    data = {"kind": listing.kind, "listing_id": str(listing.id), "message": message, "next": "/introductions/",
            **extra}
    return client.post("/introductions/request?lang=en", data=data)


def test_accepting_releases_details_to_that_counterpart_alone(client, auth, people, secret):
    auth.login(people["enterprise"])
    assert ask(client, secret).status_code == 302
    intro = Session.query(Introduction).one()
    assert intro.status == IntroductionStatus.PENDING and intro.counterpart_org_id == people["firm"].id
    assert Session.query(Notification).filter_by(user_id=people["researcher"].id,
                                                 kind="introduction.requested").count() == 1
    assert not permissions.can_view_details(people["enterprise"], secret)

    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert "我们想在产线上试用这项技术。" in page and "Accept the introduction" in page
    assert client.post(f"/introductions/{intro.id}/accept").status_code == 302

    Session.expire_all()
    assert intro.status == IntroductionStatus.ACCEPTED
    assert permissions.can_view_details(people["enterprise"], secret)
    assert not permissions.can_view_details(people["outsider"], secret)
    assert not permissions.can_view_details(people["other_broker"], secret)
    deal = Session.query(Deal).one()  # the pipeline starts from the accepted introduction
    assert (deal.stage, deal.seller_org_id, deal.buyer_org_id) == ("introduced", people["uni"].id, people["firm"].id)
    assert Session.query(Notification).filter_by(user_id=people["enterprise"].id,
                                                 kind="introduction.accepted").count() == 1


def test_declining_needs_a_reason_and_the_requester_sees_it(client, auth, people, secret):
    auth.login(people["enterprise"])
    ask(client, secret)
    intro = Session.query(Introduction).one()
    auth.login(people["researcher"])
    refused = client.post(f"/introductions/{intro.id}/decline?lang=en", data={"reason": "other", "note": ""})
    assert refused.status_code == 400 and "Explain the reason in a few words." in refused.get_data(as_text=True)
    assert client.post(f"/introductions/{intro.id}/decline", data={"reason": "too_early"}).status_code == 302
    auth.login(people["enterprise"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert "Declined" in page and "Too early stage" in page
    assert not permissions.can_view_details(people["enterprise"], secret)


def test_only_the_owner_answers_and_strangers_see_nothing(client, auth, people, secret):
    auth.login(people["enterprise"])
    ask(client, secret)
    intro = Session.query(Introduction).one()
    assert client.post(f"/introductions/{intro.id}/accept").status_code == 403
    auth.login(people["outsider"])
    assert client.get(f"/introductions/{intro.id}").status_code == 404
    assert client.post(f"/introductions/{intro.id}/accept").status_code == 404
    Session.expire_all()
    assert intro.status == IntroductionStatus.PENDING


def test_a_second_request_while_one_is_open_is_refused(client, auth, people, secret):
    auth.login(people["enterprise"])
    ask(client, secret)
    response = ask(client, secret)
    assert "already" in client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert Session.query(Introduction).count() == 1


def test_a_broker_requests_on_behalf_of_a_side(client, auth, people, secret):
    auth.login(people["broker"])
    refused = ask(client, secret)
    assert "Choose the organization you act for." in client.get(refused.headers["Location"] + "?lang=en").get_data(
        as_text=True)
    ask(client, secret, counterpart_org_id=str(people["firm"].id))
    intro = Session.query(Introduction).one()
    assert (intro.counterpart_org_id, intro.broker_id) == (people["firm"].id, people["broker"].id)
    introductions.accept(people["researcher"], intro.id)
    assert permissions.can_view_details(people["enterprise"], secret)
    assert Session.query(Deal).one().broker_id == people["broker"].id


def test_both_sides_see_their_requests(client, auth, people, secret):
    auth.login(people["enterprise"])
    ask(client, secret)
    mine = client.get("/introductions/?lang=en").get_data(as_text=True)
    assert "Requests I made" in mine and secret.title in mine and "Waiting for an answer" in mine
    auth.login(people["researcher"])
    theirs = client.get("/introductions/?lang=en").get_data(as_text=True)
    assert people["firm"].name in theirs and "Answer" in theirs


def test_unanswered_requests_are_reminded_then_expire(app, people, secret):
    intro = introductions.request(people["enterprise"], introductions.RequestInput("result", secret.id, "你好"))
    intro.created_at = utcnow() - timedelta(days=app.config["INTRODUCTION_REMINDER_DAYS"] + 1)
    Session.commit()
    assert jobs.run_now("introductions.remind_and_expire") == {"expired": 0, "reminded": 1}
    assert jobs.run_now("introductions.remind_and_expire") == {"expired": 0, "reminded": 0}
    assert Session.query(Notification).filter_by(kind="introduction.reminder").count() == 1

    intro.created_at = utcnow() - timedelta(days=app.config["INTRODUCTION_EXPIRY_DAYS"] + 1)
    Session.commit()
    assert jobs.run_now("introductions.remind_and_expire") == {"expired": 1, "reminded": 0}
    Session.expire_all()
    assert intro.status == IntroductionStatus.EXPIRED
    assert Session.query(Notification).filter_by(user_id=people["enterprise"].id,
                                                 kind="introduction.expired").count() == 1
    # An expired request no longer blocks a new one.
    introductions.request(people["enterprise"], introductions.RequestInput("result", secret.id, "再试一次"))
    assert Session.query(Introduction).count() == 2


@pytest.mark.parametrize("viewer, expected", [
    (None, "Log in to ask the owner for an introduction."),
    ("enterprise", "Request an introduction"),
    ("researcher", "No introduction requests are waiting."),
])
def test_listing_actions_partial_shows_the_viewer_what_they_can_do(app, people, secret, viewer, expected):
    with app.test_request_context("/?lang=en"):
        if viewer:
            login_user(people[viewer])
        html = render_template("introductions/_listing_actions.html", listing=secret, kind="result")
    assert expected in html
