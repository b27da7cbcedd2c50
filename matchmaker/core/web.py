"""View boilerplate shared by the blueprints: permission and existence checks, safe redirects,
file downloads, and running a service call for a button with its refusal flashed in words."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, abort, flash
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from matchmaker.core import permissions
from matchmaker.core.errors import DomainError, NotAllowed, NotFound, ValidationFailed
from models import MAX_ID, Session

T = TypeVar("T")

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def require(action: str, obj: Any = None) -> None:
    """403 unless the current user may do `action` (on `obj`)."""
    if not permissions.can(current_user, action, obj):
        abort(403)


def or_404(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The service's answer, or 404 when it says the object does not exist or is not visible."""
    try:
        return fn(*args, **kwargs)
    except NotFound:
        abort(404)


def local_url(target: str | None, fallback: str) -> str:
    """`target` when it is a path on this site; anything else (empty, another host) gives `fallback`.

    The one check for every "next" and redirect target: an open redirect is a phishing tool.
    Browsers read a backslash as a slash and drop tabs and newlines, so "/\\evil.example" and
    "/\t/evil.example" lead off-site just like "//evil.example"; all three are refused.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if any(char == "\\" or ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def download(body: Any, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


def flash_errors(exc: DomainError) -> None:
    """Every message of a refusal: each field's messages of a ValidationFailed, else its one message."""
    errors = exc.errors.values() if isinstance(exc, ValidationFailed) else [[exc.message]]
    for messages in errors:
        for message in messages:
            flash(message, "error")


def act(fn: Callable[..., T], *args: Any, success: str | Callable[[T], str] | None = None,
        http_errors: bool = True, **kwargs: Any) -> T | None:
    """Run a service call for a button: flash its refusal in words instead of failing, or `success`
    (a text, or a function of the result). With http_errors, NotAllowed answers 403 and NotFound 404;
    without, they are flashed like any other refusal. None when refused."""
    try:
        result = fn(*args, **kwargs)
    except DomainError as exc:
        if http_errors and isinstance(exc, NotAllowed):
            abort(403)
        if http_errors and isinstance(exc, NotFound):
            abort(404)
        Session.rollback()
        flash_errors(exc)
        return None
    if success:
        flash(success(result) if callable(success) else success, "success")
    return result


class RecordNumber(IntegerConverter):
    """`<int:...>` in every route: a record number a table can hold. A larger one names nothing, so the
    URL answers 404 at routing instead of reaching the database (PostgreSQL refuses it: a 500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)
