"""Fixtures for listing tests: logging in as someone (and switching users within a test), English pages."""
from __future__ import annotations

import pytest
from flask import g


@pytest.fixture
def login(client, auth):
    def as_user(user) -> None:
        # The app fixture keeps one app context open, so requests share `g`; drop the cached user.
        g.pop("_login_user", None)
        if user is None:
            auth.logout()
        else:
            auth.login(user)

    return as_user


@pytest.fixture
def english(client):
    """Pages in English, so assertions read the English msgids whatever the catalog says."""
    client.get("/?lang=en")
    g.pop("_login_user", None)
    return client


@pytest.fixture(autouse=True)
def request_context(app):
    """Services translate their messages, which needs a request (the locale comes from it)."""
    with app.test_request_context("/"):
        yield
