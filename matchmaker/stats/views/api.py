"""JSON API: the statistics figures the dashboard shows (see docs/stats-api.md)."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user

from matchmaker.core.i18n import current_lang
from matchmaker.core.web import require
from matchmaker.stats import stats
from matchmaker.stats.scope import GROUPS, PERIODS

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/stats")
def stats_figures():
    if not current_user.is_authenticated:
        abort(401)
    require("stats.view")
    group = request.args.get("group", "month")
    if group not in (*GROUPS, "funnel"):
        abort(400, description=f"group must be one of: {', '.join((*GROUPS, 'funnel'))}")
    if request.args.get("period", "year") not in PERIODS:
        abort(400, description=f"period must be one of: {', '.join(PERIODS)}")
    scope = stats.Scope.parse(request.args)
    return jsonify(stats.api_payload(group, scope, current_lang()))
