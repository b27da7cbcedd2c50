"""Every GET operation of /api/v1 (operations added later included), called with a token of every kind
of visitor (and an organization token) on the route walker's world of listings in every status: no
server error, and no hidden text (drafts, confidential descriptions and contacts, introduction
messages, deal notes) in any answer to a caller who may not see it."""
from __future__ import annotations

import pytest

from matchmaker.api import tokens
from tests.route_world import VISITORS, World, build_world, text, urls


@pytest.fixture
def world(app, make) -> World:
    return build_world(make)


def test_every_api_read_for_every_token_answers_without_error_or_leak(app, client, world):
    api_urls = [u for u in urls(app, world) if u.startswith("/api/v1/") and not u.startswith("/api/v1/docs")]
    assert len(api_urls) > 60
    callers: dict[str, dict[str, str]] = {"anonymous": {}}
    for visitor in VISITORS[1:]:
        callers[visitor] = {"Authorization": f"Bearer {tokens.create(world.users[visitor], 'walk', ['read'])[1]}"}
    researcher = world.users["researcher"]
    organization = researcher.organization
    # The research team's organization token sees what its members see.
    org_secret = tokens.create_for_organization(world.users["staff"], organization.id, "walk", ["read"])[1]
    callers["organization_token"] = {"Authorization": f"Bearer {org_secret}"}
    failures: list[str] = []
    seen: set[str] = set()
    for caller, headers in callers.items():
        as_visitor = "researcher" if caller == "organization_token" else caller
        for url in api_urls:
            response = client.get(url, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{caller} GET {url}: {response.status_code}")
                continue
            body = text(response)
            for marker, allowed in world.secrets.items():
                if marker in body:
                    if as_visitor in allowed:
                        seen.add(marker)
                    else:
                        failures.append(f"{caller} GET {url}: shows {marker}")
    assert not failures, "\n".join(failures[:60])
    # The walk reached hidden texts through the API: the owners saw their drafts and confidential details.
    assert {"HIDDENresultdrafttext", "CONFIDENTIALresulttext", "CONFIDENTIALneedtext"} <= seen
