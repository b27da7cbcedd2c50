"""Bulk import of listings from CSV, XLSX and JSON lines: upload, preview, confirm, run in the background."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.core import jobs
    from matchmaker.imports import commands, importer, views

    app.register_blueprint(views.bp)
    for command in commands.commands:
        app.cli.add_command(command)
    jobs.register(app, "imports.run", importer.run_batch)
    jobs.register(app, importer.READ_JOB, importer.read_upload, time_limit=app.config["IMPORT_READ_TIME_LIMIT"])
    jobs.register(app, "imports.fail_stale_reads", importer.fail_stale_reads, every=60)
