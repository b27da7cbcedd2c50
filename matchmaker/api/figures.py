"""/api/v1/stats: the figures of the staff statistics dashboard (/stats/) and of the matching-efficiency
page (/stats/matching), with the dashboard's filters, read through the same services
(`stats.stats.dashboard`, `stats.efficiency.efficiency`); staff only, as on the site."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import abort
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from matchmaker.api.views import RECORD_NUMBER, MoneySchema, Strict, _signed_in, wire
from matchmaker.core import permissions
from matchmaker.core.i18n import current_lang, format_money
from matchmaker.stats import efficiency as matching_efficiency
from matchmaker.stats import stats
from matchmaker.stats.scope import PERIODS, Row, Scope

stats_bp = Blueprint("api_stats", __name__, url_prefix="/api/v1/stats",
                     description="Contract statistics and matching efficiency (staff)")
BLUEPRINTS = wire({stats_bp: "stats"})

PERIOD_CHOICES = [*PERIODS, *(f"q{n}" for n in range(1, 5)), *(f"m{n}" for n in range(1, 13))]


class ScopeArgs(Strict):
    """The dashboard's filters: a calendar period (or all) and optionally one fair."""

    period = fields.String(load_default="year", validate=validate.OneOf(PERIOD_CHOICES),
                           metadata={"description": "year, quarter, month or all; or q1..q4, m1..m12"})
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1987, max=2200))
    quarter = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=4))
    month = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12))
    fair = fields.Integer(load_default=None, allow_none=True, validate=RECORD_NUMBER,
                          metadata={"description": "Only contracts and threads of this fair"})


class ScopeSchema(Schema):
    period = fields.String()
    year = fields.Integer(allow_none=True)
    quarter = fields.Integer(allow_none=True)
    month = fields.Integer(allow_none=True)
    fair = fields.Integer(allow_none=True)
    start = fields.Date(allow_none=True, data_key="from", metadata={"description": "First day counted"})
    end = fields.Date(allow_none=True, data_key="to", metadata={"description": "First day no longer counted"})


class RowSchema(Schema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()
    amount = fields.Nested(MoneySchema, metadata={"description": "成交额"})
    tech_amount = fields.Nested(MoneySchema, metadata={"description": "技术交易额"})


class FunnelStepSchema(Schema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "Share of the previous step"})
    rate_from_top = fields.Float(allow_none=True, metadata={"description": "Share of contacts requested"})
    comparable = fields.Boolean(metadata={"description": "false: not a subset of the previous step (no rate)"})
    contracts = fields.Integer(allow_none=True)
    amount = fields.Nested(MoneySchema, allow_none=True)


class FairFunnelSchema(Schema):
    fair_id = fields.Integer()
    name = fields.String()
    start_date = fields.Date()
    requests = fields.Integer()
    accepted = fields.Integer()
    meetings = fields.Integer()
    intentions = fields.Integer()
    contracts = fields.Integer(metadata={"description": "Threads that reached a contract"})
    contract_count = fields.Integer()
    amount = fields.Nested(MoneySchema)
    meeting_to_contract = fields.Float(allow_none=True)


class DashboardSchema(Schema):
    scope = fields.Nested(ScopeSchema)
    totals = fields.Nested(RowSchema)
    tables = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(RowSchema)),
                         metadata={"description": "One table per chart: " + ", ".join(stats.DASHBOARD_GROUPS)})
    funnel = fields.List(fields.Nested(FunnelStepSchema))
    funnel_by_fair = fields.List(fields.Nested(FairFunnelSchema))


class StepSchema(Schema):
    label = fields.String()
    requested = fields.Integer(metadata={"description": "Introductions requested"})
    accepted = fields.Integer()
    deals = fields.Integer()
    won = fields.Integer(metadata={"description": "Threads with at least one registered contract"})
    contracts = fields.Integer()
    amount = fields.Nested(MoneySchema)
    acceptance_rate = fields.Float(allow_none=True)
    contract_rate = fields.Float(allow_none=True, metadata={"description": "Requests that led to a contract"})


class NeedsReachedSchema(Schema):
    label = fields.String()
    published = fields.Integer()
    reached = fields.Integer()
    share = fields.Float(allow_none=True)


class EfficiencySchema(Schema):
    scope = fields.Nested(ScopeSchema)
    total = fields.Nested(StepSchema)
    by_origin = fields.List(fields.Nested(StepSchema))
    by_side = fields.List(fields.Nested(StepSchema))
    by_industry = fields.List(fields.Nested(StepSchema))
    deals_by_origin = fields.List(fields.Nested(StepSchema), metadata={"description": "Deals opened without an "
                                                                                      "introduction"})
    reach_days = fields.Integer(metadata={"description": "A need is reached by an introduction within this many days"})
    needs = fields.Nested(NeedsReachedSchema)
    needs_by_industry = fields.List(fields.Nested(NeedsReachedSchema))
    days_to_first_introduction = fields.Float(allow_none=True, metadata={"description": "Median"})
    days_to_first_contract = fields.Float(allow_none=True, metadata={"description": "Median"})


def _money(fen: int | None) -> dict[str, Any]:
    return {"fen": fen, "text": format_money(fen)}


def _scope(args: dict[str, Any]) -> Scope:
    """The dashboard's own parsing (Scope.parse), after the schema refused what is malformed."""
    _staff()
    return Scope.parse({name: value for name, value in args.items() if value is not None})


def _staff() -> None:
    _signed_in()
    if not permissions.can(current_user, "stats.view"):
        abort(403, description="Statistics are for bureau staff.")


def _scope_json(scope: Scope) -> dict[str, Any]:
    start, end = scope.bounds()
    return {**scope.as_args(), "start": start, "end": end}


def _row(row: Row) -> dict[str, Any]:
    return {"key": row.key, "label": row.label, "count": row.count, "amount": _money(row.amount_fen),
            "tech_amount": _money(row.tech_amount_fen)}


def _step(step: matching_efficiency.Step) -> dict[str, Any]:
    return {"label": step.label, "requested": step.requested, "accepted": step.accepted, "deals": step.deals,
            "won": step.won, "contracts": step.contracts, "amount": _money(step.amount_fen),
            "acceptance_rate": step.rate("accepted"), "contract_rate": step.rate("won")}


def _reached(row: matching_efficiency.NeedsReached) -> dict[str, Any]:
    return {"label": row.label, "published": row.published, "reached": row.reached, "share": row.share}


@stats_bp.route("")
class Dashboard(MethodView):
    @stats_bp.arguments(ScopeArgs, location="query")
    @stats_bp.response(200, DashboardSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The contract figures of the statistics dashboard for a period (and fair): totals, every table
        (by month, quarter, type, field, party, flow, institution, fair, year) and the funnel."""
        scope = _scope(args)
        board = stats.dashboard(scope, current_lang())
        funnel = []
        for step in board.funnel:
            data = asdict(step)
            fen = data.pop("amount_fen")
            data["amount"] = _money(fen) if fen is not None else None
            funnel.append(data)
        by_fair = [{**{k: v for k, v in row.items() if k != "amount_fen"}, "amount": _money(row["amount_fen"])}
                   for row in board.funnel_by_fair]
        return {"scope": _scope_json(scope), "totals": _row(board.totals),
                "tables": {group: [_row(r) for r in rows] for group, rows in board.tables.items()},
                "funnel": funnel, "funnel_by_fair": by_fair}


@stats_bp.route("/matching")
class Matching(MethodView):
    @stats_bp.arguments(ScopeArgs, location="query")
    @stats_bp.response(200, EfficiencySchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Matching efficiency (对接成功率) as the staff page /stats/matching shows it: introductions requested
        in the period and what they led to, by origin, side and industry; needs reached."""
        scope = _scope(args)
        report = matching_efficiency.efficiency(scope, current_lang())
        return {"scope": _scope_json(scope), "total": _step(report.total),
                "by_origin": [_step(s) for s in report.by_origin], "by_side": [_step(s) for s in report.by_side],
                "by_industry": [_step(s) for s in report.by_industry],
                "deals_by_origin": [_step(s) for s in report.deals_by_origin],
                "reach_days": matching_efficiency.REACH_DAYS, "needs": _reached(report.needs),
                "needs_by_industry": [_reached(r) for r in report.needs_by_industry],
                "days_to_first_introduction": report.days_to_first_introduction,
                "days_to_first_contract": report.days_to_first_contract}
