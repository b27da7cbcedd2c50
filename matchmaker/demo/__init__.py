"""Demo data written by us (`flask seed`, `make run`): organizations, listings, deals, contracts, fairs."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.demo import commands

    for command in commands.commands:
        app.cli.add_command(command)
