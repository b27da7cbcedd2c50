"""Helpers for the features' click commands (thin wrappers around services)."""
from __future__ import annotations

import json

import click


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))
