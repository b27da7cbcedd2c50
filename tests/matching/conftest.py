"""Matching fixtures: publishing through the listings service (so the outbox runs), staff and broker users."""
from __future__ import annotations

from typing import Any

import pytest

from models import ListingStatus, Role


@pytest.fixture
def staff(make):
    return make.user(Role.STAFF)


@pytest.fixture
def publish(make, staff):
    """Create a listing under review and approve it, as staff would: the outbox indexes it inline."""
    from matchmaker.listings import lifecycle

    def _publish(kind: str, **fields: Any):
        factory = make.result if kind == "result" else make.need
        listing = factory(status=ListingStatus.PENDING, **fields)
        lifecycle.approve_listing(staff, listing)
        return listing

    return _publish
