"""Celery tasks: every job the Flask app registered (each feature's init_app) becomes a task of the
same name; ids in, nothing heavy here. The beat schedule is the app's periodic jobs."""
from __future__ import annotations

from celery import Celery
from flask import Flask

from matchmaker.core import jobs


def register_all(celery: Celery, app: Flask) -> None:
    for name in jobs.registry(app):
        celery.task(name=name, bind=False)(_runner(name))
    celery.conf.beat_schedule = {
        name: {"task": name, "schedule": float(every)} for name, every in jobs.periodic(app).items()
    }


def _runner(name: str):
    def run(*args):
        return jobs.run_now(name, *args)

    run.__name__ = name.replace(".", "_")
    return run
