"""Listings: research results and technical needs, their lifecycle, keyword search and exports."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.core import jobs
    from matchmaker.listings import lifecycle, views

    app.register_blueprint(views.bp)
    jobs.register(app, "listings.expire", lifecycle.expire_listings, every=3600)
