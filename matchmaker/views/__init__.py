"""Blueprints, one module per feature. Views parse, call one service, render."""
from __future__ import annotations

from importlib import import_module

from flask import Flask

# Module name under matchmaker.views; each exposes `bp`.
BLUEPRINTS = (
    "main",
    "listings",
    "introductions",
    "deals",
    "contracts",
    "stats",
    "api",
    "fairs",
    "auth",
    "admin",
    "imports",
    "jobs",
    "matching",
    "notifications",
)


def register_blueprints(app: Flask) -> None:
    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f"matchmaker.views.{name}").bp)
