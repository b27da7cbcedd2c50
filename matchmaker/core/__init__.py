"""Cross-cutting code every feature uses: domain errors, permissions, audit, notifications, jobs,
mail, XLSX, passwords, i18n and web helpers. Imports no feature."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Wire the cross-cutting pieces; features are wired after this by matchmaker.features."""
    from matchmaker.core import error_pages, jobs, notifications, pickers, security, templating, web, webhooks

    app.url_map.converters["int"] = web.RecordNumber  # before any feature adds its routes
    templating.init_app(app)
    security.init_app(app)
    error_pages.init_app(app)
    app.register_blueprint(pickers.bp)
    jobs.init_app(app)
    jobs.register(app, "notifications.email_digest", notifications.send_digest, every=3600)
    jobs.register(app, "webhooks.deliver", webhooks.deliver_due, every=30)
