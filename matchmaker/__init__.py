"""Matchmaker: technology-transfer matchmaking between research results and enterprise needs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    # Imports live here so `matchmaker.engine` and `matchmaker.reference` load without Flask.
    from flask import Flask

    from matchmaker.config import ROOT, load_config

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, test_config)

    import models
    from matchmaker import core, extensions
    from matchmaker.core import i18n, templating
    from matchmaker.features import FEATURES

    models.configure(app.config["DATABASE_URL"])
    app.teardown_appcontext(lambda _exc: models.Session.remove())

    extensions.babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=";".join(templating.translation_dirs()),
    )
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    core.init_app(app)
    for feature in FEATURES:
        feature.init_app(app)
    return app
