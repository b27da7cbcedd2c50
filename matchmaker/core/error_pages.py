"""Error pages: roll the session back, answer JSON or HTML as the client asked."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    HTTPException,
    InternalServerError,
    NotFound,
    UnprocessableEntity,
)

from matchmaker.core import errors
from models import Session


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _render(error: HTTPException, message: str | None = None):
    Session.rollback()
    code = error.code or 500
    if message is None and error.description != type(error).description:
        message = error.description  # a view's own explanation, not werkzeug's generic text
    if _wants_json():
        return jsonify(error=error.name, message=message or error.description, status=code), code
    return render_template("errors/error.html", error=error, code=code, message=message), code


# Domain errors that escape a view, mapped to HTTP once for the whole app (most specific first).
DOMAIN_STATUS: tuple[tuple[type[errors.DomainError], type[HTTPException]], ...] = (
    (errors.NotFound, NotFound), (errors.NotAllowed, Forbidden), (errors.Conflict, Conflict),
    (errors.ValidationFailed, UnprocessableEntity), (errors.DomainError, BadRequest))


def _domain(error: errors.DomainError):
    http = next(status for kind, status in DOMAIN_STATUS if isinstance(error, kind))
    return _render(http(), message=error.message or None)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _render)
    app.register_error_handler(errors.DomainError, _domain)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return _render(InternalServerError())
