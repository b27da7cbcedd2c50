"""Token scopes per area (listings, matching, deals, contracts, fairs, stats, account), read or write:
chosen on the account page, checked on every operation; tokens with the plain read/write of before
keep working in every area."""
from __future__ import annotations

import sqlalchemy as sa

from matchmaker.api import tokens, views
from models import ApiToken, ListingStatus, Session
from tests.api.test_api import CONTRACT, _bearer


def _scoped(user, *scopes: str) -> dict[str, str]:
    return _bearer(tokens.create(user, "scoped", list(scopes))[1])


def test_every_api_operation_belongs_to_an_area(app):
    operations = [rule for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api_")
                  and not rule.endpoint.startswith("api_docs")]
    assert len(operations) > 30
    with app.test_request_context("/"):
        unplaced = [r.endpoint for r in operations if views.area_of(r.endpoint) not in tokens.AREAS]
        assert unplaced == []
        assert views.area_of("api_listings.ListingMatches") == "matching"
        assert views.area_of("api_listings.dismiss") == "matching"
        assert views.area_of("api_listings.renew") == "listings"


def test_a_token_reaches_only_its_areas_and_levels(client, make, people):
    own = make.result(owner=people["researcher"], status=ListingStatus.PUBLISHED)
    listings_only = _scoped(people["researcher"], "listings:read", "listings:write")
    assert client.get("/api/v1/listings/result", headers=listings_only).status_code == 200
    renewed = client.post(f"/api/v1/listings/result/{own.id}/renew", headers=listings_only, json={})
    assert renewed.status_code == 200
    for path in ("/api/v1/me", "/api/v1/notifications", "/api/v1/deals", "/api/v1/fairs",
                 f"/api/v1/listings/result/{own.id}/matches"):
        refused = client.get(path, headers=listings_only)
        assert refused.status_code == 403 and refused.mimetype == "application/problem+json", path
        assert ":read scope" in refused.json["detail"], path
    reader = _scoped(people["researcher"], "listings:read", "account:read")
    assert client.get("/api/v1/me", headers=reader).json["token"]["scopes"] == ["listings:read", "account:read"]
    blocked = client.post(f"/api/v1/listings/result/{own.id}/close", headers=reader, json={"reason": "withdrawn"})
    assert blocked.status_code == 403 and "listings:write" in blocked.json["detail"]
    Session.refresh(own)
    assert own.status == ListingStatus.PUBLISHED  # nothing done
    staff_contracts = _scoped(people["staff"], "contracts:write")
    assert client.post("/api/v1/contracts", headers=staff_contracts, json=CONTRACT).status_code == 201
    assert client.get("/api/v1/contracts", headers=staff_contracts).status_code == 403  # write is not read
    assert client.get("/api/v1/stats", headers=staff_contracts).status_code == 403
    assert client.get("/api/v1/stats", headers=_scoped(people["staff"], "stats:read")).status_code == 200


def test_a_scope_never_adds_a_right_and_old_tokens_cover_every_area(client, people):
    stats_for_member = _scoped(people["enterprise"], "stats:read")
    assert client.get("/api/v1/stats", headers=stats_for_member).status_code == 403  # not staff: no statistics
    old = _scoped(people["staff"], "read")
    for path in ("/api/v1/me", "/api/v1/stats", "/api/v1/contracts", "/api/v1/fairs", "/api/v1/deals"):
        assert client.get(path, headers=old).status_code == 200, path
    assert client.post("/api/v1/contracts", headers=old, json=CONTRACT).status_code == 403


def test_the_account_page_offers_every_area(client, auth, people):
    auth.login(people["enterprise"])
    page = client.get("/account/tokens/?lang=en").get_data(as_text=True)
    for area in tokens.AREAS:
        assert f'value="{area}:read"' in page and f'value="{area}:write"' in page
    made = client.post("/account/tokens/?lang=en", data={"name": "Fair sync", "days": "30",
                                                          "scopes": ["fairs:read", "fairs:write", "nonsense"]})
    assert made.status_code == 200
    token = Session.scalar(sa.select(ApiToken))
    assert token.scopes == ["fairs:read", "fairs:write"]
    assert "Fairs: read/change data" in client.get("/account/tokens/?lang=en").get_data(as_text=True)
    none = client.post("/account/tokens/?lang=en", data={"name": "Nothing", "days": "30", "scopes": ["x:read"]})
    assert none.status_code == 422 and "Choose what the token may do" in none.get_data(as_text=True)
    assert 'value="x:read"' not in none.get_data(as_text=True)
