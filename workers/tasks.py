"""Celery tasks: each wraps one registered service job by name; ids in, nothing heavy here."""
from __future__ import annotations

from celery import current_app as celery_app
from celery import shared_task

from matchmaker.services import jobs

# Importing the service modules registers their jobs in jobs.REGISTRY.
JOB_MODULES: tuple[str, ...] = ("matchmaker.services.listings", "matchmaker.services.imports",
                               "matchmaker.services.introductions", "matchmaker.services.deals",
                               "matchmaker.services.fair_meetings", "matchmaker.services.fair_schedule",
                               "matchmaker.services.matching", "matchmaker.services.notifications")


def _register_all() -> None:
    from importlib import import_module

    for module in JOB_MODULES:
        import_module(module)
    for name in jobs.REGISTRY:
        shared_task(name=name, bind=False)(_runner(name))
    celery_app.conf.beat_schedule = {
        name: {"task": name, "schedule": float(every)} for name, every in jobs.PERIODIC.items()
    }


def _runner(name: str):
    def run(*args):
        return jobs.run_now(name, *args)

    run.__name__ = name.replace(".", "_")
    return run


_register_all()
