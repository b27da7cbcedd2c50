"""One import row at a time: listing fields from its cells, its organization, and the listing form's checks."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _

from matchmaker.accounts import organizations
from matchmaker.core.errors import ValidationFailed
from matchmaker.imports.cells import (
    BadValue,
    ColumnMap,
    cell_text,
    has_cjk,
    parse_bool,
    parse_code,
    parse_date,
    parse_industry_cell,
    parse_int,
    parse_list,
    parse_modes,
    parse_money_range,
    parse_region,
    raw_cell_text,
    teaser,
    unit_hint,
)
from matchmaker.imports.formats import EXTRA_CELLS
from matchmaker.listings import lifecycle
from matchmaker.listings.search import local_today
from matchmaker.reference import (
    IP_STATUS,
    MATURITY,
    TECH_FIELDS,
    zhibei_ip_status,
    zhibei_maturity,
    zhibei_tech_field,
    zhibei_validity,
)
from models import Organization

DATE_FIELDS = ("valid_until", "deadline")


# --- rows ------------------------------------------------------------------------------------

@dataclass
class RowOutcome:
    number: int
    ref: str | None
    organization_id: int | None
    fields: dict[str, Any]
    posted: date | None
    errors: dict[str, list[str]]


class OrgResolver:
    """Finds organizations named in the file once each, and checks they may own this kind of listing."""

    def __init__(self, kind: str, default: Organization | None) -> None:
        self.kind = kind
        self.default = default
        self._cache: dict[str, Organization | None] = {}

    def resolve(self, name: str) -> Organization:
        if not name:
            if self.default is None:
                raise BadValue(_("No organization: choose one on the upload form or fill the organization "
                                 "column."))
            return self.default
        if name not in self._cache:
            self._cache[name] = organizations.find_by_name(name)
        org = self._cache[name]
        if org is None:
            raise BadValue(_("Unknown organization “%(name)s”: it must be registered on the platform first.",
                             name=name))
        check_owner_kind(self.kind, org)
        return org


def check_owner_kind(kind: str, org: Organization) -> None:
    if org.kind not in lifecycle.OWNER_ORG_KINDS[kind]:
        if kind == "result":
            raise BadValue(_("%(name)s is not a university or institute; research results belong to one.",
                             name=org.name))
        raise BadValue(_("%(name)s is not an enterprise; technical needs belong to one.", name=org.name))


class RowReader:
    """Turns one raw row into listing fields, collecting an error per unreadable cell."""

    def __init__(self, columns: ColumnMap, orgs: OrgResolver) -> None:
        self.columns = columns
        self.orgs = orgs

    def cell(self, raw: dict[str, Any], field: str) -> Any:
        header = self.columns.header(field)
        return raw.get(header, "") if header else ""

    def read(self, number: int, raw: dict[str, Any]) -> RowOutcome:
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}

        def take(field: str, parse: Callable[[Any], Any], target: str | None = None) -> Any:
            try:
                result = parse(self.cell(raw, field))
            except BadValue as exc:
                errors.setdefault(target or field, []).append(str(exc))
                return None
            if target is not None:
                values[target] = result
            return result

        self._read_text(raw, values)
        self._read_classification(take, values)
        take("transfer_modes", parse_modes, "transfer_modes")
        take("region", parse_region, "region")
        take("valid_until", parse_date, "valid_until")
        take("confidential", parse_bool, "confidential")
        take("language", lambda v: cell_text(v).lower() or None, "language")
        take("keywords", lambda v: parse_list(v, lifecycle.split_keywords), "keywords")
        for field in ("contact_name", "contact_phone", "contact_email"):
            values[field] = cell_text(self.cell(raw, field)) or None
        if self.columns.kind == "result":
            self._read_result(take, values)
        else:
            self._read_need(take, values)
        if self.columns.zhibei:
            self._read_zhibei_validity(raw, values)
        posted = take("posted", parse_date)
        self._fill_teaser(values, errors)
        values.setdefault("language", None)
        values["language"] = values["language"] or ("zh" if has_cjk(values["title"] + values["summary"])
                                                     else "en")
        org = take("organization", lambda v: self.orgs.resolve(cell_text(v)))
        if raw.get(EXTRA_CELLS):
            errors.setdefault("row", []).append(_("This row has more cells than the header has columns."))
        ref = self._external_ref(raw, values, errors)
        return RowOutcome(number, ref, org.id if org else None, values, posted, errors)

    def _read_text(self, raw: dict[str, Any], values: dict[str, Any]) -> None:
        values["title"] = " ".join(raw_cell_text(self.cell(raw, "title")).split())
        values["summary"] = raw_cell_text(self.cell(raw, "summary"))
        values["description"] = raw_cell_text(self.cell(raw, "description"))
        if self.columns.kind == "result":
            values["inventors"] = cell_text(self.cell(raw, "inventors")) or None
            values["application_areas"] = raw_cell_text(self.cell(raw, "application_areas")) or None

    def _read_classification(self, take: Callable[..., Any], values: dict[str, Any]) -> None:
        section, division = take("industry", parse_industry_cell) or (None, None)
        if section is None:
            for field in ("industry_section", "industry_section_name"):
                section = section or (take(field, parse_industry_cell) or (None, None))[0]
        if division is None and self.columns.header("industry_division"):
            division = (take("industry_division", lambda v: parse_industry_cell(
                f"{v:0>2}" if cell_text(v).isdigit() else v)) or (None, None))[1]
        values["industry_section"], values["industry_division"] = section, division
        take("tech_field", lambda v: parse_code(TECH_FIELDS, v, zhibei_tech_field), "tech_field")
        if self.columns.zhibei and values.get("tech_field") is None:
            take("zhibei_field", lambda v: zhibei_tech_field(cell_text(v)), "tech_field")

    def _read_result(self, take: Callable[..., Any], values: dict[str, Any]) -> None:
        description = values["description"]
        take("maturity", lambda v: parse_code(MATURITY, v, zhibei_maturity), "maturity")
        take("trl", parse_int, "trl")
        take("ip_status", lambda v: parse_code(IP_STATUS, v, lambda t: zhibei_ip_status(t, description)),
             "ip_status")
        take("patent_numbers", lambda v: parse_list(v, lifecycle.split_patent_numbers), "patent_numbers")
        hint = unit_hint(self.columns.header("price") or "")
        low, _high = take("price", lambda v: parse_money_range(v, hint)) or (None, None)
        values["price_fen"] = low

    def _read_need(self, take: Callable[..., Any], values: dict[str, Any]) -> None:
        take("min_maturity", lambda v: parse_code(MATURITY, v, zhibei_maturity), "min_maturity")
        take("min_trl", parse_int, "min_trl")
        take("deadline", parse_date, "deadline")
        money = {f: unit_hint(self.columns.header(f) or "") for f in ("budget", "budget_min", "budget_max")}
        low, high = take("budget", lambda v: parse_money_range(v, money["budget"])) or (None, None)
        low = (take("budget_min", lambda v: parse_money_range(v, money["budget_min"])) or (None, None))[0] or low
        high = (take("budget_max", lambda v: parse_money_range(v, money["budget_max"])) or (None, None))[1] or high
        values["budget_min_fen"], values["budget_max_fen"] = low, high

    def _read_zhibei_validity(self, raw: dict[str, Any], values: dict[str, Any]) -> None:
        # Zhibei listings are 2019-20 market data whose windows have closed; an ended window is
        # dropped so the listing gets the platform's default validity from the day of import.
        _start, end = zhibei_validity(cell_text(self.cell(raw, "validity_window")))
        if values.get("valid_until") is None and end is not None and end >= local_today():
            values["valid_until"] = end

    def _fill_teaser(self, values: dict[str, Any], errors: dict[str, list[str]]) -> None:
        # A confidential listing's teaser is what outsiders read: it must be written, not cut from the details.
        if not values["summary"] and values["description"] and not values.get("confidential"):
            values["summary"] = teaser(values["description"])
        if not values["summary"] and not values["description"]:
            errors.setdefault("description", []).append(_("The row has no text: a summary or description is "
                                                          "required."))

    def _external_ref(self, raw: dict[str, Any], values: dict[str, Any], errors: dict[str, list[str]]) -> str:
        explicit = cell_text(self.cell(raw, "external_ref"))
        if not explicit and self.columns.zhibei and cell_text(self.cell(raw, "zhibei_id")):
            explicit = f"zhibei:{cell_text(self.cell(raw, 'zhibei_id'))}"
        if explicit:
            if len(explicit) > 100:
                errors.setdefault("external_ref", []).append(_("At most %(limit)s characters.", limit=100))
            return explicit[:100]
        # Without a reference, the same title and text mean the same listing: re-importing skips it.
        digest = hashlib.sha1(f"{self.columns.kind}\n{values['title']}\n{values['description']}".encode())
        return f"import:{digest.hexdigest()[:24]}"


def validate_row(kind: str, outcome: RowOutcome) -> None:
    """Check the row's fields with the listing form's rules; normalised values replace the raw ones."""
    try:
        cleaned = lifecycle.clean_values(kind, outcome.fields)
    except ValidationFailed as failed:
        for field, messages in failed.errors.items():
            if field == "summary" and "description" in outcome.errors:
                continue  # the row has no text at all; _fill_teaser already said so
            # A teaser cut from an empty description is reported against the column the row lacks.
            target = "description" if field == "summary" and not outcome.fields.get("description") else field
            for message in messages:
                if message not in outcome.errors.get(target, []):
                    outcome.errors.setdefault(target, []).append(message)
        return
    outcome.fields = cleaned


def fields_to_json(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}


def fields_from_json(fields: dict[str, Any]) -> dict[str, Any]:
    restored = dict(fields)
    for field in DATE_FIELDS:
        if isinstance(restored.get(field), str):
            restored[field] = date.fromisoformat(restored[field])
    return restored


