"""Technology-contract registration (技术合同认定登记) vocabularies: types, parties, IP, numbers."""

from __future__ import annotations

import re
from datetime import date

from .codes import code_list
from .regions import PROVINCE_CODES, region_province

# Legal-entity types of the JJ-001 registration form. 021/022/1xx/400 are as DOMAIN.md gives them;
# 1xx-3xx follow the NBS enterprise registration types (登记注册类型) that the form reuses. The
# other 0xx codes and 500 are our best reading of the form and may need checking against it.
LEGAL_ENTITY_TYPES = code_list(
    "legal_entity_types",
    [
        ("010", "机关", "Government organ"),
        ("021", "科研机构", "Research institution"),
        ("022", "高等院校", "Higher-education institution"),
        ("029", "其他事业单位", "Other public institution"),
        ("030", "社会团体", "Social organization"),
        ("040", "其他组织", "Other non-profit organization"),
        ("110", "国有企业", "State-owned enterprise"),
        ("120", "集体企业", "Collective enterprise"),
        ("130", "股份合作企业", "Joint-stock cooperative enterprise"),
        ("140", "联营企业", "Joint operation enterprise"),
        ("150", "有限责任公司", "Limited liability company"),
        ("160", "股份有限公司", "Company limited by shares"),
        ("170", "私营企业", "Private enterprise"),
        ("190", "其他企业", "Other domestic enterprise"),
        ("210", "合资经营企业（港或澳、台资）", "Equity joint venture (Hong Kong, Macao or Taiwan)"),
        ("220", "合作经营企业（港或澳、台资）", "Contractual joint venture (Hong Kong, Macao or Taiwan)"),
        ("230", "港、澳、台商独资经营企业", "Wholly Hong Kong, Macao or Taiwan-owned enterprise"),
        (
            "240",
            "港、澳、台商投资股份有限公司",
            "Hong Kong, Macao or Taiwan-invested company limited by shares",
        ),
        ("290", "其他港、澳、台商投资企业", "Other Hong Kong, Macao or Taiwan-invested enterprise"),
        ("310", "中外合资经营企业", "Sino-foreign equity joint venture"),
        ("320", "中外合作经营企业", "Sino-foreign contractual joint venture"),
        ("330", "外资企业", "Wholly foreign-owned enterprise"),
        ("340", "外商投资股份有限公司", "Foreign-invested company limited by shares"),
        ("390", "其他外商投资企业", "Other foreign-invested enterprise"),
        ("400", "自然人", "Individual"),
        ("500", "其他", "Other"),
    ],
)

# The party breakdown of the contract statistics.
PARTY_TYPES = code_list(
    "party_types",
    [
        ("enterprise", "企业", "Enterprise"),
        ("university", "高等院校", "University"),
        ("institute", "科研机构", "Research institution"),
        ("individual", "个人", "Individual"),
        ("other", "其他", "Other"),
    ],
)

_PARTY_BY_CODE = {"021": "institute", "022": "university", "400": "individual"}


def party_type(entity_type_code: str | None) -> str:
    """Collapses a JJ-001 legal-entity code into the statistics party type."""
    code = (entity_type_code or "").strip()
    if code in _PARTY_BY_CODE:
        return _PARTY_BY_CODE[code]
    # 1xx domestic, 2xx Hong Kong/Macao/Taiwan-invested and 3xx foreign-invested are all firms.
    if len(code) == 3 and code.isdigit() and code[0] in "123":
        return "enterprise"
    return "other"


CONTRACT_TYPES = code_list(
    "contract_types",
    [
        ("development", "技术开发", "Technology development"),
        ("transfer", "技术转让", "Technology transfer"),
        ("license", "技术许可", "Technology licensing"),
        ("consulting", "技术咨询", "Technical consulting"),
        ("service", "技术服务", "Technical service"),
    ],
)

CONTRACT_SUBTYPES = code_list(
    "contract_subtypes",
    [
        ("development.commissioned", "委托开发", "Commissioned development"),
        ("development.cooperative", "合作开发", "Cooperative development"),
        ("transfer.patent", "专利权转让", "Patent assignment"),
        ("transfer.patent_application", "专利申请权转让", "Patent application assignment"),
        ("transfer.know_how", "技术秘密转让", "Know-how transfer"),
        ("transfer.software", "软件著作权转让", "Software copyright assignment"),
        ("transfer.other", "其他技术转让", "Other technology transfer"),
        ("license.patent", "专利实施许可", "Patent licence"),
        ("license.know_how", "技术秘密使用许可", "Know-how licence"),
        ("license.other", "其他技术许可", "Other licence"),
        ("consulting.general", "技术咨询", "Technical consulting"),
        ("service.general", "技术服务", "Technical service"),
        ("service.training", "技术培训", "Technical training"),
        ("service.intermediary", "技术中介", "Technology brokerage"),
    ],
)


def subtype_type(subtype_code: str) -> str:
    """The contract type a sub-type belongs to ("transfer.patent" -> "transfer"); "" if unknown."""
    if subtype_code not in CONTRACT_SUBTYPES:
        return ""
    return subtype_code.split(".", 1)[0]


def subtypes_of(contract_type: str) -> list[str]:
    """Sub-type codes allowed for a contract type, for dependent form selects."""
    return [code for code in CONTRACT_SUBTYPES.codes if subtype_type(code) == contract_type]


PAYMENT_MODES = code_list(
    "payment_modes",
    [
        ("lump_sum", "一次总付", "Lump sum"),
        ("instalments", "分期支付", "Instalments"),
        ("royalty", "提成支付", "Royalty"),
        ("mixed", "其他/混合", "Other / mixed"),
    ],
)

CONTRACT_IP_TYPES = code_list(
    "contract_ip_types",
    [
        ("patent", "专利", "Patent"),
        ("software_copyright", "计算机软件著作权", "Software copyright"),
        ("know_how", "技术秘密", "Know-how"),
        ("ic_layout", "集成电路布图设计专有权", "Integrated circuit layout design"),
        ("new_plant_variety", "植物新品种权", "New plant variety"),
        ("biomedicine_new_variety", "生物、医药新品种", "New biological or medicinal variety"),
        ("other", "其他知识产权", "Other intellectual property"),
        ("none", "未涉及知识产权", "No intellectual property involved"),
    ],
)

# 技术合同登记号, 18 characters: 4-digit year + 6-digit GB/T 2260 code of the registering office
# + 1 upper-case letter + 7-digit serial, e.g. "2026350500A0001234". Only this published form is
# accepted; [0-9] rather than \d keeps full-width and other Unicode digits out.
REGISTRATION_NUMBER_RE = re.compile(r"\A(?P<year>[0-9]{4})(?P<region>[0-9]{6})[A-Z](?P<serial>[0-9]{7})\Z")

# Contract registration began under the 1987 Technology Contract Law.
FIRST_REGISTRATION_YEAR = 1987


def check_registration_number(value: str | None, today: date | None = None) -> str | None:
    """None when valid, else "format", "year" (before 1987 or after next year) or "region"."""
    match = REGISTRATION_NUMBER_RE.match(value) if isinstance(value, str) else None
    if match is None:
        return "format"
    year = int(match["year"])
    if not FIRST_REGISTRATION_YEAR <= year <= (today or date.today()).year + 1:
        return "year"
    if region_province(match["region"]) not in PROVINCE_CODES:
        return "region"
    return None
