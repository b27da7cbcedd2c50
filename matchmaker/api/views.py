"""/api/v1 resources: the caller, listings (browse with the site's filters, one listing, its matches),
free-text matching, notifications. Each view calls the services the site's pages call; confidential
listings come back as the teaser the site shows unless the caller may see their details."""
from __future__ import annotations

import base64
import json
from typing import Any

from flask import abort, current_app, g, jsonify, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from matchmaker.api import idempotency, tokens
from matchmaker.core import notifications
from matchmaker.core.errors import NotFound, ValidationFailed
from matchmaker.core.i18n import format_money
from matchmaker.deals import contracts, deals, introductions
from matchmaker.extensions import csrf, limiter
from matchmaker.listings import lifecycle, search
from matchmaker.matching import matches
from models import MAX_ID, aware

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
RECORD_NUMBER = validate.Range(min=1, max=MAX_ID)  # an id a table can hold
MAX_LIMIT = 100

me_bp = Blueprint("api_me", __name__, url_prefix="/api/v1", description="The caller")
listings_bp = Blueprint("api_listings", __name__, url_prefix="/api/v1/listings",
                        description="Research results and technical needs")
matches_bp = Blueprint("api_matches", __name__, url_prefix="/api/v1/matches", description="Matching free text")
introductions_bp = Blueprint("api_introductions", __name__, url_prefix="/api/v1/introductions",
                             description="Asking a listing's owner to meet, and answering")
deals_bp = Blueprint("api_deals", __name__, url_prefix="/api/v1/deals",
                     description="Deals brokers follow from introduction to registered contract")
contracts_bp = Blueprint("api_contracts", __name__, url_prefix="/api/v1/contracts",
                         description="Registered technology contracts (技术合同)")
notifications_bp = Blueprint("api_notifications", __name__, url_prefix="/api/v1/notifications",
                             description="The caller's notifications")
BLUEPRINTS = (me_bp, listings_bp, matches_bp, introductions_bp, deals_bp, contracts_bp, notifications_bp)


# --- who is calling ------------------------------------------------------------------------------

def rate_key() -> str:
    """Limits count per token (or per address for session and anonymous calls)."""
    header = request.headers.get("Authorization", "")
    return "token:" + tokens._hash(header.partition(" ")[2].strip()) if header else f"ip:{request.remote_addr}"


AREA_OF_BLUEPRINT: dict[str, str] = {}  # filled by wire(); an operation may name another area with @area


def area(name: str) -> Any:
    """Put one operation (a view function or MethodView class) in another token area than its blueprint's,
    e.g. a listing's matches belong to "matching"."""
    assert name in tokens.AREAS, name

    def mark(view: Any) -> Any:
        view.api_area = name
        return view
    return mark


def area_of(endpoint: str | None) -> str | None:
    """The token area an API endpoint belongs to (None: not an API operation)."""
    if not endpoint or "." not in endpoint:
        return None
    view = current_app.view_functions.get(endpoint)
    marked = getattr(view, "api_area", None) or getattr(getattr(view, "view_class", None), "api_area", None)
    return marked or AREA_OF_BLUEPRINT.get(endpoint.partition(".")[0])


def authenticate() -> None:
    """A bearer token acts for its user within its scopes (per area, read or write); without one, the
    session (as the site's own scripts call), with the CSRF header for anything that changes data;
    else anonymous."""
    g.pop("api_token", None)
    header = request.headers.get("Authorization")
    if header is not None:
        found = tokens.authenticate(header, request.remote_addr)
        if found is None:
            abort(401, description="The token is unknown, revoked or expired.")
        user, token = found
        level = "read" if request.method in SAFE_METHODS else "write"
        where = area_of(request.endpoint)
        if where is None or not tokens.allows(token, where, level):
            abort(403, description=f"This token does not have the {where}:{level} scope (nor {level} for every "
                                   f"area), which this operation needs: the {level} scope of the {where} area.")
        g._login_user, g.api_token = user, token
    elif request.method not in SAFE_METHODS:
        csrf.protect()


def replay_idempotent() -> Any:
    """A POST with an Idempotency-Key the caller already used gets the first answer again."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or key is None:
        return None
    if not key.strip() or len(key) > idempotency.MAX_KEY:
        abort(400, description=f"An Idempotency-Key has 1 to {idempotency.MAX_KEY} characters.")
    user = _signed_in()
    try:
        row = idempotency.find(user.id, key, request.path)
    except idempotency.KeyReused:
        abort(422, description="This Idempotency-Key was used for another request.")
    if row is None:
        g.idempotency_key = key
        return None
    mimetype = "application/problem+json" if row.status >= 400 else "application/json"
    response = current_app.response_class(row.body, status=row.status, mimetype=mimetype)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def remember_idempotent(response: Any) -> Any:
    key = g.pop("idempotency_key", None)
    if key is not None and current_user.is_authenticated:
        idempotency.remember(current_user.id, key, request.path, response.status_code,
                             response.get_data(as_text=True))
    return response


def wire(areas: dict[Blueprint, str]) -> tuple[Blueprint, ...]:
    """Token or session authentication, Idempotency-Key replay and the per-token rate limit for the
    blueprints of an API module, each in its token area. Once, where each module defines its blueprints:
    they outlive any one app, and a limit added per app would count twice."""
    for blueprint, name in areas.items():
        assert name in tokens.AREAS, name
        AREA_OF_BLUEPRINT[blueprint.name] = name
        blueprint.before_request(authenticate)
        blueprint.before_request(replay_idempotent)
        blueprint.after_request(remember_idempotent)
        limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_key)(blueprint)
    return tuple(areas)


wire({me_bp: "account", listings_bp: "listings", matches_bp: "matching", introductions_bp: "deals",
      deals_bp: "deals", contracts_bp: "contracts", notifications_bp: "account"})


def _signed_in() -> Any:
    if not current_user.is_authenticated:
        abort(401, description="Sign in with a bearer token.")
    return current_user


# --- schemas -------------------------------------------------------------------------------------

class Strict(Schema):
    class Meta:
        unknown = EXCLUDE  # query strings carry the site's filters too; bodies are checked field by field


class MoneySchema(Schema):
    fen = fields.Integer(allow_none=True, metadata={"description": "Amount in fen (1/100 yuan)"})
    text = fields.String(metadata={"description": "The amount as the site shows it"})


class OrganizationSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ListingSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["result", "need"]})
    url = fields.String()
    title = fields.String()
    summary = fields.String(allow_none=True)
    description = fields.String(allow_none=True, metadata={"description": "null when confidential and hidden"})
    keywords = fields.List(fields.String())
    industry_section = fields.String(allow_none=True)
    industry_division = fields.String(allow_none=True)
    tech_field = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    status = fields.String()
    confidential = fields.Boolean()
    details_visible = fields.Boolean()
    organization = fields.Nested(OrganizationSchema, allow_none=True)
    amount = fields.Nested(MoneySchema, metadata={"description": "Price (results) or budget ceiling (needs)"})
    published_at = fields.DateTime(allow_none=True)
    valid_until = fields.Date(allow_none=True)


class ListingPageSchema(Schema):
    items = fields.List(fields.Nested(ListingSchema))
    total = fields.Integer()
    next_cursor = fields.String(allow_none=True)


class BrowseArgs(Strict):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class CheckSchema(Schema):
    status = fields.String(metadata={"enum": ["pass", "fail", "unknown"]})
    label = fields.String()


class MatchSchema(Schema):
    listing = fields.Nested(ListingSchema)
    relevance = fields.Float(metadata={"description": "Calibrated chance that a broker calls the pair relevant"})
    percent = fields.Integer()
    strong = fields.Boolean()
    likely = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={"description": "Shared technical terms"})
    checks = fields.List(fields.Nested(CheckSchema))


class MatchListSchema(Schema):
    items = fields.List(fields.Nested(MatchSchema))
    advice = fields.List(fields.String())


class TextMatchArgs(Strict):
    q = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    side = fields.String(load_default="result", validate=validate.OneOf(["result", "need"]))


class MeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    role = fields.String()
    organization = fields.Nested(OrganizationSchema, allow_none=True)
    token = fields.Dict(allow_none=True, metadata={"description": "The token of this call: name, scopes, expiry, and "
                                                                  "organization_id for an organization token"})


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    message = fields.String()
    link = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    unread = fields.Integer()
    next_cursor = fields.String(allow_none=True)


# --- shaping -------------------------------------------------------------------------------------

def listing_json(listing: Any, viewer: Any) -> dict[str, Any]:
    shown = lifecycle.view_for(listing, viewer)
    fen = getattr(listing, "price_fen", None) if listing.kind == "result" else getattr(listing, "budget_max_fen", None)
    org = shown.organization
    return {
        "id": listing.id, "kind": listing.kind, "url": f"/{listing.kind}/{listing.id}", "title": listing.title,
        "summary": listing.summary, "description": shown.description, "keywords": list(listing.keywords or []),
        "industry_section": listing.industry_section, "industry_division": listing.industry_division,
        "tech_field": listing.tech_field, "region": listing.region, "status": str(listing.status),
        "confidential": bool(listing.confidential), "details_visible": not shown.locked,
        "organization": {"id": org.id, "name": org.name} if org is not None else None,
        "amount": {"fen": fen, "text": format_money(fen)},
        "published_at": aware(listing.published_at), "valid_until": listing.valid_until,
    }


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]
    except (ValueError, KeyError, TypeError):
        offset = None
    if not isinstance(offset, int) or not 0 <= offset <= 1_000_000:
        raise ValidationFailed({"cursor": ["This cursor is not one the API gave out."]})
    return offset


def _listing(kind: str, listing_id: int) -> Any:
    try:
        return lifecycle.get_visible(current_user, kind, listing_id)
    except NotFound:
        abort(404, description="No such listing, or not one you may see.")


def _match_json(item: matches.MatchItem, viewer: Any) -> dict[str, Any]:
    return {"listing": listing_json(item.listing._listing, viewer), "relevance": round(item.relevance, 4),
            "percent": item.percent, "strong": bool(item.strong), "likely": bool(item.likely),
            "reasons": list(item.terms),
            "checks": [{"status": c.status, "label": str(c.label)} for c in item.checks]}


# --- resources -----------------------------------------------------------------------------------

@me_bp.route("/me")
class Me(MethodView):
    @me_bp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """The caller's account (and the token used, if any)."""
        user = _signed_in()
        token = getattr(g, "api_token", None)
        return {"id": user.id, "name": user.name, "email": user.email, "role": user.role,
                "organization": {"id": user.organization.id, "name": user.organization.name}
                if user.organization else None,
                "token": {"name": token.name, "scopes": token.scopes, "organization_id": token.organization_id,
                          "expires_at": aware(token.expires_at).isoformat()} if token else None}


@listings_bp.route("/<any(result,need):kind>")
class Listings(MethodView):
    @listings_bp.arguments(BrowseArgs, location="query")
    @listings_bp.response(200, ListingPageSchema)
    def get(self, args: dict[str, Any], kind: str) -> dict[str, Any]:
        """Published listings of one kind, with the site's browse filters (q, industry_section, region,
        tech_field, ...) and cursor pagination."""
        offset, limit = _offset(args["cursor"]), args["limit"]
        filters = search.parse_filters(request.args)
        found = search.search_all(kind, filters, offset + limit + 1)
        page = found[offset:offset + limit]
        more = len(found) > offset + limit
        return {"items": [listing_json(item, current_user) for item in page], "total": offset + len(page) + more,
                "next_cursor": _cursor(offset + limit) if more else None}


class ListingInput(Schema):
    """A listing's fields as the site's form takes them; amounts in fen, dates as ISO dates. Unknown
    fields are refused, so a typo never silently drops data."""

    class Meta:
        unknown = RAISE

    title = fields.String(validate=validate.Length(max=200))
    summary = fields.String(validate=validate.Length(max=1000))
    description = fields.String(allow_none=True, validate=validate.Length(max=20000))
    keywords = fields.List(fields.String(validate=validate.Length(max=40)), validate=validate.Length(max=20))
    industry_section = fields.String(allow_none=True, validate=validate.Length(max=1))
    industry_division = fields.String(allow_none=True, validate=validate.Length(max=2))
    tech_field = fields.String(allow_none=True, validate=validate.Length(max=40))
    transfer_modes = fields.List(fields.String(validate=validate.Length(max=20)), validate=validate.Length(max=10))
    region = fields.String(allow_none=True, validate=validate.Length(max=6))
    language = fields.String(validate=validate.OneOf(["zh", "en"]))
    valid_until = fields.Date(allow_none=True)
    confidential = fields.Boolean()
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    contact_phone = fields.String(allow_none=True, validate=validate.Length(max=30))
    contact_email = fields.String(allow_none=True, validate=validate.Length(max=254))
    organization_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER,
                                     metadata={"description": "Staff only: the owning organization"})
    maturity = fields.String(allow_none=True, validate=validate.Length(max=30))
    trl = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=9))
    ip_status = fields.String(allow_none=True, validate=validate.Length(max=30))
    patent_numbers = fields.List(fields.String(validate=validate.Length(max=40)), validate=validate.Length(max=50))
    price_fen = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10**17))
    inventors = fields.String(allow_none=True, validate=validate.Length(max=300))
    application_areas = fields.String(allow_none=True, validate=validate.Length(max=5000))
    budget_min_fen = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10**17))
    budget_max_fen = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10**17))
    min_maturity = fields.String(allow_none=True, validate=validate.Length(max=30))
    min_trl = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=9))
    deadline = fields.Date(allow_none=True)
    submit = fields.Boolean(load_default=False, metadata={"description": "Send to staff review at once"})


class ListingPatch(ListingInput):
    """The same fields, each optional: a PATCH changes only those it names."""


class CloseInput(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.OneOf(["transferred", "withdrawn", "other"]))


def _values(listing: Any | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The full set of values a listing service takes: the listing's current ones overlaid with the
    caller's (a PATCH changes only what it names)."""
    current = {}
    if listing is not None:
        for name in (*lifecycle.COMMON_FIELDS, *lifecycle.KIND_FIELDS[listing.kind]):
            current[name] = getattr(listing, name, None)
    return {**current, **{k: v for k, v in changes.items() if k != "submit"}}


@listings_bp.route("/<any(result,need):kind>", methods=["POST"], endpoint="create")
@listings_bp.arguments(ListingInput)
@listings_bp.response(201, ListingSchema)
def create_listing(values: dict[str, Any], kind: str) -> Any:
    """Create a draft (or, with `submit`, send it to review) owned by the caller's organization."""
    user = _signed_in()
    listing = lifecycle.create_listing(user, kind, _values(None, values), submit=values.get("submit", False))
    return listing_json(listing, user)


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>")
class OneListing(MethodView):
    @listings_bp.response(200, ListingSchema)
    def get(self, kind: str, listing_id: int) -> dict[str, Any]:
        """One listing as the caller may see it (the teaser when confidential and not opened to them)."""
        return listing_json(_listing(kind, listing_id), current_user)

    @listings_bp.arguments(ListingPatch(partial=True))
    @listings_bp.response(200, ListingSchema)
    def patch(self, values: dict[str, Any], kind: str, listing_id: int) -> dict[str, Any]:
        """Change the fields named; a public listing whose text changes goes back to staff review."""
        user = _signed_in()
        listing = _listing(kind, listing_id)
        lifecycle.update_listing(user, listing, _values(listing, values), submit=values.get("submit", False))
        return listing_json(listing, user)


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/submit", methods=["POST"], endpoint="submit")
@listings_bp.response(200, ListingSchema)
def submit_listing(kind: str, listing_id: int) -> Any:
    """Send a draft or rejected listing to staff review."""
    user = _signed_in()
    listing = _listing(kind, listing_id)
    lifecycle.submit_listing(user, listing)
    return listing_json(listing, user)


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/close", methods=["POST"], endpoint="close")
@listings_bp.arguments(CloseInput)
@listings_bp.response(200, ListingSchema)
def close_listing(values: dict[str, Any], kind: str, listing_id: int) -> Any:
    """Close a listing (transferred, withdrawn or other)."""
    user = _signed_in()
    listing = _listing(kind, listing_id)
    lifecycle.close_listing(user, listing, values["reason"])
    return listing_json(listing, user)


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/matches")
@area("matching")
class ListingMatches(MethodView):
    @listings_bp.response(200, MatchListSchema)
    def get(self, kind: str, listing_id: int) -> dict[str, Any]:
        """Suggestions for a listing from the other side, best first, with the calibrated estimate, the
        shared terms and the checks the site shows."""
        listing = _listing(kind, listing_id)
        items = matches.matches_for_listing(listing, current_user)
        return {"items": [_match_json(item, current_user) for item in items], "advice": []}


@matches_bp.route("")
class TextMatches(MethodView):
    @matches_bp.arguments(TextMatchArgs, location="query")
    @matches_bp.response(200, MatchListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Listings of one side (`side`) that match a description in Chinese or English."""
        items = matches.search(current_user, args["q"], args["side"])
        return {"items": [_match_json(item, current_user) for item in items],
                "advice": matches.query_advice(args["q"])}


class NotificationArgs(Strict):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


@notifications_bp.route("")
class Notifications(MethodView):
    @notifications_bp.arguments(NotificationArgs, location="query")
    @notifications_bp.response(200, NotificationPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's notifications, newest first, in the caller's language."""
        user = _signed_in()
        offset, limit = _offset(args["cursor"]), args["limit"]
        rows, unread = notifications.window(user, offset, limit + 1)
        return {"items": [{"id": n.id, "kind": n.kind, "message": notifications.render(n), "link": n.link,
                           "created_at": aware(n.created_at), "read_at": aware(n.read_at)} for n in rows[:limit]],
                "unread": unread, "next_cursor": _cursor(offset + limit) if len(rows) > limit else None}


@notifications_bp.route("/<int:notification_id>/read")
class ReadNotification(MethodView):
    @notifications_bp.response(200, NotificationSchema)
    def post(self, notification_id: int) -> dict[str, Any]:
        """Mark one of the caller's notifications read."""
        user = _signed_in()
        try:
            row = notifications.mark_read(user, notification_id)
        except NotFound:
            abort(404, description="No such notification.")
        return {"id": row.id, "kind": row.kind, "message": notifications.render(row), "link": row.link,
                "created_at": aware(row.created_at), "read_at": aware(row.read_at)}


# --- introductions -------------------------------------------------------------------------------

class IntroductionSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": ["pending", "accepted", "declined", "withdrawn", "expired"]})
    origin = fields.String()
    listing = fields.Nested(ListingSchema)
    counterpart_organization = fields.Nested(OrganizationSchema)
    message = fields.String()
    created_at = fields.DateTime()
    reply_by = fields.DateTime(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    decline_reason = fields.String(allow_none=True)


class IntroductionListSchema(Schema):
    sent = fields.List(fields.Nested(IntroductionSchema))
    received = fields.List(fields.Nested(IntroductionSchema))


class IntroductionInput(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(["result", "need"]))
    listing_id = fields.Integer(required=True, validate=RECORD_NUMBER)
    message = fields.String(load_default="", validate=validate.Length(max=2000))
    origin = fields.String(load_default="search", validate=validate.OneOf(["match", "search"]))
    counterpart_listing_id = fields.Integer(load_default=None, allow_none=True,
                                            validate=RECORD_NUMBER)
    counterpart_org_id = fields.Integer(load_default=None, allow_none=True,
                                        validate=RECORD_NUMBER,
                                        metadata={"description": "Brokers: the side they act for"})


class AnswerInput(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(load_default="", validate=validate.Length(max=2000))


class DeclineInput(AnswerInput):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=30))


def introduction_json(intro: Any, viewer: Any) -> dict[str, Any]:
    return {"id": intro.id, "status": intro.status, "origin": intro.origin,
            "listing": listing_json(intro.listing, viewer),
            "counterpart_organization": {"id": intro.counterpart_org.id, "name": intro.counterpart_org.name},
            "message": intro.message, "created_at": aware(intro.created_at),
            "reply_by": aware(introductions.reply_by(intro)), "answered_at": aware(intro.answered_at),
            "decline_reason": intro.decline_reason}


@introductions_bp.route("")
class Introductions(MethodView):
    @introductions_bp.response(200, IntroductionListSchema)
    def get(self) -> dict[str, Any]:
        """The introductions the caller's organization asked for, and those it is asked to answer."""
        user = _signed_in()
        return {"sent": [introduction_json(i, user) for i in introductions.sent(user)],
                "received": [introduction_json(i, user) for i in introductions.received(user)]}

    @introductions_bp.arguments(IntroductionInput)
    @introductions_bp.response(201, IntroductionSchema)
    def post(self, values: dict[str, Any]) -> dict[str, Any]:
        """Ask the owner of a published listing for an introduction."""
        user = _signed_in()
        intro = introductions.request(user, introductions.RequestInput(**values))
        return introduction_json(intro, user)


@introductions_bp.route("/<int:intro_id>/accept", methods=["POST"], endpoint="accept")
@introductions_bp.arguments(AnswerInput)
@introductions_bp.response(200, IntroductionSchema)
def accept_introduction(values: dict[str, Any], intro_id: int) -> Any:
    """Accept: the counterpart now sees the listing's details and contact, and a deal opens."""
    user = _signed_in()
    return introduction_json(introductions.accept(user, intro_id, values["note"]), user)


@introductions_bp.route("/<int:intro_id>/decline", methods=["POST"], endpoint="decline")
@introductions_bp.arguments(DeclineInput)
@introductions_bp.response(200, IntroductionSchema)
def decline_introduction(values: dict[str, Any], intro_id: int) -> Any:
    """Decline, with one of the reasons the site offers the answering side."""
    user = _signed_in()
    return introduction_json(introductions.decline(user, intro_id, values["reason"], values["note"]), user)


# --- contracts -----------------------------------------------------------------------------------

class ContractInputSchema(Schema):
    """A contract's registration fields; amounts in fen. Unknown fields are refused."""

    class Meta:
        unknown = RAISE

    contract_type = fields.String(required=True, validate=validate.Length(max=20))
    contract_subtype = fields.String(allow_none=True, validate=validate.Length(max=40))
    project_name = fields.String(required=True, validate=validate.Length(max=200))
    registration_number = fields.String(allow_none=True, validate=validate.Length(max=40))
    signing_date = fields.Date(required=True)
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    amount_fen = fields.Integer(required=True, validate=validate.Range(min=0, max=10**17),
                                metadata={"description": "成交额 in fen"})
    tech_amount_fen = fields.Integer(required=True, validate=validate.Range(min=0, max=10**17),
                                     metadata={"description": "技术交易额 in fen"})
    payment_mode = fields.String(allow_none=True, validate=validate.Length(max=20))
    ip_type = fields.String(allow_none=True, validate=validate.Length(max=20))
    tech_field = fields.String(allow_none=True, validate=validate.Length(max=40))
    seller_org_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER)
    seller_name = fields.String(load_default="", validate=validate.Length(max=200))
    seller_entity_type = fields.String(load_default="", validate=validate.Length(max=10))
    seller_region = fields.String(load_default="", validate=validate.Length(max=6))
    buyer_org_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER)
    buyer_name = fields.String(load_default="", validate=validate.Length(max=200))
    buyer_entity_type = fields.String(load_default="", validate=validate.Length(max=10))
    buyer_region = fields.String(load_default="", validate=validate.Length(max=6))
    deal_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER)
    result_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER)
    need_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER)
    fair_id = fields.Integer(allow_none=True, validate=RECORD_NUMBER)


class ContractSchema(Schema):
    id = fields.Integer()
    version = fields.Integer(metadata={"description": "Send it back as If-Match: W/\"<version>\" to update"})
    contract_type = fields.String()
    contract_subtype = fields.String(allow_none=True)
    project_name = fields.String()
    registration_number = fields.String(allow_none=True)
    signing_date = fields.Date()
    amount = fields.Nested(MoneySchema)
    tech_amount = fields.Nested(MoneySchema)
    seller_name = fields.String()
    buyer_name = fields.String()
    seller_org_id = fields.Integer(allow_none=True)
    buyer_org_id = fields.Integer(allow_none=True)
    deal_id = fields.Integer(allow_none=True)
    fair_id = fields.Integer(allow_none=True)


class ContractPageSchema(Schema):
    items = fields.List(fields.Nested(ContractSchema))
    total = fields.Integer()
    next_cursor = fields.String(allow_none=True)


class ContractArgs(Strict):
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1987, max=2200))
    contract_type = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    q = fields.String(load_default="", validate=validate.Length(max=200))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


PAGE = 50


def contract_json(contract: Any) -> dict[str, Any]:
    return {"id": contract.id, "version": contract.version, "contract_type": contract.contract_type,
            "contract_subtype": contract.contract_subtype, "project_name": contract.project_name,
            "registration_number": contract.registration_number, "signing_date": contract.signing_date,
            "amount": {"fen": contract.amount_fen, "text": format_money(contract.amount_fen)},
            "tech_amount": {"fen": contract.tech_amount_fen, "text": format_money(contract.tech_amount_fen)},
            "seller_name": contract.seller_name, "buyer_name": contract.buyer_name,
            "seller_org_id": contract.seller_org_id, "buyer_org_id": contract.buyer_org_id,
            "deal_id": contract.deal_id, "fair_id": contract.fair_id}


def _etag(contract: Any) -> str:
    return f'W/"{contract.version}"'


def _with_etag(contract: Any, status: int = 200) -> Any:
    response = jsonify(ContractSchema().dump(contract_json(contract)))
    response.status_code = status
    response.headers["ETag"] = _etag(contract)
    return response


@contracts_bp.route("")
class Contracts(MethodView):
    @contracts_bp.arguments(ContractArgs, location="query")
    @contracts_bp.response(200, ContractPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Contracts the caller may see (staff: all; others: their organization's), newest signing first."""
        user = _signed_in()
        page = _offset(args["cursor"]) // PAGE + 1
        rows, total = contracts.search(user, contracts.ContractFilter(
            year=args["year"], contract_type=args["contract_type"], q=args["q"], page=page), page_size=PAGE)
        return {"items": [contract_json(c) for c in rows], "total": total,
                "next_cursor": _cursor(page * PAGE) if page * PAGE < total else None}

    @contracts_bp.arguments(ContractInputSchema)
    @contracts_bp.response(201, ContractSchema, headers={"ETag": {"schema": {"type": "string"}}})
    def post(self, values: dict[str, Any]) -> Any:
        """Register a contract (staff); 成交额 and 技术交易额 count in the statistics at once."""
        user = _signed_in()
        return _with_etag(contracts.create(user, contracts.ContractInput(**values)), 201)


@contracts_bp.route("/<int:contract_id>")
class OneContract(MethodView):
    @contracts_bp.response(200, ContractSchema, headers={"ETag": {"schema": {"type": "string"}}})
    def get(self, contract_id: int) -> Any:
        """One contract, with its version as ETag."""
        return _with_etag(contracts.get_for(_signed_in(), contract_id))

    @contracts_bp.arguments(ContractInputSchema)
    @contracts_bp.response(200, ContractSchema, headers={"ETag": {"schema": {"type": "string"}}})
    def put(self, values: dict[str, Any], contract_id: int) -> Any:
        """Replace a contract's fields (staff). Send the ETag you read as If-Match: two clerks editing
        one contract cannot overwrite each other (412 when it changed since)."""
        user = _signed_in()
        current = contracts.get_for(user, contract_id)
        expected = request.headers.get("If-Match")
        if not expected:
            abort(428, description="Send the contract's ETag as If-Match.")
        if expected.strip() != _etag(current):
            abort(412, description="The contract changed since you read it; read it again.")
        return _with_etag(contracts.update(user, contract_id, contracts.ContractInput(**values), current.version))


# --- deals ---------------------------------------------------------------------------------------

class NoteSchema(Schema):
    id = fields.Integer()
    body = fields.String()
    created_at = fields.DateTime()


class DealSchema(Schema):
    id = fields.Integer()
    stage = fields.String()
    origin = fields.String()
    result_id = fields.Integer(allow_none=True)
    need_id = fields.Integer(allow_none=True)
    seller_org_id = fields.Integer()
    buyer_org_id = fields.Integer()
    broker_id = fields.Integer(allow_none=True)
    introduction_id = fields.Integer(allow_none=True)
    fair_id = fields.Integer(allow_none=True)
    next_action = fields.String(allow_none=True)
    next_action_date = fields.Date(allow_none=True)
    notes = fields.List(fields.Nested(NoteSchema))


class DealListSchema(Schema):
    items = fields.List(fields.Nested(DealSchema))


class DealArgs(Strict):
    stage = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    overdue = fields.Boolean(load_default=False)


class StageInput(Schema):
    class Meta:
        unknown = RAISE

    stage = fields.String(required=True, validate=validate.Length(max=20))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    lost_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    lost_note = fields.String(load_default="", validate=validate.Length(max=2000))


class NoteInput(Schema):
    class Meta:
        unknown = RAISE

    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


def deal_json(deal: Any, with_notes: bool = False) -> dict[str, Any]:
    return {"id": deal.id, "stage": deal.stage, "origin": deal.origin, "result_id": deal.result_id,
            "need_id": deal.need_id, "seller_org_id": deal.seller_org_id, "buyer_org_id": deal.buyer_org_id,
            "broker_id": deal.broker_id, "introduction_id": deal.introduction_id, "fair_id": deal.fair_id,
            "next_action": deal.next_action, "next_action_date": deal.next_action_date,
            "notes": [{"id": n.id, "body": n.body, "created_at": aware(n.created_at)} for n in deal.notes]
            if with_notes else []}


@deals_bp.route("")
class Deals(MethodView):
    @deals_bp.arguments(DealArgs, location="query")
    @deals_bp.response(200, DealListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Deals the caller follows (staff all, brokers theirs and the unassigned queue, members their
        organization's), most recently moved first."""
        user = _signed_in()
        return {"items": [deal_json(d) for d in deals.listing(user, args["stage"], args["overdue"])]}


@deals_bp.route("/<int:deal_id>")
class OneDeal(MethodView):
    @deals_bp.response(200, DealSchema)
    def get(self, deal_id: int) -> dict[str, Any]:
        """One deal with its notes."""
        return deal_json(deals.get_for(_signed_in(), deal_id), with_notes=True)


@deals_bp.route("/<int:deal_id>/stage", methods=["POST"], endpoint="stage")
@deals_bp.arguments(StageInput)
@deals_bp.response(200, DealSchema)
def move_deal(values: dict[str, Any], deal_id: int) -> Any:
    """Move a deal to another stage (its broker or staff; a broker acting on an unassigned deal takes it)."""
    user = _signed_in()
    deal = deals.change_stage(user, deal_id, values["stage"], values["note"], values["lost_reason"],
                              values["lost_note"])
    return deal_json(deal, with_notes=True)


@deals_bp.route("/<int:deal_id>/notes", methods=["POST"], endpoint="notes")
@deals_bp.arguments(NoteInput)
@deals_bp.response(201, NoteSchema)
def add_deal_note(values: dict[str, Any], deal_id: int) -> Any:
    """Add a note to a deal."""
    note = deals.add_note(_signed_in(), deal_id, values["body"])
    return {"id": note.id, "body": note.body, "created_at": aware(note.created_at)}
