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
        # "id.version": a cookie made before the user's sessions were ended carries an older version.
        number, _dot, version = user_id.partition(".")
        if not number.isdigit() or not (version.isdigit() or version == ""):
            return None
        user = Session.get(User, int(number))
        if user is None or not user.active or user.session_version != int(version or 0):
            return None
        return user
