"""Error pages: roll the session back, answer JSON or HTML as the client asked."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from models import Session


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _render(error: HTTPException):
    Session.rollback()
    code = error.code or 500
    if _wants_json():
        return jsonify(error=error.name, message=error.description, status=code), code
    return render_template("errors/error.html", error=error, code=code), code


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _render)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return _render(InternalServerError())
