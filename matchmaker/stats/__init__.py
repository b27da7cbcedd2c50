"""Statistics: contract totals (技术交易额) by period and breakdown, the thread funnel, exports and the API."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.stats import commands
    from matchmaker.stats.views import api, dashboard

    app.register_blueprint(dashboard.bp)
    app.register_blueprint(api.bp)
    for command in commands.commands:
        app.cli.add_command(command)
