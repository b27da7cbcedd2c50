"""Progress of long-running jobs as JSON, polled by static/js/progress.js to move progress bars."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify
from flask_login import current_user

from matchmaker.core.permissions import is_staff
from models import Job, Session

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<int:job_id>")
def status(job_id: int):
    if not current_user.is_authenticated:
        abort(401)
    job = Session.get(Job, job_id)
    # Someone else's job answers 404 like a missing one: ids must not reveal what others run.
    if job is None or not (is_staff(current_user) or job.created_by_id == current_user.id):
        abort(404)
    return jsonify(
        id=job.id, kind=job.kind, status=job.status, done=job.done, total=job.total, percent=job.percent,
        message=job.message, result=job.result or {}, finished=job.finished_at is not None,
    )
