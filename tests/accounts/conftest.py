"""Fixtures for account and admin tests: each request sees a fresh user and locale, services get a request."""
from __future__ import annotations

import re

import pytest
from flask import g


@pytest.fixture(autouse=True)
def fresh_requests(app):
    """The app fixture keeps one app context open, so requests share `g`; without this, the user and
    language of the first request would stick for the whole test."""

    def forget() -> None:
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)

    app.before_request(forget)
    with app.test_request_context("/"):  # services translate messages, which needs a request
        yield
    forget()


def csrf_token_from(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def flashes(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</div>', page, re.S)]
