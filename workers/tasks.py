"""Celery tasks: every job the Flask app registered (each feature's init_app) becomes a task of the
same name; ids in, nothing heavy here. The beat schedule is the app's periodic jobs."""
from __future__ import annotations

from celery import Celery
from flask import Flask

from matchmaker.core import jobs

# Past a job's own time limit, Celery raises SoftTimeLimitExceeded in the task after SOFT_GRACE seconds
# and kills the child process after HARD_GRACE (the job's stale check then marks its work failed).
SOFT_GRACE = 5
HARD_GRACE = 30


def register_all(celery: Celery, app: Flask) -> None:
    limits = jobs.time_limits(app)
    for name in jobs.registry(app):
        options = {}
        if name in limits:
            options = {"soft_time_limit": limits[name] + SOFT_GRACE, "time_limit": limits[name] + HARD_GRACE}
        celery.task(name=name, bind=False, **options)(_runner(name))
    celery.conf.beat_schedule = {
        name: {"task": name, "schedule": float(every)} for name, every in jobs.periodic(app).items()
    }


def _runner(name: str):
    def run(*args):
        return jobs.run_now(name, *args)

    run.__name__ = name.replace(".", "_")
    return run
