"""Reading one import cell: header spellings mapped onto listing fields (ours in Chinese or English,
the Zhibei market's field names) and each kind of cell value (codes, regions, industries, money, dates)."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.imports.formats import ImportFileError
from matchmaker.listings import exports
from matchmaker.listings.lifecycle import KINDS
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    REGIONS,
    TRANSFER_MODES,
    CodeList,
    division_section,
    parse_industry,
    region_name,
    zhibei_price_range_fen,
    zhibei_transfer_modes,
)

TEASER_LENGTH = 200


# --- columns ---------------------------------------------------------------------------------

def _key(header: str) -> str:
    """Header spelling that ignores case, spaces, punctuation, required-markers and units in brackets."""
    text = unicodedata.normalize("NFKC", str(header)).lower()
    text = re.sub(r"\(.*?\)|\[.*?\]|【.*?】", "", text)
    return re.sub(r"[\s_\-*:：/.·]", "", text)


def unit_hint(header: str) -> str | None:
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


def cell_text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return unicodedata.normalize("NFKC", str(value or "")).strip() if value is not None else ""


def raw_cell_text(value: Any) -> str:
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
    text = cell_text(value)
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
    text = cell_text(value)
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
    text = cell_text(value)
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
    tokens = value if isinstance(value, list) else _SPLIT.split(cell_text(value))
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
        return splitter("、".join(cell_text(v) for v in value))
    return splitter(cell_text(value))


_NUMBER_RANGE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:(?:-|~|至|到)([0-9]+(?:\.[0-9]+)?))?")


def parse_money_range(value: Any, unit_hint: str | None) -> tuple[int | None, int | None]:
    """ "面议" -> (None, None); "50万元" or "50-80万" -> fen; a bare number in the column's unit (万元 by default,
    as listings quote prices)."""
    text = cell_text(value).replace(",", "").replace(" ", "")
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
    text = cell_text(value)
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
    text = cell_text(value).upper().removeprefix("TRL")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise BadValue(_("“%(value)s” is not a whole number.", value=cell_text(value))) from None
    if not number.is_integer():
        raise BadValue(_("“%(value)s” is not a whole number.", value=cell_text(value)))
    return int(number)


_TRUE = frozenset({"1", "y", "yes", "true", "是", "保密", "√"})
_FALSE = frozenset({"", "0", "n", "no", "false", "否", "公开", "不保密"})


def parse_bool(value: Any) -> bool:
    text = cell_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(_("“%(value)s” is not yes or no (是/否).", value=cell_text(value)))


def teaser(description: str) -> str:
    """The first sentences of the description, up to TEASER_LENGTH characters: the public summary."""
    text = " ".join(description.split())
    if len(text) <= TEASER_LENGTH:
        return text
    cut = text[:TEASER_LENGTH]
    end = max(cut.rfind(mark) for mark in "。！？!?；;")
    return cut[: end + 1] if end >= TEASER_LENGTH // 3 else cut.rstrip() + "…"


def has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


