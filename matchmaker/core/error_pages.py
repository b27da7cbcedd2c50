"""Error pages: roll the session back, answer JSON or HTML as the client asked."""
from __future__ import annotations

import sqlalchemy.exc as sa_exc
from flask import Flask, current_app, jsonify, render_template, request
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


def _problem(error: HTTPException, code: int, message: str | None, field_errors: dict | None = None):
    """RFC 9457 problem details for the JSON API, with the field errors a form would show."""
    body: dict = {"type": "about:blank", "title": error.name, "status": code,
                  "detail": message or error.description}
    data = getattr(error, "data", None) or {}
    messages = field_errors or data.get("messages")  # flask-smorest puts argument errors here
    if messages:
        body["errors"] = messages
    response = jsonify(body)
    response.status_code = code
    response.mimetype = "application/problem+json"
    for name, value in (getattr(error, "get_headers", lambda: [])() or []):
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


def _render(error: HTTPException, message: str | None = None, field_errors: dict | None = None):
    Session.rollback()
    code = error.code or 500
    if message is None and error.description != type(error).description:
        message = error.description  # a view's own explanation, not werkzeug's generic text
    if request.path.startswith("/api/v1"):
        return _problem(error, code, message, field_errors)
    if _wants_json():
        return jsonify(error=error.name, message=message or error.description, status=code), code
    return render_template("errors/error.html", error=error, code=code, message=message), code


# Domain errors that escape a view, mapped to HTTP once for the whole app (most specific first).
DOMAIN_STATUS: tuple[tuple[type[errors.DomainError], type[HTTPException]], ...] = (
    (errors.NotFound, NotFound), (errors.NotAllowed, Forbidden), (errors.Conflict, Conflict),
    (errors.ValidationFailed, UnprocessableEntity), (errors.DomainError, BadRequest))


def _domain(error: errors.DomainError):
    http = next(status for kind, status in DOMAIN_STATUS if isinstance(error, kind))
    field_errors = error.errors if isinstance(error, errors.ValidationFailed) else None
    return _render(http(), message=error.message or None, field_errors=field_errors)


def _database_down(error: sa_exc.SQLAlchemyError):
    """The database cannot be reached (restart, failover): a clear 503 instead of a 500. The pool pings
    connections before use (models.db), so the first request after the database is back succeeds."""
    current_app.logger.error("database unavailable on %s: %s", request.path, error)
    try:
        Session.rollback()
        Session.remove()
    except Exception:  # the connection is gone; the pool discards it
        pass
    headers = {"Retry-After": "30"}
    if _wants_json():
        return jsonify(error="Service Unavailable", message="The database cannot be reached; try again shortly.",
                       status=503), 503, headers
    return render_template("errors/unavailable.html"), 503, headers


def _unexpected_error(error: Exception):
    current_app.logger.exception("unhandled error on %s", request.path)
    return _render(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _render)
    app.register_error_handler(errors.DomainError, _domain)
    app.register_error_handler(sa_exc.OperationalError, _database_down)
    app.register_error_handler(sa_exc.InterfaceError, _database_down)
    app.register_error_handler(Exception, _unexpected_error)
