"""The database upgrade (release step) and the development server."""
from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import with_appcontext

from matchmaker import dbsetup


@click.command("db-upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every Alembic migration (the Procfile's release step)."""
    from matchmaker.listings import search

    dbsetup.upgrade(current_app.config["DATABASE_URL"])
    refreshed = search.reindex(missing_only=True)
    if refreshed:
        click.echo(f"search tokens recomputed for {refreshed} listings")
    click.echo("database is up to date")


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Development server with background jobs in-process (no Redis needed)."""
    from matchmaker.core import jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if jobs.mode() == "inprocess":
        jobs.start_inprocess_beat(app)
    click.echo(f"Matchmaker is serving at http://{host}:{port}")
    # app.run() refuses to start when launched from the `flask` command; this command is the server.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


commands = [db_upgrade, serve]
