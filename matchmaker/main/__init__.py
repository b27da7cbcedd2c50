"""The site's frame: home page, language switch, notifications inbox, job progress, database upgrade
and the development server."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.main import commands
    from matchmaker.main.views import home, jobs, notifications

    for blueprint in (home.bp, notifications.bp, jobs.bp):
        app.register_blueprint(blueprint)
    for command in commands.commands:
        app.cli.add_command(command)
