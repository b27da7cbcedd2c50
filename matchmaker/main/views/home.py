"""Home page, language switch and small shared pages."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from matchmaker.main import home

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render_template("main/index.html", **home.overview())


@bp.get("/lang/<lang>")
def set_language(lang: str):
    if lang in ("zh", "en"):
        session["lang"] = lang
    target = request.args.get("next") or url_for("main.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("main.index")
    return redirect(target)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
