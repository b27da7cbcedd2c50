"""Matchmaking fairs (对接会): setup, registration, meeting requests, the CP-SAT schedule, printouts,
on-site check-in and outcomes, and the fair report."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from matchmaker.core import jobs
    from matchmaker.fairs import meetings, participant_import, schedule, views

    app.register_blueprint(views.bp)
    jobs.register(app, schedule.JOB_KIND, schedule.run_schedule)
    jobs.register(app, "fairs.expire_requests", meetings.expire_requests, every=900)
    jobs.register(app, participant_import.READ_JOB, participant_import.read_upload,
                  time_limit=app.config["IMPORT_READ_TIME_LIMIT"])
    jobs.register(app, "fairs.fail_stale_reads", participant_import.fail_stale_reads, every=60)
