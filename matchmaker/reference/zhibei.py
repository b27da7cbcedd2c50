"""Maps the Zhibei market's free-text vocabulary (2019-20 scraped listings) onto our code lists."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

_MATURITY = {
    "正在研发": "research",
    "研发阶段": "research",
    "已有样品": "sample",
    "通过小试": "pilot_small",
    "通过中试": "pilot",
    "可以量产": "mass",
}

_IP_STATUS = {
    "发明专利": "invention_granted",
    "实用新型专利": "utility_model",
    "实用新型": "utility_model",
    "外观专利": "design",
    "外观设计": "design",
    "软件著作权": "software_copyright",
    "非专利技术": "know_how",
    "技术秘密": "know_how",
    "无": "none",
}

# Words in a description that show an invention patent is still an application.
_PENDING_PATENT = re.compile(r"申请中|已受理|实审|实质审查|公开号|(?<!专利号/)申请号")

# Achievements concatenate options without separators ("完全转让许可转让技术入股"), needs use
# commas, so tokens are scanned longest first. 合作生产 (joint production) is closest to joint
# development among our modes.
_TRANSFER_TOKENS = {
    "完全转让": "transfer",
    "许可转让": "license",
    "技术入股": "equity",
    "作价入股": "equity",
    "合作生产": "co_develop",
    "合作开发": "co_develop",
    "委托开发": "commissioned",
    "技术转让": "transfer",
    "技术许可": "license",
    "其他": "other",
    "其它": "other",
}
_TRANSFER_SCAN = re.compile("|".join(sorted(_TRANSFER_TOKENS, key=len, reverse=True)))

_NEGOTIABLE = {"", "面议", "议价", "价格面议"}
_UNIT_FEN = {
    "亿元": Decimal(10_000_000_000),
    "亿": Decimal(10_000_000_000),
    "万元": Decimal(1_000_000),
    "万": Decimal(1_000_000),
    "千元": Decimal(100_000),
    "元": Decimal(100),
}
_AMOUNT = re.compile(r"([0-9]+(?:\.[0-9]+)?)(亿元|亿|万元|万|千元|元)?")
_PRICE = re.compile(rf"{_AMOUNT.pattern}(?:(?:-|~|至|到){_AMOUNT.pattern})?")
# Zhibei quotes every price in 万元, so a bare number is read in 万元.
_DEFAULT_UNIT = "万元"

_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def zhibei_maturity(text: str | None) -> str | None:
    """ "已有样品" -> "sample"; None when the stage is missing or unknown."""
    return _MATURITY.get(_clean(text))


def zhibei_ip_status(text: str | None, description: str | None = None) -> str | None:
    """Maps zlxx ("发明专利", "非专利技术", ...) to IP_STATUS.

    Zhibei does not say whether an invention patent is granted; most descriptions quote a
    granted patent number, so granted is assumed unless the description says it is pending.
    """
    status = _IP_STATUS.get(_clean(text))
    if status == "invention_granted" and description and _PENDING_PATENT.search(description):
        return "invention_filed"
    return status


def zhibei_transfer_modes(text: str | None) -> list[str]:
    """cooperationMethod ("技术转让,技术许可" or "完全转让许可转让") -> unique codes in order."""
    modes: list[str] = []
    for token in _TRANSFER_SCAN.findall(_clean(text)):
        mode = _TRANSFER_TOKENS[token]
        if mode not in modes:
            modes.append(mode)
    return modes


def _to_fen(number: str, unit: str) -> int | None:
    try:
        return int((Decimal(number) * _UNIT_FEN[unit]).to_integral_value())
    except InvalidOperation:
        return None


def zhibei_price_range_fen(text: str | None) -> tuple[int | None, int | None]:
    """ "100.0万元-200.0万元" -> (100000000, 200000000) in fen; (None, None) for 面议 or junk."""
    cleaned = _clean(text).replace(",", "")
    if cleaned in _NEGOTIABLE:
        return None, None
    match = _PRICE.fullmatch(cleaned)
    if match is None:
        return None, None
    low, low_unit, high, high_unit = match.groups()
    # "100-200万元": the unit written once applies to both ends.
    low_unit = low_unit or high_unit or _DEFAULT_UNIT
    low_fen = _to_fen(low, low_unit)
    high_fen = _to_fen(high, high_unit or low_unit) if high else low_fen
    return low_fen, high_fen


def zhibei_price_fen(text: str | None) -> int | None:
    """The asking price in fen: the lower end of a range ("起价"); None for 面议."""
    return zhibei_price_range_fen(text)[0]


def _date_or_none(match: re.Match[str] | None) -> date | None:
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def zhibei_validity(text: str | None) -> tuple[date | None, date | None]:
    """Needs' time "2020-01-1310:49:39.0至2021-01-1310:49:41.0" -> (2020-01-13, 2021-01-13)."""
    start, _, end = (text or "").partition("至")
    return _date_or_none(_DATE.search(start)), _date_or_none(_DATE.search(end))


# Zhibei's platform field ("新材料-复合材料") by top level, with the few sub-fields that
# belong elsewhere. Generic services (IP, testing, design) have no statistics field.
_TECH_FIELD_BY_TOP = {
    "电子信息": "electronic_information",
    "装备制造": "advanced_manufacturing",
    "新能源": "new_energy",
    "新材料": "new_materials",
    "现代农业": "agriculture",
    "资源环保": "environment",
    "生物医药": "biomedicine",
    "生活必需": "advanced_manufacturing",
    "交通运输": "modern_transport",
    "建筑安装": "urban_social",
}
_TECH_FIELD_BY_SUB = {
    "交通运输-航空": "aerospace",
    "交通运输-空间技术": "aerospace",
    "生活必需-文化": "urban_social",
    "生活必需-体育": "urban_social",
    "生活必需-消防": "urban_social",
    "技术服务-生物医药研发测试": "biomedicine",
    "技术服务-信息系统运维": "electronic_information",
    "技术服务-数据库服务": "electronic_information",
    "技术服务-软件技术外包": "electronic_information",
}


def zhibei_tech_field(text: str | None) -> str | None:
    """Platform field ("电子信息-人工智能") -> TECH_FIELDS code, None when no field fits."""
    cleaned = _clean(text)
    if cleaned in _TECH_FIELD_BY_SUB:
        return _TECH_FIELD_BY_SUB[cleaned]
    return _TECH_FIELD_BY_TOP.get(cleaned.split("-", 1)[0])
