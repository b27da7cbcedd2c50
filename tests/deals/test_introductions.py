"""Introductions: request, answer, release of confidential details to that counterpart alone, expiry."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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
    assert "Declined" in page and "The research team says its result is not yet mature enough for your use." in page
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


def test_pending_requests_show_the_reply_deadline_to_both_sides(client, auth, people, secret):
    auth.login(people["enterprise"])
    ask(client, secret)
    intro = Session.query(Introduction).one()
    intro.created_at = datetime(2031, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Quanzhou
    Session.commit()
    deadline = "2031-03-15 10:00"  # INTRODUCTION_EXPIRY_DAYS (14) later, when remind_and_expire expires it
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert f"The owner has until {deadline} to answer." in page
    assert deadline in client.get("/introductions/?lang=en").get_data(as_text=True)
    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=zh").get_data(as_text=True)
    assert f"请在 {deadline} 前答复。" in page
    assert deadline in client.get("/introductions/?lang=en").get_data(as_text=True)
    introductions.accept(people["researcher"], intro.id)
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert deadline not in page  # answered: no deadline any more


def _block(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</section>", start)]


def test_after_acceptance_both_sides_get_contacts_and_next_steps(client, auth, people, secret):
    people["enterprise"].phone = "13800000000"
    Session.commit()
    auth.login(people["enterprise"])
    ask(client, secret)
    intro = Session.query(Introduction).one()
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert 'id="contacts"' not in page and "0595-12345678" not in page  # nothing released before
    introductions.accept(people["researcher"], intro.id)
    deal = Session.query(Deal).one()

    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    contacts = _block(page, "contacts")
    assert "0595-12345678" in contacts and people["uni"].name in contacts  # the released owner contact
    steps = _block(page, "next-steps")
    assert f'href="mailto:{people["researcher"].email}?subject=' in steps  # write to the owner side
    assert f'href="/deals/{deal.id}"' in steps and "See the deal" in steps

    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=zh").get_data(as_text=True)
    contacts = _block(page, "contacts")
    assert "13800000000" in contacts and people["enterprise"].email in contacts
    steps = _block(page, "next-steps")
    assert f'href="mailto:{people["enterprise"].email}?subject=' in steps and "查看交易" in steps

    auth.login(people["outsider"])
    assert client.get(f"/introductions/{intro.id}").status_code == 404


def _options(page: str) -> list[str]:
    select = page[page.index('name="reason"'):]
    return re.findall(r'<option[^>]*value="([^"]+)"', select[:select.index("</select>")])


def test_a_research_side_declines_with_its_own_reasons_worded_for_the_enterprise(client, auth, people, secret):
    auth.login(people["enterprise"])
    ask(client, secret)
    intro = Session.query(Introduction).one()
    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert _options(page) == ["not_a_fit", "too_early", "not_available", "no_capacity", "description_unclear",
                              "other"]
    assert "Our result does not fit this need" in page and "Route to market unclear" not in page
    refused = client.post(f"/introductions/{intro.id}/decline?lang=en", data={"reason": "route_to_market_unclear"})
    assert refused.status_code == 400  # a buyer's reason is not the research side's to give
    assert client.post(f"/introductions/{intro.id}/decline", data={"reason": "not_a_fit"}).status_code == 302
    mine = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert "Our result does not fit this need" in mine[mine.index('id="decline-reason"'):]
    auth.login(people["enterprise"])
    theirs = client.get(f"/introductions/{intro.id}?lang=zh").get_data(as_text=True)
    assert "成果方认为其成果与贵方需求不匹配。" in theirs[theirs.index('id="decline-reason"'):]


def test_an_enterprise_declines_a_research_side_with_reasons_worded_for_the_researcher(client, auth, people,
                                                                                      make):
    need = make.need(owner=people["enterprise"], title="冷库温度实时监测")
    auth.login(people["researcher"])
    ask(client, need, message="我们的传感器成果可以用于冷库。")
    intro = Session.query(Introduction).one()
    auth.login(people["enterprise"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert _options(page) == ["too_early", "benefit_unclear", "route_to_market_unclear", "description_unclear",
                              "other"]
    assert "Benefit over what we use now unclear" in page
    assert client.post(f"/introductions/{intro.id}/decline", data={"reason": "benefit_unclear"}).status_code == 302
    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    reason = page[page.index('id="decline-reason"'):]
    assert "The company did not see the benefit over what it uses now; a comparison may help." in reason


def test_a_broker_finds_the_side_they_act_for_by_name_without_javascript(client, auth, make, people, secret):
    """The "On behalf of" choice is a picker, not a list of every organization: the Find button posts the
    form back, the matches come as choices with the message kept, and nothing is sent until chosen."""
    from models import OrgKind

    make.org(OrgKind.ENTERPRISE, name="德化陶瓷有限公司")
    wanted = make.org(OrgKind.ENTERPRISE, name="德化白瓷 100% “精品”厂")
    auth.login(people["broker"])
    page = client.get(f"/result/{secret.id}?lang=en").get_data(as_text=True)
    assert 'name="counterpart_org_id__q"' in page and '<select id="counterpart_org_id"' not in page
    assert people["firm"].name not in page  # organizations are not listed on the page

    found = ask(client, secret, message="替企业询问试用条件", _pick="counterpart_org_id",
                counterpart_org_id__q="100% “精品”")
    body = found.get_data(as_text=True)
    assert found.status_code == 200
    assert f'value="{wanted.id}"' in body and "德化陶瓷有限公司" not in body  # quotes and % taken literally
    assert "替企业询问试用条件" in body and secret.title in body
    assert Session.query(Introduction).count() == 0

    none = ask(client, secret, _pick="counterpart_org_id", counterpart_org_id__q="没有这家")
    assert "Nothing matches" in none.get_data(as_text=True)

    assert ask(client, secret, counterpart_org_id=str(wanted.id)).status_code == 302
    assert Session.query(Introduction).one().counterpart_org_id == wanted.id


def test_the_broker_picker_does_not_show_a_listing_that_cannot_be_requested(client, auth, make, people):
    draft = make.result(owner=people["researcher"], status="draft", title="尚未发布的成果")
    auth.login(people["broker"])
    response = ask(client, draft, _pick="counterpart_org_id", counterpart_org_id__q="德化")
    assert response.status_code == 404
