"""Background work: Celery when REDIS_URL is set, an in-process thread otherwise (make run).

Each feature's init_app registers its plain functions with register(app, name, fn); workers/tasks.py
wraps every registered name as a Celery task. Callers dispatch only after their transaction commits,
passing ids, never ORM objects.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

from models import Job, JobStatus, Session, utcnow

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None


def init_app(app: Flask) -> None:
    app.extensions["matchmaker.jobs"] = {"mode": "celery" if app.config.get("REDIS_URL") else "inprocess",
                                         "registry": {}, "periodic": {}, "time_limits": {}}


def register(app: Flask, name: str, fn: Callable[..., Any], every: int | None = None,
             time_limit: float | None = None) -> None:
    """Make `fn` runnable in the background as job `name`; `every` seconds makes it periodic (beat).

    `time_limit` seconds: `fn` is expected to stop itself by then; on a Celery worker the task also gets a
    soft limit a little later (an exception raised inside it) and a hard one (the child process is killed).
    """
    state = app.extensions["matchmaker.jobs"]
    state["registry"][name] = fn
    if every:
        state["periodic"][name] = every
    if time_limit:
        state["time_limits"][name] = float(time_limit)


def time_limits(app: Flask | None = None) -> dict[str, float]:
    """Jobs with a time limit: name -> seconds."""
    return (app or current_app).extensions["matchmaker.jobs"]["time_limits"]


def registry(app: Flask | None = None) -> dict[str, Callable[..., Any]]:
    return (app or current_app).extensions["matchmaker.jobs"]["registry"]


def periodic(app: Flask | None = None) -> dict[str, int]:
    """Periodic jobs: name -> seconds between runs (beat in production, a thread in development)."""
    return (app or current_app).extensions["matchmaker.jobs"]["periodic"]


def mode() -> str:
    return current_app.extensions["matchmaker.jobs"]["mode"]


BROKER_TIMEOUT = 1.0  # seconds a web request may wait for Redis before it gives the work to the outbox


def _client() -> Any:
    """A send-only Celery client that fails fast: with Redis down, a publish must answer at once (the
    outbox and the periodic reconciliation deliver the work later), not retry the broker for ~20 s."""
    state = current_app.extensions["matchmaker.jobs"]
    if state.get("client") is None:
        from celery import Celery

        url = current_app.config["REDIS_URL"]
        timeout = float(current_app.config.get("BROKER_TIMEOUT", BROKER_TIMEOUT))
        client = Celery("matchmaker-client", broker=url)
        client.conf.update(
            broker_connection_timeout=timeout,
            broker_connection_retry=False,
            broker_connection_max_retries=0,
            broker_transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout,
                                      "max_retries": 0},
            task_publish_retry=False,
        )
        state["client"] = client
    return state["client"]


def broker_status() -> dict[str, Any]:
    """Whether the job queue (Redis) answers, for the staff status page; never raises."""
    if mode() != "celery":
        return {"mode": "inprocess", "ok": True, "error": None}
    import redis

    timeout = float(current_app.config.get("BROKER_TIMEOUT", BROKER_TIMEOUT))
    try:
        client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=timeout,
                                      socket_timeout=timeout)
        client.ping()
        client.close()
        return {"mode": "celery", "ok": True, "error": None}
    except Exception as exc:  # any failure to reach it is an outage to show
        return {"mode": "celery", "ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def dispatch(name: str, *args: Any) -> None:
    """Run job `name` in the background. Never raises if the broker is down: the outbox catches up."""
    if name not in registry():
        raise KeyError(f"unknown job {name!r}")
    if current_app.config.get("JOBS_SYNC"):
        run_now(name, *args)
        return
    if mode() == "celery":
        try:
            _client().send_task(name, args=list(args), retry=False)
        except Exception:  # broker down: periodic reconciliation will pick the work up
            log.warning("could not enqueue %s%r; it will be retried by reconciliation", name, args)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _pool().submit(_run_in_app, app, name, args)


def run_now(name: str, *args: Any) -> Any:
    return registry()[name](*args)


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matchmaker-job")
    return _executor


def _run_in_app(app: Flask, name: str, args: tuple[Any, ...]) -> None:
    with app.app_context():
        try:
            registry(app)[name](*args)
        except Exception:
            log.exception("background job %s%r failed", name, args)
            Session.rollback()
        finally:
            Session.remove()


def start_inprocess_beat(app: Flask) -> threading.Thread:
    """Development stand-in for celery beat: runs each periodic job on its interval in a thread."""

    def loop() -> None:
        last: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for name, every in periodic(app).items():
                if now - last.get(name, 0.0) >= every:
                    last[name] = now
                    _pool().submit(_run_in_app, app, name, ())
            time.sleep(5)

    thread = threading.Thread(target=loop, name="matchmaker-beat", daemon=True)
    thread.start()
    return thread


# --- progress of long jobs -------------------------------------------------------------------

def create_job(kind: str, params: dict[str, Any] | None = None, user_id: int | None = None,
               total: int | None = None) -> Job:
    record = Job(kind=kind, params=params or {}, created_by_id=user_id, total=total)
    Session.add(record)
    Session.commit()
    return record


def report_progress(job_id: int, done: int, total: int | None = None, message: str | None = None) -> None:
    """Commit progress in its own short transaction so other processes see it while work goes on."""
    record = Session.get(Job, job_id)
    if record is None:
        return
    record.status = JobStatus.RUNNING
    record.started_at = record.started_at or utcnow()
    record.done = done
    if total is not None:
        record.total = total
    if message is not None:
        record.message = message
    Session.commit()


def finish_job(job_id: int, result: dict[str, Any] | None = None, error: str | None = None) -> None:
    record = Session.get(Job, job_id)
    if record is None:
        return
    record.status = JobStatus.FAILED if error else JobStatus.DONE
    record.message = error or record.message
    record.result = result or {}
    record.finished_at = utcnow()
    if not error and record.total is not None:
        record.done = record.total
    Session.commit()
