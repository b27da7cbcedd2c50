"""Every GET route in the URL map (routes added later included), visited by every kind of visitor with real
ids of objects in every status: no server error anywhere, and no hidden text reaches anyone who may not
see it (unpublished listings, confidential descriptions, contacts and inventors, introduction messages,
deal notes)."""
from __future__ import annotations

import re

import pytest

from tests.route_world import VISITORS, World, build_world, log_in, text, urls

# What the CSP (script-src 'self') would block: a script element with code in it, or an inline handler.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|\son[a-z]+=\"", re.I)


@pytest.fixture
def world(app, make) -> World:
    return build_world(make)


def test_every_route_for_every_visitor_answers_without_error_or_leak(app, client, world):
    all_urls = urls(app, world)
    assert len(all_urls) > 100  # the map really was walked
    failures: list[str] = []
    seen: set[str] = set()
    requests = 0
    for visitor in VISITORS:
        log_in(client, world.users.get(visitor))
        for url in all_urls:
            response = client.get(url)
            requests += 1
            if response.status_code >= 500:
                failures.append(f"{visitor} GET {url}: {response.status_code}")
                continue
            body = text(response) if not url.startswith("/static/") else ""
            if response.mimetype == "text/html" and (inline := INLINE_SCRIPT.search(body)):
                failures.append(f"{visitor} GET {url}: inline script the CSP blocks: {inline.group(0)[:60]}")
            for marker, allowed in world.secrets.items():
                if marker not in body:
                    continue
                if visitor in allowed:
                    seen.add(marker)
                else:
                    failures.append(f"{visitor} GET {url}: shows {marker}")
    print(f"route walker: {len(all_urls)} URLs x {len(VISITORS)} visitors = {requests} requests")
    assert not failures, "\n".join(failures[:60])
    # The walk reached the hidden texts: those allowed to see each one did see it somewhere.
    assert sorted(set(world.secrets) - seen) == []


def test_a_record_number_no_table_can_hold_is_a_404_on_every_route(app, client, world):
    """Every route with a number in its path answers 404 (or 405) for 2**31 and beyond (PostgreSQL's integer
    columns stop at 2**31 - 1: such a number must never reach a query)."""
    huge = 2**31
    log_in(client, world.users["staff"])
    checked = 0
    for rule in app.url_map.iter_rules():
        numbers = [name for name, conv in rule._converters.items() if type(conv).__name__ == "RecordNumber"]
        if not numbers:
            continue
        values = {name: huge for name in numbers}
        values.update({name: "result" for name in rule.arguments if name == "kind"})
        for name in set(rule.arguments) - set(values):
            values[name] = "x"
        url = rule.rule
        for name, value in values.items():
            url = re.sub(rf"<(?:[^:<>]+(?:\([^)]*\))?:)?{name}>", str(value), url)
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method)
        assert response.status_code in (404, 405), (method, url, response.status_code)  # never the database
        checked += 1
    assert checked > 40
