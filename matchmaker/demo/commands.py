"""`flask seed`: load the demo data into an empty database and print the demo accounts."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("seed")
@click.option("--force", is_flag=True, help="Load even when the database already has organizations.")
@with_appcontext
def seed(force: bool) -> None:
    """Load the demo data when the database is empty, and print the demo accounts."""
    from matchmaker.demo import seed as demo

    loaded = demo.load_if_empty(force=force)
    click.echo("demo data loaded" if loaded else "database already has data; demo not loaded")
    click.echo(f"Demo accounts (password for all: {demo.DEMO_PASSWORD}):")
    for email, role, org in demo.accounts():
        click.echo(f"  {role:<11} {email:<32} {org}")


commands = [seed]
