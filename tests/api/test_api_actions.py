"""Renewing a listing, taking a suggestion off one's listing and putting it back, judging a match and
opening a deal by hand through /api/v1, with the site's rules: who may, which listings they may name,
and no confidential text in any answer to someone who may not see it."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from matchmaker.listings import lifecycle
from models import Deal, ListingStatus, MatchDismissal, MatchFeedback, Role, Session
from tests.api.test_api import _bearer, _token
from tests.matching.test_matching import BEARING, NEED


def _writer(user) -> dict[str, str]:
    return _bearer(_token(user, ("read", "write")))


def test_an_owner_renews_an_expired_listing_and_it_is_public_again(client, make, people):
    expired = make.result(owner=people["researcher"], status=ListingStatus.EXPIRED,
                          valid_until=date.today() - timedelta(days=3))
    path = f"/api/v1/listings/result/{expired.id}/renew"
    assert client.post(path, headers=_bearer(_token(people["researcher"])), json={}).status_code == 403  # read token
    assert client.post(path, headers=_writer(people["outsider"]), json={}).status_code == 404  # not visible to them
    past = client.post(path, headers=_writer(people["researcher"]), json={"valid_until": "2020-01-01"})
    assert past.status_code == 422 and "valid_until" in past.json["errors"]
    until = (date.today() + timedelta(days=200)).isoformat()
    renewed = client.post(path, headers=_writer(people["researcher"]), json={"valid_until": until})
    assert renewed.status_code == 200 and renewed.json["status"] == "published"
    assert renewed.json["valid_until"] == until
    assert client.get(f"/api/v1/listings/result/{expired.id}").status_code == 200  # anyone sees it again
    draft = make.result(owner=people["researcher"], status=ListingStatus.DRAFT)
    conflict = client.post(f"/api/v1/listings/result/{draft.id}/renew", headers=_writer(people["researcher"]), json={})
    assert conflict.status_code == 409 and conflict.mimetype == "application/problem+json"


def test_an_owner_takes_a_suggestion_off_and_puts_it_back(client, make, people):
    need = make.need(owner=people["enterprise"], status=ListingStatus.PENDING, **NEED)
    result = make.result(owner=people["researcher"], status=ListingStatus.PENDING, **BEARING)
    for listing in (need, result):
        lifecycle.approve_listing(people["staff"], listing)
    owner = _writer(people["enterprise"])
    base = f"/api/v1/listings/need/{need.id}/matches"
    assert result.id in [m["listing"]["id"] for m in client.get(base, headers=owner).json["items"]]
    bad = client.post(f"{base}/{result.id}/dismiss", headers=owner, json={"reason": "boring"})
    assert bad.status_code == 422 and "reason" in str(bad.json["errors"])
    stranger = client.post(f"{base}/{result.id}/dismiss", headers=_writer(people["outsider"]),
                           json={"reason": "not_relevant"})
    assert stranger.status_code == 403 and Session.scalar(sa.select(MatchDismissal)) is None
    done = client.post(f"{base}/{result.id}/dismiss", headers=owner, json={"reason": "not_relevant"})
    assert done.status_code == 200 and done.json["dismissed"] and done.json["reason"] == "not_relevant"
    assert result.id not in [m["listing"]["id"] for m in client.get(base, headers=owner).json["items"]]
    assert [d["other_id"] for d in client.get(f"{base}/dismissed", headers=owner).json["items"]] == [result.id]
    assert client.get(f"{base}/dismissed", headers=_writer(people["outsider"])).json["items"] == []
    back = client.post(f"{base}/{result.id}/restore", headers=owner)
    assert back.status_code == 200 and back.json["dismissed"] is False
    assert result.id in [m["listing"]["id"] for m in client.get(base, headers=owner).json["items"]]
    assert client.post(f"{base}/{result.id}/restore", headers=owner).status_code == 404  # nothing to restore
    draft = make.result(owner=people["outsider"], status=ListingStatus.DRAFT)
    assert client.post(f"{base}/{draft.id}/dismiss", headers=owner, json={"reason": "not_now"}).status_code == 404


def test_brokers_judge_a_match_others_may_not(client, make, people):
    need, result = make.need(owner=people["enterprise"]), make.result(owner=people["researcher"])
    broker = _writer(make.user(Role.BROKER))
    pair = {"need_id": need.id, "result_id": result.id}
    unexplained = client.post("/api/v1/matches/feedback", headers=broker, json={**pair, "verdict": "bad"})
    assert unexplained.status_code == 422 and "reason" in str(unexplained.json["errors"])
    judged = client.post("/api/v1/matches/feedback", headers=broker,
                         json={**pair, "verdict": "bad", "reason": "too_early", "note": "样机阶段", "score": 0.4})
    assert judged.status_code == 201 and judged.json["reason"] == "too_early"
    again = client.post("/api/v1/matches/feedback", headers=broker, json={**pair, "verdict": "good"})
    assert again.status_code == 201 and Session.scalar(sa.select(sa.func.count()).select_from(MatchFeedback)) == 1
    owner = client.post("/api/v1/matches/feedback", headers=_writer(people["enterprise"]),
                        json={**pair, "verdict": "good"})
    assert owner.status_code == 403
    draft = make.need(owner=people["enterprise"], status=ListingStatus.DRAFT)
    hidden = client.post("/api/v1/matches/feedback", headers=broker,
                         json={"need_id": draft.id, "result_id": result.id, "verdict": "good"})
    assert hidden.status_code == 404


def test_a_broker_opens_a_deal_with_the_sites_rules(client, make, people):
    result, need = make.result(owner=people["researcher"]), make.need(owner=people["enterprise"])
    broker = _writer(make.user(Role.BROKER))
    made = client.post("/api/v1/deals", headers=broker, json={
        "result_id": result.id, "need_id": need.id, "origin": "offline", "next_action": "约双方见面",
        "next_action_date": (date.today() + timedelta(days=7)).isoformat()})
    assert made.status_code == 201, made.json
    assert made.json["buyer_org_id"] == people["enterprise"].organization_id and made.json["stage"] == "introduced"
    assert made.json["next_action"] == "约双方见面"
    member = client.post("/api/v1/deals", headers=_writer(people["enterprise"]),
                         json={"result_id": result.id, "need_id": need.id, "origin": "offline"})
    assert member.status_code == 403
    secret = make.result(owner=people["researcher"], confidential=True, description="DEALSECRET")
    draft = make.need(owner=people["outsider"], status=ListingStatus.DRAFT, description="DRAFTNEED")
    refused = client.post("/api/v1/deals", headers=broker,
                          json={"result_id": secret.id, "need_id": draft.id, "origin": "match"})
    assert refused.status_code == 422 and set(refused.json["errors"]) >= {"result_id", "need_id"}
    assert "DEALSECRET" not in refused.get_data(as_text=True) and "DRAFTNEED" not in refused.get_data(as_text=True)
    for wrong in ({"result_id": result.id, "origin": "rumour"}, {"result_id": result.id, "origin": "offline",
                                                                 "stage": "registered"},
                  {"result_id": result.id, "origin": "offline", "buyer_org_id": people["researcher"].organization_id}):
        assert client.post("/api/v1/deals", headers=broker, json=wrong).status_code == 422, wrong
    assert Session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 1
