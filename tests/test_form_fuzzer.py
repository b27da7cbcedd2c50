"""A form fuzzer: hostile values (NUL bytes, huge and non-finite numbers, impossible dates, 100k-character
strings, non-numeric ids, scripts, SQL) posted to every POST route in the URL map, in every field any page
of the site offers, by each kind of signed-in user, on SQLite and on PostgreSQL. No answer is a server
error, and the database stays usable after each one (nothing is left half-written in the session)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Session
from tests.route_world import VISITORS, World, build_world, log_in, text, urls

# Each of these reaches every form as every field, for each side and staff.
KNOWN_BAD = [
    "\x00", "标题\x00注入", "9" * 40, "-1", "0", "1e309", "NaN", "inf", "６０万", "9999-12-31", "0001-01-01",
    "2024-02-30", "25:61", "x" * 100_000, "<script>alert(1)</script>", "'; DROP TABLE users; --", "\u202e", "[]",
]
# Then random texts and integers of any size, drawn by Hypothesis.
RANDOM = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=40))
SIGNED_IN = [v for v in VISITORS if v not in ("anonymous", "deactivated_owner")]
FIELD = re.compile(r'name="([A-Za-z_][A-Za-z0-9_\-]*)"')


@pytest.fixture
def app_config(app_config):
    return {**app_config, "FAIR_SCHEDULE_SECONDS": 0.5}


@pytest.fixture
def world(app, make) -> World:
    return build_world(make)


@pytest.fixture
def field_names(app, client, world) -> list[str]:
    """Every form field name any page shows to staff or to either side."""
    names: set[str] = set()
    pages = [u for u in urls(app, world) if not u.startswith(("/static/", "/lang/"))]
    for visitor in ("staff", "researcher", "enterprise", "broker"):
        log_in(client, world.users[visitor])
        for url in pages:
            names.update(FIELD.findall(text(client.get(url))))
    names.discard("csrf_token")
    assert len(names) > 50  # the forms really were found
    return sorted(names)


def _post_everywhere(app, client, world: World, field_names: list[str], value: str, visitor: str) -> list[str]:
    one_each = [("result", world.ids["result_open"][0]), ("need", world.ids["need_confidential"][0])]
    targets = urls(app, world, method="POST", listings=one_each, missing=False)
    assert len(targets) > 50
    failures = []
    for url in targets:
        log_in(client, world.users[visitor])
        response = client.post(url, data={name: value for name in field_names})
        if response.status_code >= 500:
            failures.append(f"{visitor} POST {url} with {value[:30]!r}: {response.status_code}")
        Session.rollback()
        Session.execute(sa.text("SELECT 1"))  # the connection is still usable
    return failures


def test_known_bad_values_in_every_form_never_cause_a_server_error(app, client, world, field_names):
    failures = []
    for value in KNOWN_BAD:
        for visitor in ("staff", "researcher", "enterprise"):
            failures += _post_everywhere(app, client, world, field_names, value, visitor)
    assert not failures, "\n".join(failures[:40])


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=RANDOM, visitor=st.sampled_from(SIGNED_IN))
def test_random_values_in_every_form_never_cause_a_server_error(app, client, world, field_names, value, visitor):
    failures = _post_everywhere(app, client, world, field_names, value, visitor)
    assert not failures, "\n".join(failures[:40])
