"""Bulk import of research results and technical needs from the tables bureaus collect before a fair.

upload → preview_upload(): read the file, map its columns onto listing fields (our own headers in
Chinese or English, or the Zhibei market's field names), check every row with the listing form's
rules (listings.clean_values) and keep the outcome in an ImportBatch; nothing else is saved.
confirm() → run_batch(): create the listings, skipping rows already imported (same external_ref),
in chunks of CHUNK_ROWS with progress on a Job; big files run in the background.
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.accounts import organizations
from matchmaker.core import audit, jobs
from matchmaker.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from matchmaker.core.permissions import require
from matchmaker.imports.formats import EXTRA_CELLS, ImportFileError, RawTable, read_table
from matchmaker.listings import exports, lifecycle
from matchmaker.listings.events import listing_changed
from matchmaker.listings.search import local_today
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    IP_STATUS,
    MATURITY,
    REGIONS,
    TECH_FIELDS,
    TRANSFER_MODES,
    CodeList,
    division_section,
    parse_industry,
    region_name,
    zhibei_ip_status,
    zhibei_maturity,
    zhibei_price_range_fen,
    zhibei_tech_field,
    zhibei_transfer_modes,
    zhibei_validity,
)
from models import (
    ImportBatch,
    ImportStatus,
    Job,
    JobStatus,
    ListingStatus,
    Organization,
    Session,
    User,
    listing_model,
    utcnow,
)

log = logging.getLogger(__name__)

KINDS = ("result", "need")
IMPORT_STATUSES = (ListingStatus.PUBLISHED, ListingStatus.DRAFT)
# Files with more valid rows than this import in a background job with a progress bar.
BACKGROUND_ROWS = 200
CHUNK_ROWS = 100
TEASER_LENGTH = 200
DATE_FIELDS = ("valid_until", "deadline")


# --- columns ---------------------------------------------------------------------------------

def _key(header: str) -> str:
    """Header spelling that ignores case, spaces, punctuation, required-markers and units in brackets."""
    text = unicodedata.normalize("NFKC", str(header)).lower()
    text = re.sub(r"\(.*?\)|\[.*?\]|【.*?】", "", text)
    return re.sub(r"[\s_\-*:：/.·]", "", text)


def _unit_hint(header: str) -> str | None:
    """ "价格（万元）" -> 万元, "Price (yuan)" -> 元: how to read bare numbers in a money column."""
    text = unicodedata.normalize("NFKC", str(header)).lower()
    if "万" in text or "10k" in text:
        return "万元"
    if re.search(r"元|yuan|cny|rmb", text):
        return "元"
    return None


# field -> header spellings (after _key). Our export's English and Chinese labels, the usual words
# on fair collection forms, and our own field names.
ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "标题", "名称", "成果名称", "需求名称", "项目名称", "技术名称"),
    "summary": ("summary", "publicsummary", "publicteaser", "teaser", "摘要", "简介", "公开简介", "概要"),
    "description": ("description", "detaileddescription", "details", "context", "描述", "详细描述", "详细说明",
                    "说明", "内容",
                    "成果简介", "成果介绍", "成果描述", "需求描述", "需求内容", "需求详情", "技术需求描述",
                    "项目简介", "详细介绍", "技术说明"),
    "keywords": ("keywords", "keyword", "关键词", "关键字"),
    "industry": ("industry", "classification", "行业", "所属行业", "行业分类", "国民经济行业",
                 "国民经济行业分类", "应用行业"),
    "industry_section": ("industrysection", "行业门类", "门类"),
    "industry_division": ("industrydivision", "行业大类", "大类"),
    "tech_field": ("techfield", "technologyfield", "field", "技术领域", "领域", "所属领域"),
    "transfer_modes": ("transfermodes", "transfermode", "cooperationmethod", "cooperation", "合作方式",
                       "转化方式", "转让方式", "交易方式", "合作模式"),
    "region": ("region", "地区", "所在地区", "所在地", "区域", "行政区划"),
    "contact_name": ("contactname", "contactperson", "contact", "联系人"),
    "contact_phone": ("contactphone", "phone", "telephone", "联系电话", "电话", "手机"),
    "contact_email": ("contactemail", "email", "邮箱", "电子邮箱", "联系邮箱"),
    "valid_until": ("validuntil", "有效期", "有效期至", "有效期限"),
    "confidential": ("confidential", "保密", "是否保密"),
    "language": ("language", "语言"),
    "organization": ("organization", "organisation", "institution", "enterprise", "company", "单位", "机构",
                     "所属单位", "完成单位", "需求单位", "所属机构", "企业", "企业名称", "单位名称", "机构名称"),
    "external_ref": ("externalref", "externalreference", "外部编号", "来源编号"),
    "posted": ("posttime", "publishedat", "published", "发布时间", "发布日期"),
    # research results
    "maturity": ("maturity", "成熟度", "技术成熟度", "成熟程度", "所处阶段", "技术阶段", "成果成熟度"),
    "trl": ("trl", "技术就绪度", "技术就绪水平", "就绪度"),
    "ip_status": ("ipstatus", "ip", "intellectualproperty", "zlxx", "知识产权", "知识产权状态", "专利状态",
                  "专利情况", "知识产权情况"),
    "patent_numbers": ("patentnumbers", "patentorregistrationnumbers", "patents", "专利号", "专利号码"),
    "price": ("price", "askingprice", "价格", "转让价格", "意向价格", "交易价格", "参考价格"),
    "inventors": ("inventors", "发明人", "完成人", "成果完成人"),
    "application_areas": ("applicationareas", "scope", "应用领域", "应用范围", "应用前景"),
    # technical needs
    "budget": ("budget", "预算", "投入预算", "资金预算", "拟投入资金", "预算金额"),
    "budget_min": ("budgetmin", "budgetfrom", "最低预算", "预算下限"),
    "budget_max": ("budgetmax", "budgetupto", "最高预算", "预算上限"),
    "min_maturity": ("minmaturity", "lowestmaturityyoucanuse", "最低成熟度", "所需成熟度", "要求成熟度"),
    "min_trl": ("mintrl", "最低技术就绪度"),
    "deadline": ("deadline", "截止日期", "期限", "完成期限", "需求截止日期"),
}
KIND_ONLY = {
    "result": ("maturity", "trl", "ip_status", "patent_numbers", "price", "inventors", "application_areas"),
    "need": ("budget", "budget_min", "budget_max", "min_maturity", "min_trl", "deadline"),
}
# The Zhibei market's own names where they mean something else than in our files.
ZHIBEI_ALIASES: dict[str, tuple[str, ...]] = {
    "zhibei_field": ("industry",),          # their "industry" is a platform technology field
    "industry_section_name": ("industrysection",),
    "validity_window": ("time",),
    "zhibei_id": ("id",),
}
ZHIBEI_MARKERS = frozenset({"zlxx", "context", "cooperationmethod"})

# Labels for fields that have no column of their own in the file (e.g. a derived teaser).
FIELD_LABELS = {
    "title": _l("Title"), "summary": _l("Summary"), "description": _l("Description"),
    "organization": _l("Organization"), "valid_until": _l("Valid until"), "row": _l("Row"),
}


@dataclass
class ColumnMap:
    kind: str
    zhibei: bool
    field_header: dict[str, str]     # field -> the file's header that feeds it
    ignored: list[str]               # headers we do not use

    def header(self, field: str) -> str | None:
        return self.field_header.get(field)


def _export_aliases(kind: str) -> dict[str, tuple[str, ...]]:
    """Our export's headers in every language we speak, keyed by field: the English header is the
    msgid, and ALIASES knows each English header, so translations map through it."""
    english_to_field = {alias: field for field, aliases in ALIASES.items() for alias in aliases}
    found: dict[str, list[str]] = {}
    for label, _getter in exports.columns(kind):
        with force_locale("en"):
            field = english_to_field.get(_key(str(label)))
        if field is None:
            continue
        for lang in current_app.config["LANGUAGES"]:
            with force_locale(lang):
                found.setdefault(field, []).append(_key(str(label)))
    return {field: tuple(keys) for field, keys in found.items()}


def map_columns(kind: str, headers: list[str]) -> ColumnMap:
    keys = {_key(h): h for h in reversed(headers)}  # the first header wins when two spell the same
    zhibei = bool(ZHIBEI_MARKERS & keys.keys())
    exported = _export_aliases(kind)
    # Our export's headers come first and win: its "简介" is the description, whatever fair forms mean by it.
    taken = {alias: field for field, aliases in exported.items() for alias in aliases}
    table = {field: exported.get(field, ()) + tuple(a for a in aliases if taken.get(a, field) == field)
             for field, aliases in ALIASES.items()}
    other_kind = KINDS[1 - KINDS.index(kind)]
    for field in KIND_ONLY[other_kind]:
        table.pop(field)
    if zhibei:
        table["industry"] = tuple(a for a in table["industry"] if a != "industry")
        table["industry_section"] = ()
        table.update(ZHIBEI_ALIASES)
    field_header: dict[str, str] = {}
    for field, aliases in table.items():
        header = next((keys[a] for a in aliases if a in keys and keys[a] not in field_header.values()), None)
        if header is not None:
            field_header[field] = header
    used = set(field_header.values())
    return ColumnMap(kind, zhibei, field_header, [h for h in headers if h and h not in used])


def check_required_columns(columns: ColumnMap) -> None:
    missing = [str(FIELD_LABELS[f]) for f in ("title",) if columns.header(f) is None]
    if columns.header("summary") is None and columns.header("description") is None:
        missing.append(str(FIELD_LABELS["description"]))
    if missing:
        raise ImportFileError(_("The file has no column for: %(fields)s. Name the columns in the first row "
                                "(e.g. 标题/title, 简介/summary, 详细描述/description).",
                                fields="、".join(missing)))


# --- cell values -----------------------------------------------------------------------------

class BadValue(ValueError):
    """A cell that cannot be read; the message is shown next to the row."""


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return unicodedata.normalize("NFKC", str(value or "")).strip() if value is not None else ""


def _raw_text(value: Any) -> str:
    """Text kept as written (no NFKC: full-width punctuation in descriptions stays)."""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value or "").strip()


def _fold(text: str) -> str:
    """Spelling-insensitive form: full-width or half-width, case and spaces do not matter."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def _choices_hint(codes: CodeList) -> str:
    return "、".join(item.zh for item in codes)


def parse_code(codes: CodeList, value: Any, fallback: Callable[[str], str | None] | None = None) -> str | None:
    text = _text(value)
    if not text:
        return None
    if text in codes:
        return text
    wanted = _fold(text)
    for item in codes:
        if wanted in (_fold(item.zh), _fold(item.en), _fold(item.code)):
            return item.code
    found = fallback(text) if fallback else None
    if found:
        return found
    raise BadValue(_("Unknown value “%(value)s”. Use one of: %(choices)s.", value=text,
                     choices=_choices_hint(codes)))


@cache
def _region_spellings() -> dict[str, str]:
    """Every way a region is written (code list labels, exported full names like 福建省泉州市 or
    "Quanzhou, Fujian") -> its code; the higher level wins when two share a name."""
    spellings: dict[str, str] = {}
    for item in REGIONS:
        for text in (item.zh, item.en, region_name(item.code, "zh"), region_name(item.code, "en")):
            spellings.setdefault(_fold(text), item.code)
    return spellings


def parse_region(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    if text in REGIONS:
        return text
    spellings = _region_spellings()
    for candidate in (text, text + "市", text + "省", text + "区", text + "县"):
        if _fold(candidate) in spellings:
            return spellings[_fold(candidate)]
    raise BadValue(_("Unknown region “%(value)s”. Use a region name or its six-digit code.", value=text))


def _industry_in_english(text: str) -> tuple[str | None, str | None]:
    """Our English export writes the code lists' English labels, which parse_industry (Chinese) does not read."""
    wanted = _fold(text)
    division = next((item.code for item in INDUSTRY_DIVISIONS if _fold(item.en) == wanted), None)
    if division is not None:
        return division_section(division), division
    return next((item.code for item in INDUSTRY_SECTIONS if _fold(item.en) == wanted), None), None


def parse_industry_cell(value: Any) -> tuple[str | None, str | None]:
    text = _text(value)
    if not text:
        return None, None
    section, division = parse_industry(text)
    if section is None and division is None:
        section, division = _industry_in_english(text)
    if section is None and division is None:
        raise BadValue(_("Unknown industry “%(value)s”. Use a GB/T 4754 section or division name, "
                         "e.g. 制造业——通用设备制造业.", value=text))
    return section, division


_SPLIT = re.compile(r"[,，、;；|/\n]+")


def parse_modes(value: Any) -> list[str]:
    tokens = value if isinstance(value, list) else _SPLIT.split(_text(value))
    modes: list[str] = []
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        try:
            found = [parse_code(TRANSFER_MODES, token)]
        except BadValue:
            # Zhibei glues options together ("完全转让许可转让"); its scanner reads those.
            found = list(zhibei_transfer_modes(token))
            if not found:
                raise
        modes += [m for m in found if m and m not in modes]
    return modes


def parse_list(value: Any, splitter: Callable[[str], list[str]]) -> list[str]:
    if isinstance(value, list):
        return splitter("、".join(_text(v) for v in value))
    return splitter(_text(value))


_NUMBER_RANGE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:(?:-|~|至|到)([0-9]+(?:\.[0-9]+)?))?")


def parse_money_range(value: Any, unit_hint: str | None) -> tuple[int | None, int | None]:
    """ "面议" -> (None, None); "50万元" or "50-80万" -> fen; a bare number in the column's unit (万元 by default,
    as listings quote prices)."""
    text = _text(value).replace(",", "").replace(" ", "")
    if text.lower() in ("", "面议", "议价", "价格面议", "negotiable"):
        return None, None
    # Our English export writes "¥800000" (yuan); the Chinese one "¥80万元" (its unit says so).
    with_sign = text.startswith("¥")
    text = text.lstrip("¥")
    bare = _NUMBER_RANGE.fullmatch(text)
    if bare is not None and (unit_hint == "元" or with_sign):
        low, high = bare.groups()
        return round(float(low) * 100), round(float(high or low) * 100)
    low, high = zhibei_price_range_fen(text)
    if low is None:
        raise BadValue(_("“%(value)s” is not an amount. Write e.g. 50万元, 80-120万元 or 面议.", value=text))
    return low, high


_DATE_RE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})")


def parse_date(value: Any) -> date | None:
    text = _text(value)
    if not text:
        return None
    match = _DATE_RE.match(text)
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise BadValue(_("“%(value)s” is not a date. Write it as 2025-06-30.", value=text)) from None


def parse_int(value: Any) -> int | None:
    text = _text(value).upper().removeprefix("TRL")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise BadValue(_("“%(value)s” is not a whole number.", value=_text(value))) from None
    if not number.is_integer():
        raise BadValue(_("“%(value)s” is not a whole number.", value=_text(value)))
    return int(number)


_TRUE = frozenset({"1", "y", "yes", "true", "是", "保密", "√"})
_FALSE = frozenset({"", "0", "n", "no", "false", "否", "公开", "不保密"})


def parse_bool(value: Any) -> bool:
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(_("“%(value)s” is not yes or no (是/否).", value=_text(value)))


def teaser(description: str) -> str:
    """The first sentences of the description, up to TEASER_LENGTH characters: the public summary."""
    text = " ".join(description.split())
    if len(text) <= TEASER_LENGTH:
        return text
    cut = text[:TEASER_LENGTH]
    end = max(cut.rfind(mark) for mark in "。！？!?；;")
    return cut[: end + 1] if end >= TEASER_LENGTH // 3 else cut.rstrip() + "…"


def _has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


# --- rows ------------------------------------------------------------------------------------

@dataclass
class RowOutcome:
    number: int
    ref: str | None
    organization_id: int | None
    fields: dict[str, Any]
    posted: date | None
    errors: dict[str, list[str]]


class _OrgResolver:
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


class _RowReader:
    """Turns one raw row into listing fields, collecting an error per unreadable cell."""

    def __init__(self, columns: ColumnMap, orgs: _OrgResolver) -> None:
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
        take("language", lambda v: _text(v).lower() or None, "language")
        take("keywords", lambda v: parse_list(v, lifecycle.split_keywords), "keywords")
        for field in ("contact_name", "contact_phone", "contact_email"):
            values[field] = _text(self.cell(raw, field)) or None
        if self.columns.kind == "result":
            self._read_result(take, values)
        else:
            self._read_need(take, values)
        if self.columns.zhibei:
            self._read_zhibei_validity(raw, values)
        posted = take("posted", parse_date)
        self._fill_teaser(values, errors)
        values.setdefault("language", None)
        values["language"] = values["language"] or ("zh" if _has_cjk(values["title"] + values["summary"])
                                                     else "en")
        org = take("organization", lambda v: self.orgs.resolve(_text(v)))
        if raw.get(EXTRA_CELLS):
            errors.setdefault("row", []).append(_("This row has more cells than the header has columns."))
        ref = self._external_ref(raw, values, errors)
        return RowOutcome(number, ref, org.id if org else None, values, posted, errors)

    def _read_text(self, raw: dict[str, Any], values: dict[str, Any]) -> None:
        values["title"] = " ".join(_raw_text(self.cell(raw, "title")).split())
        values["summary"] = _raw_text(self.cell(raw, "summary"))
        values["description"] = _raw_text(self.cell(raw, "description"))
        if self.columns.kind == "result":
            values["inventors"] = _text(self.cell(raw, "inventors")) or None
            values["application_areas"] = _raw_text(self.cell(raw, "application_areas")) or None

    def _read_classification(self, take: Callable[..., Any], values: dict[str, Any]) -> None:
        section, division = take("industry", parse_industry_cell) or (None, None)
        if section is None:
            for field in ("industry_section", "industry_section_name"):
                section = section or (take(field, parse_industry_cell) or (None, None))[0]
        if division is None and self.columns.header("industry_division"):
            division = (take("industry_division", lambda v: parse_industry_cell(
                f"{v:0>2}" if _text(v).isdigit() else v)) or (None, None))[1]
        values["industry_section"], values["industry_division"] = section, division
        take("tech_field", lambda v: parse_code(TECH_FIELDS, v, zhibei_tech_field), "tech_field")
        if self.columns.zhibei and values.get("tech_field") is None:
            take("zhibei_field", lambda v: zhibei_tech_field(_text(v)), "tech_field")

    def _read_result(self, take: Callable[..., Any], values: dict[str, Any]) -> None:
        description = values["description"]
        take("maturity", lambda v: parse_code(MATURITY, v, zhibei_maturity), "maturity")
        take("trl", parse_int, "trl")
        take("ip_status", lambda v: parse_code(IP_STATUS, v, lambda t: zhibei_ip_status(t, description)),
             "ip_status")
        take("patent_numbers", lambda v: parse_list(v, lifecycle.split_patent_numbers), "patent_numbers")
        hint = _unit_hint(self.columns.header("price") or "")
        low, _high = take("price", lambda v: parse_money_range(v, hint)) or (None, None)
        values["price_fen"] = low

    def _read_need(self, take: Callable[..., Any], values: dict[str, Any]) -> None:
        take("min_maturity", lambda v: parse_code(MATURITY, v, zhibei_maturity), "min_maturity")
        take("min_trl", parse_int, "min_trl")
        take("deadline", parse_date, "deadline")
        money = {f: _unit_hint(self.columns.header(f) or "") for f in ("budget", "budget_min", "budget_max")}
        low, high = take("budget", lambda v: parse_money_range(v, money["budget"])) or (None, None)
        low = (take("budget_min", lambda v: parse_money_range(v, money["budget_min"])) or (None, None))[0] or low
        high = (take("budget_max", lambda v: parse_money_range(v, money["budget_max"])) or (None, None))[1] or high
        values["budget_min_fen"], values["budget_max_fen"] = low, high

    def _read_zhibei_validity(self, raw: dict[str, Any], values: dict[str, Any]) -> None:
        # Zhibei listings are 2019-20 market data whose windows have closed; an ended window is
        # dropped so the listing gets the platform's default validity from the day of import.
        _start, end = zhibei_validity(_text(self.cell(raw, "validity_window")))
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
        explicit = _text(self.cell(raw, "external_ref"))
        if not explicit and self.columns.zhibei and _text(self.cell(raw, "zhibei_id")):
            explicit = f"zhibei:{_text(self.cell(raw, 'zhibei_id'))}"
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


def _json_safe(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}


def _from_json(fields: dict[str, Any]) -> dict[str, Any]:
    restored = dict(fields)
    for field in DATE_FIELDS:
        if isinstance(restored.get(field), str):
            restored[field] = date.fromisoformat(restored[field])
    return restored


# --- preview ---------------------------------------------------------------------------------

def _require(actor: User | None) -> None:
    """None is the trusted command line; web callers pass the logged-in user."""
    if actor is not None:
        require(actor, "import.run", _("Only bureau staff can import listings."))


def _chosen_organization(kind: str, organization_id: int | None) -> Organization | None:
    if organization_id is None:
        return None
    org = Session.get(Organization, organization_id)
    if org is None:
        raise ImportFileError(_("The chosen organization does not exist."))
    try:
        check_owner_kind(kind, org)
    except BadValue as exc:
        raise ImportFileError(str(exc)) from None
    return org


def existing_refs(kind: str, refs: list[str]) -> set[str]:
    model = listing_model(kind)
    found: set[str] = set()
    unique = sorted(set(refs))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        found.update(Session.scalars(sa.select(model.external_ref).where(model.external_ref.in_(chunk))))
    return found


def read_rows(kind: str, table: RawTable, default_org: Organization | None) -> tuple[ColumnMap, list[RowOutcome]]:
    columns = map_columns(kind, table.headers)
    check_required_columns(columns)
    if default_org is None and columns.header("organization") is None:
        raise ImportFileError(_("Choose the organization the listings belong to, or add an organization "
                                "column to the file."))
    reader = _RowReader(columns, _OrgResolver(kind, default_org))
    outcomes = []
    for number, raw in table.rows:
        outcome = reader.read(number, raw)
        validate_row(kind, outcome)
        outcomes.append(outcome)
    return columns, outcomes


def preview_upload(actor: User | None, kind: str, filename: str, data: bytes, organization_id: int | None,
                   listing_status: str = ListingStatus.PUBLISHED) -> ImportBatch:
    """Read and check the file; keep the outcome as a batch to confirm. Bad files raise ImportFileError."""
    _require(actor)
    if kind not in KINDS:
        raise ValidationFailed({"kind": [_("Choose research results or technical needs.")]})
    if listing_status not in IMPORT_STATUSES:
        raise ValidationFailed({"listing_status": [_("Choose published or draft.")]})
    default_org = _chosen_organization(kind, organization_id)
    table = read_table(filename, data, int(current_app.config["IMPORT_MAX_ROWS"]))
    columns, outcomes = read_rows(kind, table, default_org)
    batch = ImportBatch(
        kind=kind, filename=Path(filename).name[:255], file_format=table.file_format, status=ImportStatus.PREVIEW,
        listing_status=listing_status, organization_id=default_org.id if default_org else None,
        created_by_id=actor.id if actor else None,
        rows=[{"row": o.number, "ref": o.ref, "org": o.organization_id, "ok": not o.errors,
               "posted": o.posted.isoformat() if o.posted else None, "fields": _json_safe(o.fields)}
              for o in outcomes],
        row_errors=[{"row": o.number, "field": field, "column": columns.header(field) or "", "message": message}
                    for o in outcomes for field, messages in o.errors.items() for message in messages],
        total_rows=len(outcomes), invalid_rows=sum(1 for o in outcomes if o.errors),
        message=_("Ignored columns: %(columns)s", columns="、".join(columns.ignored)) if columns.ignored else None,
    )
    Session.add(batch)
    audit.record(actor.id if actor else None, "import.upload", batch,
                 {"filename": batch.filename, "kind": kind, "rows": batch.total_rows, "invalid": batch.invalid_rows})
    Session.commit()
    return batch


def get_batch(actor: User | None, batch_id: int) -> ImportBatch:
    _require(actor)
    batch = Session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(_("No such import."))
    return batch


def recent_batches(limit: int = 20) -> list[ImportBatch]:
    stmt = sa.select(ImportBatch).order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc()).limit(limit)
    return list(Session.scalars(stmt))


def duplicate_rows(batch: ImportBatch) -> int:
    """Valid rows that would be skipped now: already imported, or repeated earlier in the same file."""
    refs = [row["ref"] for row in batch.rows if row["ok"]]
    existing = existing_refs(batch.kind, refs)
    seen: set[str] = set()
    count = 0
    for ref in refs:
        if ref in existing or ref in seen:
            count += 1
        seen.add(ref)
    return count


def error_reasons(batch: ImportBatch, limit: int = 10) -> list[tuple[str, str, int]]:
    """(column or field, message, rows) for the most common errors, most frequent first."""
    counts = Counter((e["column"] or str(FIELD_LABELS.get(e["field"], e["field"])), e["message"])
                     for e in batch.row_errors)
    return [(column, message, n) for (column, message), n in counts.most_common(limit)]


def summary(batch: ImportBatch) -> dict[str, Any]:
    return {
        "batch": batch.id, "kind": batch.kind, "file": batch.filename, "status": batch.status,
        "rows": batch.total_rows, "valid": batch.valid_rows, "invalid": batch.invalid_rows,
        "imported": batch.imported_count, "duplicates": batch.duplicate_count,
        "left_out": batch.invalid_rows if batch.status == ImportStatus.DONE else 0,
        "reasons": [{"column": c, "message": m, "rows": n} for c, m, n in error_reasons(batch)],
    }


# --- confirm and run -------------------------------------------------------------------------

def confirm(actor: User | None, batch_id: int, valid_only: bool, background: bool | None = None) -> ImportBatch:
    """Start importing the batch's valid rows. A file with errors imports nothing unless valid_only.

    background=None picks a background job for files over BACKGROUND_ROWS valid rows.
    """
    batch = get_batch(actor, batch_id)
    if batch.status not in (ImportStatus.PREVIEW, ImportStatus.FAILED):
        raise Conflict(_("This import has already been confirmed."))
    if batch.invalid_rows and not valid_only:
        raise DomainError(_("%(n)s rows have errors, so nothing was imported. Fix the file and upload it again, "
                            "or tick “import only the valid rows”.", n=batch.invalid_rows), field="valid_only")
    if batch.valid_rows == 0:
        raise DomainError(_("No row of this file is valid; there is nothing to import."))
    # Claim the batch with a conditional update so a double click cannot import it twice.
    claimed = Session.execute(
        sa.update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status.in_([ImportStatus.PREVIEW, ImportStatus.FAILED]))
        .values(status=ImportStatus.QUEUED, valid_only=valid_only)
    ).rowcount
    if not claimed:
        Session.rollback()
        raise Conflict(_("This import has already been confirmed."))
    run_in_background = batch.valid_rows > BACKGROUND_ROWS if background is None else background
    if run_in_background:
        job = Job(kind="imports.run", params={"batch_id": batch.id}, total=batch.valid_rows,
                  created_by_id=actor.id if actor else None)
        Session.add(job)
        Session.flush()
        batch.job_id = job.id
    audit.record(actor.id if actor else None, "import.confirm", batch,
                 {"valid_only": valid_only, "rows": batch.valid_rows, "background": run_in_background})
    Session.commit()
    if run_in_background:
        jobs.dispatch("imports.run", batch.id)
    else:
        run_batch(batch.id)
    return batch


def _new_listing(batch: ImportBatch, row: dict[str, Any]) -> Any:
    fields = _from_json(row["fields"])
    listing = listing_model(batch.kind)(**fields)
    listing.organization_id = row["org"]
    listing.owner_id = None  # the organization's members manage it; the uploader is in the audit log
    listing.external_ref = row["ref"]
    listing.status = batch.listing_status
    if batch.listing_status == ListingStatus.PUBLISHED:
        posted = date.fromisoformat(row["posted"]) if row.get("posted") else None
        listing.published_at = datetime.combine(posted, dtime(), UTC) if posted else utcnow()
    return listing


@contextmanager
def outside_requests_locale() -> Iterator[None]:
    """Workers and commands have no request to pick a language from: they speak the default one."""
    if has_request_context():
        yield
        return
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        yield


def run_batch(batch_id: int) -> dict[str, Any]:
    """Create the batch's listings in chunks, committing each with its progress; duplicates are skipped."""
    with outside_requests_locale():
        return _run_batch(batch_id)


def _run_batch(batch_id: int) -> dict[str, Any]:
    batch = Session.get(ImportBatch, batch_id)
    if batch is None or batch.status != ImportStatus.QUEUED:
        return {}
    batch.status = ImportStatus.RUNNING
    Session.commit()
    try:
        imported, duplicates = _import_rows(batch)
    except Exception as exc:
        log.exception("import batch %s failed", batch_id)
        Session.rollback()
        batch.status = ImportStatus.FAILED
        batch.message = _("The import stopped: %(error)s. Listings saved so far are kept; confirm again to "
                          "import the rest.", error=str(exc)[:300])
        batch.finished_at = utcnow()
        Session.commit()
        if batch.job_id:
            jobs.finish_job(batch.job_id, error=batch.message)
        return {}
    batch.status = ImportStatus.DONE
    batch.imported_count += imported
    batch.duplicate_count = duplicates
    batch.finished_at = utcnow()
    result = summary(batch)
    audit.record(batch.created_by_id, "import.finish", batch,
                 {"imported": imported, "duplicates": duplicates, "left_out": batch.invalid_rows})
    if batch.job_id:
        jobs.finish_job(batch.job_id, result=result)  # commits
    else:
        Session.commit()
    return result


def _import_rows(batch: ImportBatch) -> tuple[int, int]:
    model = listing_model(batch.kind)
    todo = [row for row in batch.rows if row["ok"]]
    seen = existing_refs(batch.kind, [row["ref"] for row in todo])
    imported = duplicates = 0
    for start in range(0, len(todo), CHUNK_ROWS):
        created = []
        for row in todo[start:start + CHUNK_ROWS]:
            if row["ref"] in seen:
                duplicates += 1
                continue
            seen.add(row["ref"])
            listing = _new_listing(batch, row)
            Session.add(listing)
            created.append(listing)
        Session.flush()
        for listing in created:
            audit.record(batch.created_by_id, "listing.import", entity_type=model.__tablename__,
                         entity_id=listing.id, changes={"batch": batch.id, "external_ref": listing.external_ref})
            if listing.status == ListingStatus.PUBLISHED:
                listing_changed(batch.kind, listing.id)
        imported += len(created)
        done = min(start + CHUNK_ROWS, len(todo))
        if batch.job_id:
            jobs.report_progress(batch.job_id, done, len(todo),
                                 _("%(imported)s imported, %(skipped)s already there", imported=imported,
                                   skipped=duplicates))  # commits the chunk
        else:
            Session.commit()
    return imported, duplicates


def job_for(batch: ImportBatch) -> Job | None:
    return Session.get(Job, batch.job_id) if batch.job_id else None


def is_running(batch: ImportBatch) -> bool:
    job = job_for(batch)
    return batch.status in (ImportStatus.QUEUED, ImportStatus.RUNNING) and (
        job is None or job.status in (JobStatus.QUEUED, JobStatus.RUNNING))


# --- command line ----------------------------------------------------------------------------

def import_file(path: Path, kind: str, organization_id: int | None, listing_status: str = ListingStatus.PUBLISHED,
                valid_only: bool = False) -> dict[str, Any]:
    """Preview and import a file in one go (flask import-listings); returns the summary."""
    with outside_requests_locale():
        batch = preview_upload(None, kind, path.name, path.read_bytes(), organization_id, listing_status)
        try:
            confirm(None, batch.id, valid_only, background=False)
        except DomainError as error:
            return {**summary(batch), "error": error.message}
        return summary(batch)
