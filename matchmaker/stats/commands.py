"""`flask rebuild-contract-stats`: recount the statistics' monthly summary from the contracts."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from matchmaker.core.cli import echo_json


@click.command("rebuild-contract-stats")
@click.option("--check", is_flag=True, help="Only compare the summary with a recount; exit 1 if they differ.")
@with_appcontext
def rebuild_contract_stats(check: bool) -> None:
    """Run after loading contracts around the contracts service (COPY, SQL); prints JSON."""
    from matchmaker.stats import summary

    if check:
        differences = summary.summary_differences()
        echo_json({"differing_keys": len(differences), "first": differences[:5]})
        if differences:
            raise SystemExit(1)
        return
    echo_json({"summary_rows": summary.rebuild_summary()})


commands = [rebuild_contract_stats]
