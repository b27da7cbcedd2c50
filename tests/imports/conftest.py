"""Fixtures for import tests: fresh user per request (see tests/accounts/conftest.py), staff and organizations."""
from __future__ import annotations

import pytest

from models import OrgKind, Role
from tests.accounts.conftest import fresh_requests  # noqa: F401  (autouse fixture shared with account tests)


@pytest.fixture
def staff(make, client, auth):
    user = make.user(Role.STAFF)
    auth.login(user)
    return user


@pytest.fixture
def university(make):
    return make.org(OrgKind.UNIVERSITY, name="泉州理工大学", name_en="Quanzhou University of Technology")


@pytest.fixture
def enterprise(make):
    return make.org(OrgKind.ENTERPRISE, name="海峡智能装备有限公司")


@pytest.fixture(autouse=True)
def changed_listings(app, monkeypatch) -> list[tuple[str, int]]:
    """Record listing_changed calls instead of embedding each imported listing (the matching tests do that)."""
    from matchmaker.listings import events as listing_events

    calls: list[tuple[str, int]] = []
    monkeypatch.setitem(app.extensions, listing_events._KEY,
                        [lambda kind, listing_id: calls.append((kind, listing_id))])
    return calls
