"""The JSON API at /api/v1 (flask-smorest: views declare their schemas and the OpenAPI document at
/api/v1/openapi.json is generated from them). Programs authenticate with personal tokens
(`Authorization: Bearer mm_...`, see api.tokens); the site's own scripts may use the session, with
the CSRF header for anything that changes data. Every call goes through the same services and
permission table as the site."""
from __future__ import annotations

import json

from flask import Flask, current_app
from flask_smorest import Api

from matchmaker.extensions import csrf


class SiteApi(Api):
    def _register_error_handlers(self) -> None:
        """The site's error pages (core.error_pages) answer /api/ paths with problem details already;
        flask-smorest's own handler would take over the HTML pages of the whole site."""

    def _openapi_json(self):  # type: ignore[no-untyped-def]
        """The document as served: error answers are RFC 9457 problem details, so say so."""
        spec = problem_details(self.spec.to_dict())
        return current_app.response_class(json.dumps(spec, indent=2, ensure_ascii=False), mimetype="application/json")


PROBLEM = {"type": "object", "required": ["type", "title", "status"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "errors": {"type": "object", "description": "Field errors, as a form shows them"}}}


def problem_details(spec: dict) -> dict:
    """Every error response (4xx, 5xx, default) documented as application/problem+json, and every
    operation documents the errors any call can get (401, 403, 404, 422, 429)."""
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in spec.get("paths", {}).values():
        for method, operation in path.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if method == "post":
                operation.setdefault("parameters", []).append({
                    "name": "Idempotency-Key", "in": "header", "required": False,
                    "description": "Send the same key again to get the first answer back instead of a second "
                                   "record (kept a day).", "schema": {"type": "string", "maxLength": 100}})
            responses = operation.setdefault("responses", {})
            for code in ("400", "401", "403", "404", "409", "412", "422", "428", "429"):
                responses.setdefault(code, {"description": "Problem details"})
            for code, response in responses.items():
                if code == "default" or code[0] in "45":
                    responses[code] = {"description": response.get("description", "Problem details"),
                                       "content": problem}
    return spec


def init_app(app: Flask) -> None:
    from matchmaker.api import actions, fairs, figures, idempotency, pages, views
    from matchmaker.core import jobs

    jobs.register(app, "api.prune_idempotency_keys", idempotency.prune, every=3600)

    app.config.setdefault("API_TITLE", "Matchmaker API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "info": {"description": "Listings, matches, introductions, deals, contracts, fairs, statistics and "
                                "notifications of the Matchmaker platform, with the same rules as the site. "
                                "Authenticate with a personal or organization token from your account page: "
                                "`Authorization: Bearer mm_...`; its scopes (read or write per area) narrow "
                                "what it may do."}})
    app.config.setdefault("API_RATE_LIMIT", "300 per minute")
    app.register_blueprint(pages.bp)
    app.register_blueprint(pages.docs_bp)
    app.register_blueprint(pages.hooks_bp)
    api = SiteApi(app)  # one per app: its OpenAPI document is built from the blueprints registered on it
    app.extensions["matchmaker.api"] = api
    # actions has no blueprint of its own: importing it adds its operations to those of views.
    for blueprint in (*views.BLUEPRINTS, *actions.BLUEPRINTS, *figures.BLUEPRINTS, *fairs.BLUEPRINTS):
        csrf.exempt(blueprint)  # tokens need no CSRF; session calls are checked in views.authenticate
        api.register_blueprint(blueprint)
