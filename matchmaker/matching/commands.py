"""Matching commands: `index rebuild|status`, `embed-pending`, and the offline `eval`."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from matchmaker.core.cli import echo_json


@click.group("index")
def index_group() -> None:
    """The vector indexes of research results and technical needs."""


@index_group.command("rebuild")
@click.option("--side", type=click.Choice(["result", "need", "all"]), default="all")
@with_appcontext
def index_rebuild(side: str) -> None:
    """Rebuild the index from stored vectors and announce it to every process."""
    from matchmaker.matching import admin

    echo_json(admin.rebuild_indexes(None if side == "all" else side))


@index_group.command("merge")
@click.option("--side", type=click.Choice(["result", "need", "all"]), default="all")
@with_appcontext
def index_merge(side: str) -> None:
    """Fold the deltas written since the last base into a new base now (the job does it when due)."""
    from matchmaker.matching import index

    echo_json(index.merge(None if side == "all" else side, force=True))


@index_group.command("status")
@with_appcontext
def index_status() -> None:
    """Generation, size, base size and deltas of each index, and the outbox backlog."""
    from matchmaker.matching import admin

    echo_json(admin.status())


@index_group.command("terms")
@with_appcontext
def index_terms() -> None:
    """Refresh the term tables English queries are matched through (only new terms are embedded)."""
    from matchmaker.matching import crosslingual

    echo_json(crosslingual.refresh_tables())


@click.command("embed-pending")
@click.option("--reconcile/--no-reconcile", default=True, help="Also queue listings missing from the index.")
@with_appcontext
def embed_pending(reconcile: bool) -> None:
    """Embed and index every pending listing change now (what the workers do in the background)."""
    from matchmaker.matching import outbox

    echo_json(outbox.reconcile() if reconcile else outbox.process_outbox())


@click.command("eval")
@click.option("--results", "results_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--needs", "needs_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="One set's needs (with --qrels).")
@click.option("--qrels", "qrels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--set", "set_specs", multiple=True, metavar="NAME=NEEDS:QRELS",
              help="A named set of needs and its qrels; repeat for several sets in one run.")
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--run-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every set's top k to this file in TREC run format, for pooling and judging.")
@click.option("--fit-calibration", "fit_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also refit the relevance estimate on the judged pairs in each need's top --fit-depth and "
                   "write it here (as matching/calibration.json), with cross-validated figures.")
@click.option("--fit-depth", default=30, show_default=True, type=click.IntRange(5, 1000))
@with_appcontext
def evaluate(results_path: Path, needs_path: Path | None, qrels_path: Path | None, set_specs: tuple[str, ...],
             k: int, mode: str, run_out: Path | None, fit_out: Path | None, fit_depth: int) -> None:
    """Rank the results for each need with the site's ranking code; print one JSON report per set and line.

    Each report has nDCG, recall, P and MRR at k, the unjudged documents in the top k, and the
    calibration figures (strong-label precision, share of needs with a strong label, ECE).
    """
    from matchmaker.matching import evaluation

    try:
        sets = evaluation.parse_sets(set_specs, needs_path, qrels_path)
        for report in evaluation.run_sets(results_path, sets, k=k, mode=mode, run_out=run_out):
            echo_json(report)
        if fit_out is not None:
            fitted = evaluation.fit_calibration(results_path, sets, depth=fit_depth)
            fit_out.write_text(fitted.to_json() + "\n", encoding="utf-8")
            echo_json({"calibration": str(fit_out), **fitted.figures})
    except ValueError as error:
        raise click.ClickException(str(error)) from error


commands = [index_group, embed_pending, evaluate]
