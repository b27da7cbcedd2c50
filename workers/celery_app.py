"""The one Celery entry point: `celery -A workers.celery_app worker|beat`.

Each task runs inside the Flask app context, so services see the same configuration and session.
Nothing heavy (model, FAISS) is loaded here: the worker's children load it lazily after the fork.
"""
from __future__ import annotations

from celery import Celery, Task
from flask import Flask

from matchmaker import create_app
from workers import tasks


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    from models import Session

                    Session.remove()

    broker = app.config.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    celery = Celery(app.name, task_cls=FlaskTask, broker=broker, backend=broker)
    celery.conf.update(
        task_acks_late=True,  # a task whose worker dies mid-batch is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        timezone="Asia/Shanghai",
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


flask_app = create_app()
app = celery = celery_init_app(flask_app)
tasks.register_all(celery, flask_app)
