"""Flask-Login wiring: how a session cookie becomes a User."""
from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from matchmaker.extensions import login_manager
from models import Session, User


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = Session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None
