"""`flask import-listings`: bulk import of results or needs from a CSV, XLSX or JSONL file."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from matchmaker.core.cli import echo_json


@click.command("import-listings")
@click.option("--kind", type=click.Choice(["result", "need"]), required=True, help="What the file holds.")
@click.option("--organization", "organization", default=None,
              help="Organization (id or exact name) the listings belong to, unless the file has a column.")
@click.option("--status", type=click.Choice(["published", "draft"]), default="published", show_default=True)
@click.option("--valid-only", is_flag=True, help="Import the valid rows even if other rows have errors.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_listings(kind: str, organization: str | None, status: str, valid_only: bool, file: Path) -> None:
    """Check FILE like the upload page does, then import it; prints the counts as JSON."""
    from matchmaker.accounts import organizations
    from matchmaker.core.errors import DomainError
    from matchmaker.imports import importer

    org_id = None
    if organization:
        org = organizations.get(int(organization)) if organization.isdigit() else \
            organizations.find_by_name(organization)
        if org is None:
            raise click.UsageError(f"no organization {organization!r}")
        org_id = org.id
    try:
        result = importer.import_file(file, kind, org_id, status, valid_only)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    echo_json(result)
    if result.get("error"):
        raise SystemExit(1)


commands = [import_listings]
