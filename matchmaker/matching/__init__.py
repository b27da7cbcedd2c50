"""Matching: embeddings, the vector index kept current through an outbox, hybrid ranking with reasons,
strong-match notifications, broker feedback and the offline evaluation.

What happens when a listing is published: listings.lifecycle calls listings.events.listing_changed()
inside its transaction; the listener added below (outbox.record_change) writes an outbox row; after the
commit outbox.kick() dispatches "matching.process_outbox", which embeds, indexes and then notifies.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.core import jobs
    from matchmaker.matching import commands, crosslingual, index, learning, matches, outbox, views

    app.register_blueprint(views.bp)
    for command in commands.commands:
        app.cli.add_command(command)
    outbox.install(app)
    jobs.register(app, "matching.process_outbox", outbox.process_outbox)
    jobs.register(app, "matching.reconcile", outbox.reconcile, every=300)
    jobs.register(app, "matching.merge_index", index.merge)
    jobs.register(app, "matching.notify_matches", matches.notify_new_matches)
    jobs.register(app, "matching.refresh_terms", crosslingual.refresh_tables, every=900)
    jobs.register(app, learning.JOB, learning.refit, every=int(app.config.get("MATCH_REFIT_EVERY") or 0) or None)
