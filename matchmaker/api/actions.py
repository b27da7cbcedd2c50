"""More of what the site's buttons do, as /api/v1 operations on the listings, matches, deals and contracts
resources: renew a listing, take a suggestion off one's listing (and put it back), judge a match, open
a deal by hand, import historical contracts. Each calls the service the site's form calls
(lifecycle.renew_listing, matching.dismissals, matching.feedback, deals.create, deals.contract_import),
after the same visibility checks."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from werkzeug.exceptions import UnprocessableEntity

from matchmaker.api.views import (
    RECORD_NUMBER,
    ContractInputSchema,
    ContractSchema,
    DealSchema,
    ListingSchema,
    Strict,
    _listing,
    _signed_in,
    area,
    contract_json,
    contracts_bp,
    deal_json,
    deals_bp,
    listing_json,
    listings_bp,
    matches_bp,
)
from matchmaker.deals import contract_import, deals
from matchmaker.listings import lifecycle
from matchmaker.matching import dismissals
from matchmaker.matching import feedback as match_feedback
from models import DEAL_STAGE_ORDER, DealOrigin, DismissReason, FeedbackReason, Session, Verdict, aware

BLUEPRINTS = ()  # none of its own: its operations belong to the resources of api.views


class Closed(Schema):
    class Meta:
        unknown = RAISE


class RenewInput(Closed):
    valid_until = fields.Date(load_default=None, allow_none=True,
                              metadata={"description": "New end of validity; default a year from today"})


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/renew", methods=["POST"], endpoint="renew")
@listings_bp.arguments(RenewInput)
@listings_bp.response(200, ListingSchema)
def renew_listing(values: dict[str, Any], kind: str, listing_id: int) -> Any:
    """Extend a published or expired listing's validity; an expired one is public again at once."""
    user = _signed_in()
    listing = _listing(kind, listing_id)
    lifecycle.renew_listing(user, listing, values["valid_until"])
    return listing_json(listing, user)


# --- taking suggestions off one's own listing ----------------------------------------------------

class DismissInput(Closed):
    reason = fields.String(required=True, validate=validate.OneOf([str(r) for r in DismissReason]),
                           metadata={"description": "not_relevant teaches the matching that the pair was wrong"})


class DismissalSchema(Schema):
    listing_id = fields.Integer()
    other_id = fields.Integer(metadata={"description": "The suggested listing of the other side"})
    dismissed = fields.Boolean()
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime(allow_none=True)


class DismissalListSchema(Schema):
    items = fields.List(fields.Nested(DismissalSchema))


def _pair(kind: str, listing_id: int, other_id: int) -> Any:
    """The caller's listing and the suggestion named, both visible to the caller (404 otherwise)."""
    listing = _listing(kind, listing_id)
    _listing(dismissals.OTHER_SIDE[kind], other_id)
    return listing


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/matches/dismissed")
@area("matching")
class Dismissed(MethodView):
    @listings_bp.response(200, DismissalListSchema)
    def get(self, kind: str, listing_id: int) -> dict[str, Any]:
        """The suggestions the listing's owners took off its matches, newest first (owners only; others
        get an empty list, as the site shows them nothing)."""
        user = _signed_in()
        listing = _listing(kind, listing_id)
        return {"items": [{"listing_id": listing.id, "other_id": other.id, "dismissed": True, "reason": row.reason,
                           "created_at": aware(row.created_at)} for other, row in dismissals.removed(user, listing)]}


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/matches/<int:other_id>/dismiss", methods=["POST"],
                   endpoint="dismiss")
@area("matching")
@listings_bp.arguments(DismissInput)
@listings_bp.response(200, DismissalSchema)
def dismiss_match(values: dict[str, Any], kind: str, listing_id: int, other_id: int) -> Any:
    """Take a suggestion off the matches of the caller's own listing, with a reason."""
    user = _signed_in()
    _pair(kind, listing_id, other_id)
    row = dismissals.dismiss(user, kind, listing_id, other_id, values["reason"])
    return {"listing_id": listing_id, "other_id": other_id, "dismissed": True, "reason": row.reason,
            "created_at": aware(row.created_at)}


@listings_bp.route("/<any(result,need):kind>/<int:listing_id>/matches/<int:other_id>/restore", methods=["POST"],
                   endpoint="restore")
@area("matching")
@listings_bp.response(200, DismissalSchema)
def restore_match(kind: str, listing_id: int, other_id: int) -> Any:
    """Put a removed suggestion back on the listing's matches (its label goes with it)."""
    user = _signed_in()
    _pair(kind, listing_id, other_id)
    dismissals.restore(user, kind, listing_id, other_id)
    return {"listing_id": listing_id, "other_id": other_id, "dismissed": False, "reason": None, "created_at": None}


# --- brokers' judgments of a match ---------------------------------------------------------------

class FeedbackInput(Closed):
    need_id = fields.Integer(required=True, validate=RECORD_NUMBER)
    result_id = fields.Integer(required=True, validate=RECORD_NUMBER)
    verdict = fields.String(required=True, validate=validate.OneOf([str(v) for v in Verdict]))
    reason = fields.String(load_default="", validate=validate.OneOf(["", *(str(r) for r in FeedbackReason)]),
                           metadata={"description": "Required when the verdict is bad"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    score = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1),
                         metadata={"description": "The relevance the suggestion showed"})


class FeedbackSchema(Schema):
    need_id = fields.Integer()
    result_id = fields.Integer()
    verdict = fields.String()
    reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    score = fields.Float(allow_none=True)
    created_at = fields.DateTime()


@matches_bp.route("/feedback", methods=["POST"], endpoint="feedback")
@matches_bp.arguments(FeedbackInput)
@matches_bp.response(201, FeedbackSchema)
def match_feedback_create(values: dict[str, Any]) -> Any:
    """A broker's or staff member's judgment of a need–result pair (replaces their earlier one)."""
    user = _signed_in()
    _listing("need", values["need_id"])
    _listing("result", values["result_id"])
    row = match_feedback.record(user, match_feedback.FeedbackInput(**values))
    return {"need_id": row.need_id, "result_id": row.result_id, "verdict": row.verdict, "reason": row.reason,
            "note": row.note, "score": row.score, "created_at": aware(row.created_at)}


# --- deals opened by hand ------------------------------------------------------------------------

class DealInput(Closed):
    result_id = fields.Integer(required=True, validate=RECORD_NUMBER)
    need_id = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER)
    buyer_org_id = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER,
                                  metadata={"description": "Default: the need's enterprise"})
    origin = fields.String(required=True, validate=validate.OneOf([str(o) for o in DealOrigin]))
    stage = fields.String(load_default=str(DEAL_STAGE_ORDER[0]),
                          validate=validate.OneOf([str(s) for s in DEAL_STAGE_ORDER[:4]]))
    next_action = fields.String(load_default="", validate=validate.Length(max=300))
    next_action_date = fields.Date(load_default=None, allow_none=True)


@deals_bp.route("", methods=["POST"], endpoint="create")
@deals_bp.arguments(DealInput)
@deals_bp.response(201, DealSchema)
def create_deal(values: dict[str, Any]) -> Any:
    """Open a deal by hand (brokers and staff), as the site's deal form does: the listings must be ones
    the caller may see, and a confidential one only once its details are open to the caller."""
    user = _signed_in()
    return deal_json(deals.create(user, deals.DealInput(**values)), with_notes=True)


# --- contracts: historical import ----------------------------------------------------------------

MAX_BULK = 1000


class LooseRow(fields.Nested):
    """Documented as a contract's fields; read here only as an object, so that each row is checked on its
    own and one bad row does not hide the others' errors."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("Each row is an object with a contract's fields.")
        return value


class ContractRowSchema(ContractInputSchema):
    """A historical contract: the registration fields, without links to deals and listings."""

    class Meta:
        unknown = RAISE
        exclude = ("deal_id", "result_id", "need_id")


class BulkInput(Closed):
    rows = fields.List(LooseRow(ContractRowSchema), required=True,
                       validate=validate.Length(min=1, max=MAX_BULK),
                       metadata={"description": f"Up to {MAX_BULK} contracts, each as for creating one"})


class BulkArgs(Strict):
    valid_only = fields.Boolean(load_default=False, metadata={
        "description": "Save the valid rows and report the others (default: any error saves nothing)"})


class RejectedRowSchema(Schema):
    row = fields.Integer(metadata={"description": "1 for the first element of rows"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class BulkResultSchema(Schema):
    saved = fields.Integer()
    skipped = fields.Integer()
    items = fields.List(fields.Nested(ContractSchema), metadata={"description": "The contracts saved"})
    rejected = fields.List(fields.Nested(RejectedRowSchema))


def _flat(messages: Any) -> dict[str, list[str]]:
    """A row's marshmallow errors as {field: [messages]}, the shape the other checks give."""
    return {str(name): [str(m) for m in (found if isinstance(found, list) else [found])]
            for name, found in (messages.items() if isinstance(messages, dict) else {"row": messages}.items())}


@contracts_bp.route("/bulk", methods=["POST"], endpoint="bulk")
@contracts_bp.arguments(BulkArgs, location="query")
@contracts_bp.arguments(BulkInput)
@contracts_bp.response(200, BulkResultSchema)
def bulk_create_contracts(args: dict[str, Any], body: dict[str, Any]) -> Any:
    """Register historical contracts in one call (staff), with the checks of the sheet import: by default
    any row with an error saves nothing (422, each row's errors under `errors.rows`); with
    `valid_only=true` the valid rows are saved and the others reported in `rejected`."""
    user = _signed_in()
    contract_import.require_importer(user)
    schema = ContractRowSchema()
    seen: dict[str, int] = {}
    good: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for row, raw in enumerate(body["rows"], start=1):
        try:
            values, errors = schema.load(raw), {}
        except ValidationError as exc:
            values = exc.valid_data if isinstance(exc.valid_data, dict) else {}
            errors = _flat(exc.messages)
        clean = contract_import.check_row(row, values, errors, seen)
        if clean is None:
            rejected.append({"row": row, "errors": errors})
        else:
            good.append(clean)
    if rejected and not args["valid_only"]:
        failure = UnprocessableEntity(description=f"{len(rejected)} of {len(body['rows'])} rows have errors, so "
                                                  "nothing was saved. Fix them, or send valid_only=true.")
        failure.data = {"messages": {"rows": {str(r["row"]): r["errors"] for r in rejected}}}
        raise failure
    saved = contract_import.save_rows(user, good, len(rejected), {"source": "api"})
    Session.commit()
    return {"saved": len(saved), "skipped": len(rejected), "items": [contract_json(c) for c in saved],
            "rejected": rejected}
