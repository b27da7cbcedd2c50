"""Home page, language switch and small shared pages."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from matchmaker.core.web import local_url
from matchmaker.main import home

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render_template("main/index.html", **home.overview())


@bp.get("/lang/<lang>")
def set_language(lang: str):
    if lang in ("zh", "en"):
        session["lang"] = lang
    return redirect(local_url(request.args.get("next"), url_for("main.index")))


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
