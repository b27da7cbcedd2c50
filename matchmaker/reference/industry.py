"""GB/T 4754-2017 industry classification: sections A-T, the 97 divisions, and a tolerant parser."""

from __future__ import annotations

import difflib
import re
import unicodedata

from .codes import code_list

INDUSTRY_SECTIONS = code_list(
    "industry_sections",
    [
        ("A", "农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
        ("B", "采矿业", "Mining"),
        ("C", "制造业", "Manufacturing"),
        ("D", "电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water production and supply"),
        ("E", "建筑业", "Construction"),
        ("F", "批发和零售业", "Wholesale and retail trade"),
        ("G", "交通运输、仓储和邮政业", "Transport, storage and postal services"),
        ("H", "住宿和餐饮业", "Accommodation and catering"),
        ("I", "信息传输、软件和信息技术服务业", "Information transmission, software and IT services"),
        ("J", "金融业", "Finance"),
        ("K", "房地产业", "Real estate"),
        ("L", "租赁和商务服务业", "Leasing and business services"),
        ("M", "科学研究和技术服务业", "Scientific research and technical services"),
        (
            "N",
            "水利、环境和公共设施管理业",
            "Water conservancy, environment and public facilities management",
        ),
        ("O", "居民服务、修理和其他服务业", "Resident services, repair and other services"),
        ("P", "教育", "Education"),
        ("Q", "卫生和社会工作", "Health and social work"),
        ("R", "文化、体育和娱乐业", "Culture, sports and entertainment"),
        (
            "S",
            "公共管理、社会保障和社会组织",
            "Public administration, social security and social organizations",
        ),
        ("T", "国际组织", "International organizations"),
    ],
)

# Division code ranges per section, as laid out in GB/T 4754-2017.
_SECTION_RANGES: dict[str, tuple[int, int]] = {
    "A": (1, 5),
    "B": (6, 12),
    "C": (13, 43),
    "D": (44, 46),
    "E": (47, 50),
    "F": (51, 52),
    "G": (53, 60),
    "H": (61, 62),
    "I": (63, 65),
    "J": (66, 69),
    "K": (70, 70),
    "L": (71, 72),
    "M": (73, 75),
    "N": (76, 79),
    "O": (80, 82),
    "P": (83, 83),
    "Q": (84, 85),
    "R": (86, 90),
    "S": (91, 96),
    "T": (97, 97),
}

INDUSTRY_DIVISIONS = code_list(
    "industry_divisions",
    [
        ("01", "农业", "Agriculture"),
        ("02", "林业", "Forestry"),
        ("03", "畜牧业", "Animal husbandry"),
        ("04", "渔业", "Fishery"),
        (
            "05",
            "农、林、牧、渔专业及辅助性活动",
            "Support activities for agriculture, forestry, animal husbandry and fishery",
        ),
        ("06", "煤炭开采和洗选业", "Mining and washing of coal"),
        ("07", "石油和天然气开采业", "Extraction of petroleum and natural gas"),
        ("08", "黑色金属矿采选业", "Mining and processing of ferrous metal ores"),
        ("09", "有色金属矿采选业", "Mining and processing of non-ferrous metal ores"),
        ("10", "非金属矿采选业", "Mining and processing of non-metal ores"),
        ("11", "开采专业及辅助性活动", "Support activities for mining"),
        ("12", "其他采矿业", "Other mining"),
        ("13", "农副食品加工业", "Processing of food from agricultural products"),
        ("14", "食品制造业", "Manufacture of foods"),
        ("15", "酒、饮料和精制茶制造业", "Manufacture of liquor, beverages and refined tea"),
        ("16", "烟草制品业", "Manufacture of tobacco"),
        ("17", "纺织业", "Manufacture of textiles"),
        ("18", "纺织服装、服饰业", "Manufacture of textile wearing apparel and clothing"),
        (
            "19",
            "皮革、毛皮、羽毛及其制品和制鞋业",
            "Manufacture of leather, fur, feather and related products and footwear",
        ),
        (
            "20",
            "木材加工和木、竹、藤、棕、草制品业",
            "Processing of timber and manufacture of wood, bamboo, rattan, palm and straw products",
        ),
        ("21", "家具制造业", "Manufacture of furniture"),
        ("22", "造纸和纸制品业", "Manufacture of paper and paper products"),
        ("23", "印刷和记录媒介复制业", "Printing and reproduction of recording media"),
        (
            "24",
            "文教、工美、体育和娱乐用品制造业",
            "Manufacture of articles for culture, education, arts and crafts, sport and entertainment",
        ),
        ("25", "石油、煤炭及其他燃料加工业", "Processing of petroleum, coal and other fuels"),
        ("26", "化学原料和化学制品制造业", "Manufacture of raw chemical materials and chemical products"),
        ("27", "医药制造业", "Manufacture of medicines"),
        ("28", "化学纤维制造业", "Manufacture of chemical fibres"),
        ("29", "橡胶和塑料制品业", "Manufacture of rubber and plastics products"),
        ("30", "非金属矿物制品业", "Manufacture of non-metallic mineral products"),
        ("31", "黑色金属冶炼和压延加工业", "Smelting and pressing of ferrous metals"),
        ("32", "有色金属冶炼和压延加工业", "Smelting and pressing of non-ferrous metals"),
        ("33", "金属制品业", "Manufacture of metal products"),
        ("34", "通用设备制造业", "Manufacture of general-purpose machinery"),
        ("35", "专用设备制造业", "Manufacture of special-purpose machinery"),
        ("36", "汽车制造业", "Manufacture of motor vehicles"),
        (
            "37",
            "铁路、船舶、航空航天和其他运输设备制造业",
            "Manufacture of railway, ship, aerospace and other transport equipment",
        ),
        ("38", "电气机械和器材制造业", "Manufacture of electrical machinery and equipment"),
        (
            "39",
            "计算机、通信和其他电子设备制造业",
            "Manufacture of computers, communication and other electronic equipment",
        ),
        ("40", "仪器仪表制造业", "Manufacture of measuring instruments"),
        ("41", "其他制造业", "Other manufacturing"),
        ("42", "废弃资源综合利用业", "Utilization of waste resources"),
        ("43", "金属制品、机械和设备修理业", "Repair of metal products, machinery and equipment"),
        ("44", "电力、热力生产和供应业", "Production and supply of electricity and heat"),
        ("45", "燃气生产和供应业", "Production and supply of gas"),
        ("46", "水的生产和供应业", "Production and supply of water"),
        ("47", "房屋建筑业", "Construction of buildings"),
        ("48", "土木工程建筑业", "Civil engineering"),
        ("49", "建筑安装业", "Construction installation"),
        ("50", "建筑装饰、装修和其他建筑业", "Building decoration, renovation and other construction"),
        ("51", "批发业", "Wholesale trade"),
        ("52", "零售业", "Retail trade"),
        ("53", "铁路运输业", "Rail transport"),
        ("54", "道路运输业", "Road transport"),
        ("55", "水上运输业", "Water transport"),
        ("56", "航空运输业", "Air transport"),
        ("57", "管道运输业", "Pipeline transport"),
        ("58", "多式联运和运输代理业", "Multimodal transport and transport agency"),
        ("59", "装卸搬运和仓储业", "Cargo handling and warehousing"),
        ("60", "邮政业", "Postal services"),
        ("61", "住宿业", "Accommodation"),
        ("62", "餐饮业", "Catering"),
        (
            "63",
            "电信、广播电视和卫星传输服务",
            "Telecommunications, broadcasting and satellite transmission services",
        ),
        ("64", "互联网和相关服务", "Internet and related services"),
        ("65", "软件和信息技术服务业", "Software and information technology services"),
        ("66", "货币金融服务", "Monetary financial services"),
        ("67", "资本市场服务", "Capital market services"),
        ("68", "保险业", "Insurance"),
        ("69", "其他金融业", "Other financial services"),
        ("70", "房地产业", "Real estate"),
        ("71", "租赁业", "Leasing"),
        ("72", "商务服务业", "Business services"),
        ("73", "研究和试验发展", "Research and experimental development"),
        ("74", "专业技术服务业", "Professional technical services"),
        ("75", "科技推广和应用服务业", "Technology promotion and application services"),
        ("76", "水利管理业", "Water conservancy management"),
        ("77", "生态保护和环境治理业", "Ecological protection and environmental treatment"),
        ("78", "公共设施管理业", "Public facilities management"),
        ("79", "土地管理业", "Land management"),
        ("80", "居民服务业", "Resident services"),
        (
            "81",
            "机动车、电子产品和日用产品修理业",
            "Repair of motor vehicles, electronic and household products",
        ),
        ("82", "其他服务业", "Other services"),
        ("83", "教育", "Education"),
        ("84", "卫生", "Health"),
        ("85", "社会工作", "Social work"),
        ("86", "新闻和出版业", "News and publishing"),
        ("87", "广播、电视、电影和录音制作业", "Radio, television, film and sound recording production"),
        ("88", "文化艺术业", "Culture and arts"),
        ("89", "体育", "Sports"),
        ("90", "娱乐业", "Entertainment"),
        ("91", "中国共产党机关", "Organs of the Communist Party of China"),
        ("92", "国家机构", "State organs"),
        ("93", "人民政协、民主党派", "CPPCC and democratic parties"),
        ("94", "社会保障", "Social security"),
        (
            "95",
            "群众团体、社会团体和其他成员组织",
            "Mass organizations, social organizations and other membership organizations",
        ),
        (
            "96",
            "基层群众自治组织及其他组织",
            "Grassroots self-governing organizations and other organizations",
        ),
        ("97", "国际组织", "International organizations"),
    ],
)

# Names from GB/T 4754-2011 that older listings (Zhibei included) still use, keyed by their
# normalized form. 2011's "装卸搬运和运输代理业" was split in 2017; agency is the closer heir.
_DIVISION_ALIASES: dict[str, str] = {
    "农林牧渔服务": "05",
    "开采辅助活动": "11",
    "石油加工炼焦和核燃料加工": "25",
    "建筑装饰和其他建筑": "50",
    "装卸搬运和运输代理": "58",
    "仓储": "59",
    "广播电视电影和影视录音制作": "87",
    "基层群众自治组织": "96",
}

_DASHES = re.compile(r"[\-‐‑‒–—―─━－~～>/|]+")
_IGNORED = re.compile(r"[\s、，,·.。:：;；()（）]+")
_CODE_FORM = re.compile(r"([A-Ta-t])?\s*(\d{1,2})?")
_FUZZY_CUTOFF = 0.8


def division_section(division_code: str) -> str:
    """The section letter of a two-digit division code ("39" -> "C"); "" when unknown."""
    if division_code not in INDUSTRY_DIVISIONS:
        return ""
    number = int(division_code)
    return next(s for s, (lo, hi) in _SECTION_RANGES.items() if lo <= number <= hi)


def _key(name: str) -> str:
    """Comparison key: punctuation and the optional trailing 业 are dropped."""
    key = _IGNORED.sub("", unicodedata.normalize("NFKC", name))
    return key[:-1] if key.endswith("业") and len(key) > 1 else key


_SECTION_BY_KEY = {_key(item.zh): item.code for item in INDUSTRY_SECTIONS}
_DIVISION_BY_KEY = {_key(item.zh): item.code for item in INDUSTRY_DIVISIONS} | _DIVISION_ALIASES


def _match_section(text: str) -> str | None:
    key = _key(text)
    if key in _SECTION_BY_KEY:
        return _SECTION_BY_KEY[key]
    # Multi-select fields get stored as concatenated names ("制造业建筑业..."): keep the first.
    flat = _IGNORED.sub("", unicodedata.normalize("NFKC", text))
    starts = [
        (len(item.zh), item.code) for item in INDUSTRY_SECTIONS if flat.startswith(_IGNORED.sub("", item.zh))
    ]
    return max(starts)[1] if starts else None


def _match_division(text: str, section: str | None) -> str | None:
    key = _key(text)
    if not key:
        return None
    if key in _DIVISION_BY_KEY:
        return _DIVISION_BY_KEY[key]
    candidates = {
        k: code
        for k, code in _DIVISION_BY_KEY.items()
        if section is None or division_section(code) == section
    }
    # Truncated names ("铁路、船舶、航空航天和其他运输") are prefixes of exactly one division.
    prefixed = {code for k, code in candidates.items() if len(key) >= 4 and k.startswith(key)}
    if len(prefixed) == 1:
        return prefixed.pop()
    # Typos ("煤炭开发和洗选业", "酒、饮料喝精制茶制造业") are one character off.
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=_FUZZY_CUTOFF)
    return candidates[close[0]] if close else None


def _parse_code_form(text: str) -> tuple[str | None, str | None] | None:
    """ "C39", "C", "39": returns None when the text is not in code form at all."""
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    match = _CODE_FORM.fullmatch(compact)
    if not compact or match is None:
        return None
    letter, digits = match.groups()
    section = letter.upper() if letter else None
    if digits is None:
        return (section, None) if section in INDUSTRY_SECTIONS else (None, None)
    division = digits.zfill(2)
    owner = division_section(division)
    if not owner or (section is not None and section != owner):
        return None, None
    return owner, division


def parse_industry(text: str | None) -> tuple[str | None, str | None]:
    """Parses "section——division" names, either part alone, or codes, into (section, division).

    A division filed under the wrong section wins over the section, because it is the more
    specific choice and statistics need division_section(division) == section.
    """
    if not text or not text.strip():
        return None, None
    coded = _parse_code_form(text)
    if coded is not None:
        return coded
    parts = [part for part in _DASHES.split(text) if _key(part)]
    if not parts:
        return None, None
    section = _match_section(parts[0])
    if len(parts) == 1:
        if section is not None:
            return section, None
        division = _match_division(parts[0], None)
        return (division_section(division), division) if division else (None, None)
    division = _match_division(parts[1], section) or _match_division(parts[1], None)
    if division is not None:
        return division_section(division), division
    return section, None
