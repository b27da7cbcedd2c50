"""Browse lists as XLSX or CSV (UTF-8 with BOM, so Excel shows Chinese), blanked where the viewer may not look."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import xlsx
from matchmaker.core.i18n import format_money
from matchmaker.listings import search
from matchmaker.listings.lifecycle import ListingView, view_for
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    IP_STATUS,
    MATURITY,
    TECH_FIELDS,
    TRANSFER_MODES,
    region_name,
)

EXPORT_MAX_ROWS = 10000
Column = tuple[Any, Callable[[ListingView, str], Any]]


def _money(fen: int | None, lang: str) -> str:
    return format_money(fen, lang, negotiable_label=_("Negotiable"))


def _org(v: ListingView, lang: str) -> str:
    org = v.organization
    if org is None:
        return _("Anonymous (confidential)")
    return (org.name_en or org.name) if lang == "en" else org.name


COMMON_HEAD: list[Column] = [
    (_l("ID"), lambda v, _lang: v.id),
    (_l("Title"), lambda v, _lang: v.title),
    (_l("Public teaser"), lambda v, _lang: v.summary),
    (_l("Detailed description"), lambda v, _lang: v.description or ""),
    (_l("Keywords"), lambda v, _lang: "、".join(v.keywords or [])),
    (_l("Industry section (GB/T 4754)"), lambda v, lang: INDUSTRY_SECTIONS.label(v.industry_section, lang)),
    (_l("Industry division"), lambda v, lang: INDUSTRY_DIVISIONS.label(v.industry_division, lang)),
    (_l("Technology field"), lambda v, lang: TECH_FIELDS.label(v.tech_field, lang)),
    (_l("Transfer modes"), lambda v, lang: "、".join(TRANSFER_MODES.label(m, lang) for m in v.transfer_modes or [])),
]
COMMON_TAIL: list[Column] = [
    (_l("Organization"), _org),
    (_l("Region"), lambda v, lang: region_name(v.region, lang)),
    (_l("Published"), lambda v, _lang: v.published_at.date() if v.published_at else None),
    (_l("Valid until"), lambda v, _lang: v.valid_until),
    (_l("Contact person"), lambda v, _lang: v.contact_name or ""),
    (_l("Contact phone"), lambda v, _lang: v.contact_phone or ""),
    (_l("Contact email"), lambda v, _lang: v.contact_email or ""),
]
KIND_COLUMNS: dict[str, list[Column]] = {
    "result": [
        (_l("Maturity"), lambda v, lang: MATURITY.label(v.maturity, lang)),
        (_l("TRL"), lambda v, _lang: v.trl),
        (_l("Intellectual property"), lambda v, lang: IP_STATUS.label(v.ip_status, lang)),
        (_l("Patent or registration numbers"), lambda v, _lang: "、".join(v.patent_numbers or [])),
        (_l("Asking price"), lambda v, lang: _money(v.price_fen, lang)),
        (_l("Inventors"), lambda v, _lang: v.inventors or ""),
    ],
    "need": [
        (_l("Budget from"), lambda v, lang: _money(v.budget_min_fen, lang) if v.budget_min_fen is not None else ""),
        (_l("Budget up to"), lambda v, lang: _money(v.budget_max_fen, lang) if v.budget_max_fen is not None else ""),
        (_l("Lowest maturity you can use"), lambda v, lang: MATURITY.label(v.min_maturity, lang)),
        (_l("Deadline"), lambda v, _lang: v.deadline),
    ],
}


def columns(kind: str) -> list[Column]:
    return COMMON_HEAD + KIND_COLUMNS[kind] + COMMON_TAIL


def table(kind: str, filters: search.BrowseFilters, viewer: Any, lang: str) -> tuple[list[str], list[list]]:
    """Localized headers and one row per listing of the filtered browse list, as `viewer` may see it."""
    cols = columns(kind)
    listings = search.search_all(kind, filters, EXPORT_MAX_ROWS)
    rows = [[getter(view_for(listing, viewer), lang) for _h, getter in cols] for listing in listings]
    return [str(header) for header, _g in cols], rows


def _safe_cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to Excel; a leading quote keeps typed text inert.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_csv(headers: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else _safe_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(headers: list[str], rows: list[list], sheet_title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = xlsx.sheet_title(sheet_title)
    sheet.append(headers)
    xlsx.bold_header(sheet)
    for row in rows:
        sheet.append([_safe_cell(v) for v in row])
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = max(10, min(40, len(header) * 2 + 4))
    return xlsx.to_bytes(workbook)
