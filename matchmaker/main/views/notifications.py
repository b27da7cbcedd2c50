"""The user's in-site notifications: list, open (marks read and follows the link), mark all read."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from matchmaker.core import notifications
from matchmaker.core.web import local_url, or_404

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def index():
    page = notifications.for_user(current_user, request.args.get("page", 1, type=int) or 1,
                                  int(current_app.config["PAGE_SIZE"]))
    return render_template("notifications/index.html", page=page, render=notifications.render)


@bp.post("/<int:notification_id>/open")
@login_required
def open_one(notification_id: int):
    row = or_404(notifications.mark_read, current_user, notification_id)
    # Only links inside the site: a stored link must never send the reader elsewhere.
    return redirect(local_url(row.link, url_for("notifications.index")))


@bp.route("/off/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The link at the foot of every match digest: one click turns match notices off, no log-in needed."""
    user = or_404(notifications.unsubscribe, token)
    return render_template("notifications/unsubscribed.html", user=user)


@bp.post("/read-all")
@login_required
def read_all():
    notifications.mark_all_read(current_user)
    return redirect(url_for("notifications.index"))
