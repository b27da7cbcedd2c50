"""/api/v1/fairs and /api/v1/organizations: matchmaking fairs (list, one fair, register someone, the
counterparts suggested, meeting requests, the caller's schedule as JSON and as an ICS calendar) through
the services the fair pages call (fairs.fairs, fairs.meetings, fairs.printouts); organizations read
with their public fields only."""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, url_for
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from matchmaker.accounts import organizations
from matchmaker.api.views import (
    MAX_LIMIT,
    RECORD_NUMBER,
    OrganizationSchema,
    Strict,
    _cursor,
    _offset,
    _signed_in,
    wire,
)
from matchmaker.core.errors import NotFound
from matchmaker.fairs import fairs, printouts
from matchmaker.fairs import meetings as fair_meetings
from models import Organization, aware

fairs_bp = Blueprint("api_fairs", __name__, url_prefix="/api/v1/fairs",
                     description="Matchmaking fairs (对接会): registration, meeting requests, schedules")
organizations_bp = Blueprint("api_organizations", __name__, url_prefix="/api/v1/organizations",
                             description="Organizations on the platform (public fields)")
BLUEPRINTS = wire({fairs_bp: "fairs", organizations_bp: "account"})


# --- schemas -------------------------------------------------------------------------------------

class SessionSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    day = fields.Date()
    start_time = fields.Time()
    end_time = fields.Time()


class ParticipantSchema(Schema):
    id = fields.Integer()
    fair_id = fields.Integer()
    name = fields.String()
    participant_type = fields.String(metadata={"enum": ["research", "enterprise", "broker", "observer"]})
    status = fields.String(metadata={"enum": ["pending", "validated", "rejected"]})
    organization = fields.Nested(OrganizationSchema)


class FairSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    venue = fields.String()
    description = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    status = fields.String(metadata={"enum": ["draft", "open", "closed", "finished"]})
    registration_open = fields.Boolean(metadata={"description": "Whether members may register people now"})
    registration_opens = fields.Date(allow_none=True)
    registration_closes = fields.Date(allow_none=True)
    participant_types = fields.List(fields.String())
    meeting_minutes = fields.Integer()
    sessions = fields.List(fields.Nested(SessionSchema))
    mine = fields.List(fields.Nested(ParticipantSchema),
                       metadata={"description": "The participants the caller acts for at this fair"})


class FairListSchema(Schema):
    items = fields.List(fields.Nested(FairSchema))


class RegisterInput(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                         metadata={"description": "Default: the caller's name"})
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254),
                          metadata={"description": "Default: the caller's e-mail"})
    participant_type = fields.String(required=True, validate=validate.Length(max=20))
    organization_id = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER,
                                     metadata={"description": "Staff only; others register their own organization"})
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=30))
    job_title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    result_ids = fields.List(fields.Integer(validate=RECORD_NUMBER), load_default=list,
                             validate=validate.Length(max=50))
    need_ids = fields.List(fields.Integer(validate=RECORD_NUMBER), load_default=list, validate=validate.Length(max=50))
    session_ids = fields.List(fields.Integer(validate=RECORD_NUMBER), load_default=None, allow_none=True,
                              validate=validate.Length(max=50),
                              metadata={"description": "Sessions the person attends (default: all)"})


class AsArgs(Strict):
    as_ = fields.Integer(data_key="as", load_default=None, allow_none=True, validate=RECORD_NUMBER,
                         metadata={"description": "Which of the participants the caller acts for (default: "
                                                  "their own registration)"})


class SuggestionSchema(Schema):
    participant = fields.Nested(ParticipantSchema)
    score = fields.Float(metadata={"description": "The fair's own score of the best pair of listings"})
    relevance = fields.Float(allow_none=True, metadata={"description": "The site's calibrated estimate, if known"})
    reasons = fields.List(fields.String())
    result_id = fields.Integer(allow_none=True)
    need_id = fields.Integer(allow_none=True)
    request_id = fields.Integer(allow_none=True, metadata={"description": "A request between the two, if any"})
    meeting_id = fields.Integer(allow_none=True)


class SuggestionListSchema(Schema):
    participant = fields.Nested(ParticipantSchema)
    items = fields.List(fields.Nested(SuggestionSchema))


class MeetingRequestSchema(Schema):
    id = fields.Integer()
    fair_id = fields.Integer()
    status = fields.String(metadata={"enum": ["pending", "accepted", "declined", "expired", "cancelled"]})
    requester = fields.Nested(ParticipantSchema)
    recipient = fields.Nested(ParticipantSchema)
    message = fields.String()
    result_id = fields.Integer(allow_none=True)
    need_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    responded_at = fields.DateTime(allow_none=True)
    response_note = fields.String(allow_none=True)


class RequestListSchema(Schema):
    participant = fields.Nested(ParticipantSchema)
    incoming = fields.List(fields.Nested(MeetingRequestSchema))
    outgoing = fields.List(fields.Nested(MeetingRequestSchema))


class RequestInput(Schema):
    class Meta:
        unknown = RAISE

    requester_id = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER,
                                  metadata={"description": "Default: the caller's own registration"})
    recipient_id = fields.Integer(required=True, validate=RECORD_NUMBER)
    message = fields.String(load_default="", validate=validate.Length(max=2000))
    result_id = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER)
    need_id = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER)


class RespondInput(Schema):
    class Meta:
        unknown = RAISE

    accept = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class ScheduleRowSchema(Schema):
    meeting_id = fields.Integer()
    status = fields.String()
    starts_at = fields.DateTime(allow_none=True, metadata={"description": "null until the schedule places it"})
    ends_at = fields.DateTime(allow_none=True)
    table_no = fields.Integer(allow_none=True)
    counterpart = fields.Nested(ParticipantSchema)
    listing_titles = fields.List(fields.String())


class ScheduleSchema(Schema):
    participant = fields.Nested(ParticipantSchema)
    updated_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(ScheduleRowSchema))


class PublicOrganizationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    kind = fields.String()
    entity_type = fields.String(allow_none=True, metadata={"description": "JJ-001 legal-entity type code"})
    region = fields.String(allow_none=True, metadata={"description": "GB/T 2260 region code"})
    website = fields.String(allow_none=True)
    verified = fields.Boolean()


class OrganizationPageSchema(Schema):
    items = fields.List(fields.Nested(PublicOrganizationSchema))
    next_cursor = fields.String(allow_none=True)


class OrganizationArgs(Strict):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    kind = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


# --- shaping -------------------------------------------------------------------------------------

def participant_json(p: Any) -> dict[str, Any]:
    return {"id": p.id, "fair_id": p.fair_id, "name": p.name, "participant_type": p.participant_type,
            "status": p.status, "organization": {"id": p.organization.id, "name": p.organization.name}}


def fair_json(fair: Any, user: Any) -> dict[str, Any]:
    return {"id": fair.id, "name": fair.name, "venue": fair.venue, "description": fair.description,
            "start_date": fair.start_date, "end_date": fair.end_date, "status": fair.status,
            "registration_open": fairs.registration_open(fair), "registration_opens": fair.registration_opens,
            "registration_closes": fair.registration_closes, "participant_types": list(fair.participant_types or []),
            "meeting_minutes": fair.meeting_minutes,
            "sessions": [{"id": s.id, "name": s.name, "day": s.day, "start_time": s.start_time,
                          "end_time": s.end_time} for s in fair.sessions],
            "mine": [participant_json(p) for p in fairs.my_participants(user, fair.id)]}


def request_json(req: Any) -> dict[str, Any]:
    return {"id": req.id, "fair_id": req.fair_id, "status": req.status, "requester": participant_json(req.requester),
            "recipient": participant_json(req.recipient), "message": req.message, "result_id": req.result_id,
            "need_id": req.need_id, "created_at": aware(req.created_at), "expires_at": aware(req.expires_at),
            "responded_at": aware(req.responded_at), "response_note": req.response_note}


def _local(moment: Any) -> Any:
    """Slot times are the fair's wall-clock times; the API gives them with the fair's zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")))


def _fair(fair_id: int) -> Any:
    """The fair, if the caller may see it (drafts are for staff)."""
    try:
        fair = fairs.get_fair(fair_id)
    except NotFound:
        fair = None
    if fair is None or not fairs.visible(current_user, fair):
        abort(404, description="No such fair.")
    return fair


def _me(fair: Any, wanted: int | None) -> Any:
    """The participant the caller acts for at this fair: `as` when given (staff: anyone at the fair),
    else the caller's own registration."""
    user = _signed_in()
    if wanted is not None:
        participant = _participant_or_none(wanted)
        if participant is None or participant.fair_id != fair.id:
            abort(404, description="No such participant at this fair.")
        if not fairs.can_act_for(user, participant):
            abort(403, description="You cannot act for this participant.")
        return participant
    mine = fairs.my_participants(user, fair.id)
    if not mine:
        abort(409, description="Register for the fair first.")
    return mine[0]


def _participant_or_none(participant_id: int) -> Any:
    try:
        return fairs.get_participant(participant_id)
    except NotFound:
        return None


# --- fairs ---------------------------------------------------------------------------------------

@fairs_bp.route("")
class Fairs(MethodView):
    @fairs_bp.response(200, FairListSchema)
    def get(self) -> dict[str, Any]:
        """Fairs, newest first (drafts for staff only)."""
        return {"items": [fair_json(f, current_user) for f in fairs.list_fairs(current_user)]}


@fairs_bp.route("/<int:fair_id>")
class OneFair(MethodView):
    @fairs_bp.response(200, FairSchema)
    def get(self, fair_id: int) -> dict[str, Any]:
        """One fair with its sessions and the caller's participants."""
        return fair_json(_fair(fair_id), current_user)


@fairs_bp.route("/<int:fair_id>/register", methods=["POST"], endpoint="register")
@fairs_bp.arguments(RegisterInput)
@fairs_bp.response(201, ParticipantSchema)
def register(values: dict[str, Any], fair_id: int) -> Any:
    """Register a person of the caller's organization (staff: of any organization) while registration is
    open; staff validate the registration before meetings can be requested."""
    user = _signed_in()
    fair = _fair(fair_id)
    sessions = values.pop("session_ids")
    reg = fairs.Registration(
        name=values["name"] if values["name"] is not None else user.name,
        email=values["email"] if values["email"] is not None else user.email,
        participant_type=values["participant_type"], organization_id=values["organization_id"],
        phone=values["phone"], job_title=values["job_title"], result_ids=values["result_ids"],
        need_ids=values["need_ids"], availability=None if sessions is None else dict.fromkeys(sessions))
    return participant_json(fairs.register(user, fair.id, reg))


@fairs_bp.route("/<int:fair_id>/suggestions")
class Suggestions(MethodView):
    @fairs_bp.arguments(AsArgs, location="query")
    @fairs_bp.response(200, SuggestionListSchema)
    def get(self, args: dict[str, Any], fair_id: int) -> dict[str, Any]:
        """Counterparts at the fair worth meeting, best first, as the fair's suggestions page shows them
        (confidential listings are not named)."""
        me = _me(_fair(fair_id), args["as_"])
        rows = fair_meetings.suggestions(me.id, viewer=current_user)
        return {"participant": participant_json(me), "items": [
            {"participant": participant_json(s.participant), "score": s.score, "relevance": s.relevance,
             "reasons": [str(r) for r in s.reasons], "result_id": s.result_id, "need_id": s.need_id,
             "request_id": s.request.id if s.request else None, "meeting_id": s.meeting.id if s.meeting else None}
            for s in rows]}


@fairs_bp.route("/<int:fair_id>/requests")
class Requests(MethodView):
    @fairs_bp.arguments(AsArgs, location="query")
    @fairs_bp.response(200, RequestListSchema)
    def get(self, args: dict[str, Any], fair_id: int) -> dict[str, Any]:
        """The meeting requests a participant sent and received, newest first."""
        me = _me(_fair(fair_id), args["as_"])
        lists = fair_meetings.requests_for(me.id)
        return {"participant": participant_json(me), "incoming": [request_json(r) for r in lists["incoming"]],
                "outgoing": [request_json(r) for r in lists["outgoing"]]}

    @fairs_bp.arguments(RequestInput)
    @fairs_bp.response(201, MeetingRequestSchema)
    def post(self, values: dict[str, Any], fair_id: int) -> dict[str, Any]:
        """Ask a validated participant of the other side for a meeting; when they accept it is scheduled."""
        user = _signed_in()
        fair = _fair(fair_id)
        me = _me(fair, values["requester_id"])
        recipient = _participant_or_none(values["recipient_id"])
        if recipient is None or recipient.fair_id != fair.id:
            abort(422, description="recipient_id is not a participant of this fair.")
        req = fair_meetings.send_request(user, me.id, recipient.id, values["message"], result_id=values["result_id"],
                                         need_id=values["need_id"])
        return request_json(req)


@fairs_bp.route("/requests/<int:request_id>/respond", methods=["POST"], endpoint="respond")
@fairs_bp.arguments(RespondInput)
@fairs_bp.response(200, MeetingRequestSchema)
def respond(values: dict[str, Any], request_id: int) -> Any:
    """The recipient accepts (a meeting is created, to be scheduled) or declines."""
    user = _signed_in()
    try:
        req = fair_meetings.get_request(request_id)
    except NotFound:
        abort(404, description="No such meeting request.")
    if not (fairs.can_act_for(user, req.recipient) or fairs.can_act_for(user, req.requester)):
        abort(404, description="No such meeting request.")
    return request_json(fair_meetings.respond(user, request_id, values["accept"], values["note"]))


def _schedule_rows(participant: Any) -> list[dict[str, Any]]:
    return [{"meeting_id": row.meeting.id, "status": row.meeting.status,
             "starts_at": _local(row.slot.starts_at) if row.slot else None,
             "ends_at": _local(row.slot.ends_at) if row.slot else None, "table_no": row.table_no,
             "counterpart": participant_json(row.counterpart), "listing_titles": list(row.listing_titles)}
            for row in printouts.participant_rows(participant.id)]


@fairs_bp.route("/<int:fair_id>/schedule")
class Schedule(MethodView):
    @fairs_bp.arguments(AsArgs, location="query")
    @fairs_bp.response(200, ScheduleSchema)
    def get(self, args: dict[str, Any], fair_id: int) -> dict[str, Any]:
        """A participant's meetings: scheduled ones by time (with the fair's time zone) and table, then
        those still without a slot."""
        fair = _fair(fair_id)
        me = _me(fair, args["as_"])
        return {"participant": participant_json(me), "updated_at": aware(fair.schedule_updated_at),
                "items": _schedule_rows(me)}


@fairs_bp.route("/<int:fair_id>/schedule.ics")
class ScheduleCalendar(MethodView):
    @fairs_bp.arguments(AsArgs, location="query")
    @fairs_bp.response(200, content_type="text/calendar",
                       description="An iCalendar file: one event per scheduled meeting, in the fair's time zone")
    def get(self, args: dict[str, Any], fair_id: int) -> Any:
        """The same schedule as a calendar file (the one the printed schedule links)."""
        me = _me(_fair(fair_id), args["as_"])
        body = printouts.calendar_ics(me.id, url_for("fairs.checkin_token", token=me.checkin_token, _external=True))
        response = current_app.response_class(body, mimetype="text/calendar")
        response.headers["Content-Disposition"] = f'attachment; filename="fair-{me.fair_id}-{me.id}.ics"'
        return response


# --- organizations -------------------------------------------------------------------------------

def organization_json(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "name_en": org.name_en, "kind": org.kind, "entity_type": org.entity_type,
            "region": org.region, "website": org.website, "verified": bool(org.verified)}


@organizations_bp.route("")
class Organizations(MethodView):
    @organizations_bp.arguments(OrganizationArgs, location="query")
    @organizations_bp.response(200, OrganizationPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Organizations by name, optionally of one kind or containing `q` (public fields only)."""
        _signed_in()
        offset, limit = _offset(args["cursor"]), args["limit"]
        rows = organizations.directory(args["q"], args["kind"], offset, limit + 1)
        return {"items": [organization_json(o) for o in rows[:limit]],
                "next_cursor": _cursor(offset + limit) if len(rows) > limit else None}


@organizations_bp.route("/<int:org_id>")
class OneOrganization(MethodView):
    @organizations_bp.response(200, PublicOrganizationSchema)
    def get(self, org_id: int) -> dict[str, Any]:
        """One organization (public fields only: no credit code, members or contacts)."""
        _signed_in()
        org = organizations.get(org_id)
        if org is None:
            abort(404, description="No such organization.")
        return organization_json(org)

