"""Command-line entry points (`flask --app matchmaker ...`): thin wrappers around services."""
from __future__ import annotations

from importlib import import_module

import click
from flask import Flask, current_app

# Feature modules under matchmaker.commands; each exposes `commands` (a list of click commands).
COMMAND_MODULES = ("core", "imports", "matching", "stats")


def init_app(app: Flask) -> None:
    for name in COMMAND_MODULES:
        for command in import_module(f"matchmaker.commands.{name}").commands:
            app.cli.add_command(command)


def echo_json(data: object) -> None:
    import json

    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def app_config(key: str) -> object:
    return current_app.config[key]
