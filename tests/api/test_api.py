"""The JSON API as programs use it: personal tokens (shown once, stored hashed, scoped, revocable,
expiring, rate-limited), the same visibility rules as the site, problem-details errors, and an OpenAPI
document that covers every route."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker.api import tokens
from matchmaker.listings import lifecycle
from models import ApiToken, ListingStatus, Notification, Role, Session, utcnow
from tests.matching.test_matching import BEARING, NEED


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _token(user, scopes=("read",)) -> str:
    return tokens.create(user, "test", list(scopes))[1]


def test_a_token_is_made_on_the_account_page_shown_once_and_stored_hashed(client, auth, people):
    auth.login(people["enterprise"])
    page = client.post("/account/tokens/?lang=en", data={"name": "ERP sync", "scopes": ["read"], "days": "30"})
    html = page.get_data(as_text=True)
    secret = html[html.index("<code>mm_") + 6:html.index("</code>", html.index("<code>mm_"))]
    stored = Session.scalar(sa.select(ApiToken))
    assert stored.name == "ERP sync" and len(stored.token_hash) == 64
    assert secret not in (stored.token_hash, stored.prefix)
    assert secret not in client.get("/account/tokens/").get_data(as_text=True)  # never shown again
    me = client.get("/api/v1/me", headers=_bearer(secret))
    assert me.status_code == 200 and me.json["email"] == people["enterprise"].email
    assert me.json["token"]["name"] == "ERP sync"
    Session.refresh(stored)
    assert stored.last_used_at is not None and stored.last_used_ip == "127.0.0.1"
    bad = client.post("/account/tokens/?lang=en", data={"name": "", "days": "9999"})
    assert bad.status_code == 422 and "Name the token" in bad.get_data(as_text=True)


def test_revoked_expired_and_deactivated_tokens_are_refused_at_once(client, auth, people):
    secret = _token(people["enterprise"])
    token = Session.scalar(sa.select(ApiToken))
    assert client.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    auth.login(people["enterprise"])
    client.post(f"/account/tokens/{token.id}/revoke")
    refused = client.get("/api/v1/me", headers=_bearer(secret))
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert refused.json["detail"] == "The token is unknown, revoked or expired."
    expired = _token(people["enterprise"])
    Session.scalar(sa.select(ApiToken).where(ApiToken.revoked_at.is_(None))).expires_at = utcnow() - timedelta(1)
    Session.commit()
    assert client.get("/api/v1/me", headers=_bearer(expired)).status_code == 401
    active = _token(people["outsider"])
    people["outsider"].active = False
    Session.commit()
    assert client.get("/api/v1/me", headers=_bearer(active)).status_code == 401
    auth.login(people["researcher"])  # someone else's token cannot be revoked by guessing its number
    assert client.post(f"/account/tokens/{token.id}/revoke", follow_redirects=True).status_code == 200
    for malformed in ("Bearer", "Basic abc", "Bearer mm_" + "x" * 300, "Bearer not-ours"):
        assert client.get("/api/v1/me", headers={"Authorization": malformed}).status_code == 401


def test_a_read_token_cannot_change_anything(client, people):
    Session.add(Notification(user_id=people["enterprise"].id, kind="match.new", params={"title": "A"}))
    Session.commit()
    note = Session.scalar(sa.select(Notification))
    read_only, read_write = _token(people["enterprise"]), _token(people["enterprise"], ("read", "write"))
    refused = client.post(f"/api/v1/notifications/{note.id}/read", headers=_bearer(read_only))
    assert refused.status_code == 403 and "write scope" in refused.json["detail"]
    done = client.post(f"/api/v1/notifications/{note.id}/read", headers=_bearer(read_write))
    assert done.status_code == 200 and done.json["read_at"]
    listed = client.get("/api/v1/notifications", headers=_bearer(read_only)).json
    assert listed["unread"] == 0 and [n["id"] for n in listed["items"]] == [note.id]
    other = _token(people["outsider"], ("read", "write"))
    assert client.post(f"/api/v1/notifications/{note.id}/read", headers=_bearer(other)).status_code == 404


def test_listings_follow_the_sites_rules_and_hidden_text_never_leaves(client, make, people):
    draft = make.result(owner=people["researcher"], status=ListingStatus.DRAFT, title="草稿成果",
                        description="DRAFTSECRET")
    secret = make.result(owner=people["researcher"], confidential=True, title="保密成果",
                         description="CONFSECRET", contact_phone="CONFPHONE")
    open_one = make.result(owner=people["researcher"], title="公开成果", description="公开的说明")
    callers = {"anonymous": {}, **{who: _bearer(_token(people[who])) for who in people}}
    allowed = {"researcher", "staff"}
    for who, headers in callers.items():
        bodies = [client.get(f"/api/v1/listings/result/{i}", headers=headers) for i in (draft.id, secret.id)]
        bodies.append(client.get("/api/v1/listings/result?limit=100", headers=headers))
        bodies.append(client.get(f"/api/v1/listings/result/{open_one.id}", headers=headers))
        text = "".join(b.get_data(as_text=True) for b in bodies)
        assert bodies[0].status_code == (200 if who in allowed else 404), who
        assert bodies[1].json["details_visible"] is (who in allowed), who
        assert bodies[3].json["description"] == "公开的说明"
        for hidden in ("DRAFTSECRET", "CONFSECRET", "CONFPHONE"):
            assert (hidden in text) is (who in allowed and hidden != "CONFPHONE"), (who, hidden)
    listed = client.get("/api/v1/listings/result?limit=1").json
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    rest = client.get(f"/api/v1/listings/result?limit=1&cursor={listed['next_cursor']}").json
    assert rest["items"][0]["id"] != listed["items"][0]["id"] and rest["next_cursor"] is None


def test_matches_come_with_the_estimate_and_reasons_the_site_shows(client, make, people):
    staff = people["staff"]
    need = make.need(owner=people["enterprise"], status=ListingStatus.PENDING, **NEED)
    result = make.result(owner=people["researcher"], status=ListingStatus.PENDING, **BEARING)
    for listing in (need, result):
        lifecycle.approve_listing(staff, listing)
    headers = _bearer(_token(people["enterprise"]))
    found = client.get(f"/api/v1/listings/need/{need.id}/matches", headers=headers).json["items"]
    assert found[0]["listing"]["id"] == result.id and 0 < found[0]["relevance"] <= 1
    page = client.get(f"/need/{need.id}").get_data(as_text=True)
    assert f'{found[0]["percent"]}%' in page  # the same figure the listing page shows
    text = client.get("/api/v1/matches", query_string={"q": "设备坏了才修太被动", "side": "result"}).json
    assert text["items"][0]["listing"]["id"] == result.id
    short = client.get("/api/v1/matches", query_string={"q": "a"}).json
    assert short["advice"]


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/listings/result?limit=0", 422), ("/api/v1/listings/result?limit=abc", 422),
    ("/api/v1/listings/result?cursor=%%%", 422), ("/api/v1/listings/patent", 404),
    ("/api/v1/listings/result/99999999999", 404), ("/api/v1/matches?side=other&q=x", 422),
    ("/api/v1/matches", 422), ("/api/v1/notifications", 401),
])
def test_bad_requests_get_problem_details(client, path, status):
    response = client.get(path)
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert response.json["status"] == status and response.json["title"]


def test_the_openapi_document_covers_every_api_route_and_the_reference_page_is_served(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1") and "bearer" in spec["components"]["securitySchemes"]
    documented = {p.replace("{", "<").replace("}", ">") for p in spec["paths"]}
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")
              and r.endpoint.startswith("api_") and not r.endpoint.startswith("api_docs")}
    normalise = {r: r.replace("<any(result,need):kind>", "<kind>").replace("<int:", "<") for r in routes}
    assert set(normalise.values()) <= documented, set(normalise.values()) - documented
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and 'data-spec-url="/api/v1/openapi.json"' in page.get_data(as_text=True)
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_an_owner_writes_a_listing_through_the_api_with_the_sites_rules(client, people):
    writer = _bearer(_token(people["researcher"], ("read", "write")))
    refused = client.post("/api/v1/listings/result", headers=writer, json={"summary": "没有标题", "colour": "red"})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert "colour" in str(refused.json["errors"])  # unknown fields are named, not dropped
    missing = client.post("/api/v1/listings/result", headers=writer, json={"summary": "没有标题"})
    assert missing.status_code == 422 and "title" in missing.json["errors"]
    made = client.post("/api/v1/listings/result", headers=writer, json={
        "title": "高效热泵干燥装置", "summary": "余热回收的热泵干燥", "description": "适用于食品和木材干燥",
        "industry_section": "C", "industry_division": "34", "maturity": "pilot", "trl": 6,
        "price_fen": 80 * 1_000_000, "transfer_modes": ["license"]})
    assert made.status_code == 201, made.json
    body = made.json
    assert body["status"] == "draft" and body["amount"]["fen"] == 80 * 1_000_000 and body["details_visible"]
    path = f"/api/v1/listings/result/{body['id']}"
    changed = client.patch(path, headers=writer, json={"title": "高效热泵干燥装置（二代）"})
    assert changed.status_code == 200 and changed.json["title"].endswith("（二代）")
    assert changed.json["summary"] == "余热回收的热泵干燥"  # fields not named are kept
    assert client.post(f"{path}/submit", headers=writer).json["status"] == "pending"
    assert client.post(f"{path}/submit", headers=writer).status_code == 409  # already under review
    outsider = _bearer(_token(people["outsider"], ("read", "write")))
    assert client.patch(path, headers=outsider, json={"title": "改掉"}).status_code == 404  # not visible to them
    reader = _bearer(_token(people["researcher"]))
    assert client.post(f"{path}/close", headers=reader, json={"reason": "withdrawn"}).status_code == 403
    closed = client.post(f"{path}/close", headers=writer, json={"reason": "withdrawn"})
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    need_side = client.post("/api/v1/listings/need", headers=writer, json={"title": "需求", "summary": "x"})
    assert need_side.status_code == 403  # a research team does not post needs, as on the site


def test_an_introduction_asked_and_accepted_through_the_api_opens_the_details(client, make, people):
    secret = make.result(owner=people["researcher"], confidential=True, title="保密的成果", description="SECRETTEXT")
    asker = _bearer(_token(people["enterprise"], ("read", "write")))
    owner = _bearer(_token(people["researcher"], ("read", "write")))
    bad = client.post("/api/v1/introductions", headers=asker, json={"kind": "result", "listing_id": "x"})
    assert bad.status_code == 422 and "listing_id" in str(bad.json["errors"])
    made = client.post("/api/v1/introductions", headers=asker,
                       json={"kind": "result", "listing_id": secret.id, "message": "想了解授权条件"})
    assert made.status_code == 201 and made.json["status"] == "pending" and made.json["reply_by"]
    assert "SECRETTEXT" not in made.get_data(as_text=True)
    waiting = client.get("/api/v1/introductions", headers=owner).json["received"]
    assert [i["id"] for i in waiting] == [made.json["id"]]
    assert client.post(f"/api/v1/introductions/{made.json['id']}/accept", headers=asker).status_code == 403
    accepted = client.post(f"/api/v1/introductions/{made.json['id']}/accept", headers=owner, json={})
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    opened = client.get(f"/api/v1/listings/result/{secret.id}", headers=asker).json
    assert opened["details_visible"] and opened["description"] == "SECRETTEXT"
    again = client.post(f"/api/v1/introductions/{made.json['id']}/decline", headers=owner, json={"reason": "other"})
    assert again.status_code == 409  # already answered


CONTRACT = {"contract_type": "transfer", "project_name": "高效电机控制专利转让", "signing_date": "2026-03-18",
            "amount_fen": 60 * 1_000_000, "tech_amount_fen": 50 * 1_000_000, "seller_name": "某大学",
            "seller_entity_type": "022", "seller_region": "350500", "buyer_name": "某公司",
            "buyer_entity_type": "150", "buyer_region": "350500"}


def test_two_clerks_cannot_overwrite_each_others_contract_edits(client, people):
    clerk = _bearer(_token(people["staff"], ("read", "write")))
    made = client.post("/api/v1/contracts", headers=clerk, json=CONTRACT)
    assert made.status_code == 201, made.json
    assert made.headers["ETag"] == 'W/"1"' and made.json["amount"]["fen"] == 60 * 1_000_000
    path = f"/api/v1/contracts/{made.json['id']}"
    assert client.get(path, headers=clerk).headers["ETag"] == 'W/"1"'
    edit = {**CONTRACT, "project_name": "高效电机控制专利转让（修订）"}
    assert client.put(path, headers=clerk, json=edit).status_code == 428
    first = client.put(path, headers={**clerk, "If-Match": 'W/"1"'}, json=edit)
    assert first.status_code == 200 and first.headers["ETag"] == 'W/"2"'
    late = client.put(path, headers={**clerk, "If-Match": 'W/"1"'}, json={**CONTRACT, "project_name": "覆盖"})
    assert late.status_code == 412 and late.mimetype == "application/problem+json"
    assert client.get(path, headers=clerk).json["project_name"].endswith("（修订）")
    listed = client.get("/api/v1/contracts?year=2026", headers=clerk).json
    assert listed["total"] == 1 and listed["items"][0]["tech_amount"]["fen"] == 50 * 1_000_000
    enterprise = _bearer(_token(people["enterprise"], ("read", "write")))
    assert client.post("/api/v1/contracts", headers=enterprise, json=CONTRACT).status_code == 403
    assert client.get(path, headers=enterprise).status_code == 404  # not a party to it
    bad = client.post("/api/v1/contracts", headers=clerk, json={**CONTRACT, "amount_fen": -5})
    assert bad.status_code == 422 and "amount_fen" in str(bad.json["errors"])


def test_a_broker_moves_a_deal_and_notes_it_through_the_api(client, make, people):
    from matchmaker.deals import deals

    broker = make.user(Role.BROKER)
    result = make.result(owner=people["researcher"])
    deal = deals.open_deal(result.id, None, people["researcher"].organization_id,
                           people["enterprise"].organization_id, None, "match", stage="introduced")
    headers = _bearer(_token(broker, ("read", "write")))
    assert [d["id"] for d in client.get("/api/v1/deals", headers=headers).json["items"]] == [deal.id]
    moved = client.post(f"/api/v1/deals/{deal.id}/stage", headers=headers, json={"stage": "meeting_held"})
    assert moved.status_code == 200 and moved.json["stage"] == "meeting_held" and moved.json["broker_id"] == broker.id
    noted = client.post(f"/api/v1/deals/{deal.id}/notes", headers=headers, json={"body": "约定下周二现场考察"})
    assert noted.status_code == 201
    assert client.get(f"/api/v1/deals/{deal.id}", headers=headers).json["notes"][0]["body"] == "约定下周二现场考察"
    lost = client.post(f"/api/v1/deals/{deal.id}/stage", headers=headers, json={"stage": "lost"})
    assert lost.status_code == 422 and "lost_reason" in lost.json["errors"]
    party = _bearer(_token(people["enterprise"], ("read", "write")))
    assert client.get(f"/api/v1/deals/{deal.id}", headers=party).status_code == 200  # a party reads it
    assert client.post(f"/api/v1/deals/{deal.id}/stage", headers=party,
                       json={"stage": "intention_signed"}).status_code == 403  # but only brokers move it
    assert client.get(f"/api/v1/deals/{deal.id}", headers=_bearer(_token(people["outsider"]))).status_code == 404


def test_a_retried_post_with_the_same_idempotency_key_creates_nothing_twice(client, people):
    from models import ResearchResult

    writer = {**_bearer(_token(people["researcher"], ("read", "write"))), "Idempotency-Key": "import-row-17"}
    body = {"title": "高效热泵干燥装置", "summary": "余热回收的热泵干燥"}
    first = client.post("/api/v1/listings/result", headers=writer, json=body)
    again = client.post("/api/v1/listings/result", headers=writer, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert Session.scalar(sa.select(sa.func.count()).select_from(ResearchResult)) == 1
    other_path = client.post("/api/v1/introductions", headers=writer, json={"kind": "result", "listing_id": 1})
    assert other_path.status_code == 422 and "another request" in other_path.json["detail"]
    other_user = {**_bearer(_token(people["staff"], ("read", "write"))), "Idempotency-Key": "import-row-17"}
    theirs = client.post("/api/v1/listings/result", headers=other_user,
                         json={**body, "organization_id": people["researcher"].organization_id})
    assert theirs.status_code == 201 and theirs.json["id"] != first.json["id"]  # keys are per caller
    spec = client.get("/api/v1/openapi.json").json
    params = spec["paths"]["/api/v1/listings/{kind}"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" for p in params)
