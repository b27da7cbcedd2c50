"""Accounts: sign-up, log-in, password reset, profiles, organizations and the admin pages."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.accounts import login
    from matchmaker.accounts.views import admin, auth

    login.init_login(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
