"""Response headers every page carries, and request values no form may contain."""
from __future__ import annotations

from flask import Flask, Response, abort, current_app, request
from flask_babel import gettext as _

# The site serves its own scripts from files (no inline script or handler runs: an injected <script>
# or onerror= is inert) and its own styles (a few inline style attributes remain); nothing is loaded
# from elsewhere and no other site may frame it.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.after_request(_headers)


def _refuse_nul() -> None:
    # PostgreSQL cannot store a NUL character; no real text contains one. Refuse a form that holds
    # one with a clear message instead of failing half-way through saving it. (Query strings are
    # never stored; search cleans them itself.)
    if request.form and any("\x00" in value for values in request.form.listvalues() for value in values):
        abort(400, description=_("The form contained an invalid character (NUL). Remove it and send the form again."))


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("ENV") == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
