"""Each API token has its own rate limit: 429 with Retry-After as problem details, other tokens unaffected."""
from __future__ import annotations

import pytest

from matchmaker.api import tokens
from matchmaker.extensions import limiter
from models import OrgKind, Role


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def people(make):
    return {"enterprise": make.user(Role.ENTERPRISE, make.org(OrgKind.ENTERPRISE)),
            "researcher": make.user(Role.RESEARCHER, make.org(OrgKind.UNIVERSITY))}


def _token(user) -> str:
    return tokens.create(user, "test", ["read"])[1]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "5 per minute"}


def test_each_token_has_its_own_rate_limit(client, people):
    limiter.reset()
    first, second = _token(people["enterprise"]), _token(people["researcher"])
    codes = [client.get("/api/v1/me", headers=_bearer(first)).status_code for _ in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429
    limited = client.get("/api/v1/me", headers=_bearer(first))
    assert limited.mimetype == "application/problem+json" and int(limited.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 200
