"""Flask extension singletons. Imports nothing of the app; each is bound in create_app."""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
# No default limits: only the endpoints that need one (login, password reset) are limited.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
