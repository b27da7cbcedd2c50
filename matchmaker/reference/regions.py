"""GB/T 2260 administrative division codes and the technology-flow direction used in statistics."""

from __future__ import annotations

import re

from .codes import code_list, is_english

_PROVINCES = [
    ("110000", "北京市", "Beijing"),
    ("120000", "天津市", "Tianjin"),
    ("130000", "河北省", "Hebei"),
    ("140000", "山西省", "Shanxi"),
    ("150000", "内蒙古自治区", "Inner Mongolia"),
    ("210000", "辽宁省", "Liaoning"),
    ("220000", "吉林省", "Jilin"),
    ("230000", "黑龙江省", "Heilongjiang"),
    ("310000", "上海市", "Shanghai"),
    ("320000", "江苏省", "Jiangsu"),
    ("330000", "浙江省", "Zhejiang"),
    ("340000", "安徽省", "Anhui"),
    ("350000", "福建省", "Fujian"),
    ("360000", "江西省", "Jiangxi"),
    ("370000", "山东省", "Shandong"),
    ("410000", "河南省", "Henan"),
    ("420000", "湖北省", "Hubei"),
    ("430000", "湖南省", "Hunan"),
    ("440000", "广东省", "Guangdong"),
    ("450000", "广西壮族自治区", "Guangxi"),
    ("460000", "海南省", "Hainan"),
    ("500000", "重庆市", "Chongqing"),
    ("510000", "四川省", "Sichuan"),
    ("520000", "贵州省", "Guizhou"),
    ("530000", "云南省", "Yunnan"),
    ("540000", "西藏自治区", "Tibet"),
    ("610000", "陕西省", "Shaanxi"),
    ("620000", "甘肃省", "Gansu"),
    ("630000", "青海省", "Qinghai"),
    ("640000", "宁夏回族自治区", "Ningxia"),
    ("650000", "新疆维吾尔自治区", "Xinjiang"),
    ("710000", "台湾省", "Taiwan"),
    ("810000", "香港特别行政区", "Hong Kong SAR"),
    ("820000", "澳门特别行政区", "Macao SAR"),
]

# Prefecture-level cities of the provinces the platform serves first. Listed only where the
# code is certain; other provinces can be added without touching any caller.
_PREFECTURES = [
    # Fujian
    ("350100", "福州市", "Fuzhou"),
    ("350200", "厦门市", "Xiamen"),
    ("350300", "莆田市", "Putian"),
    ("350400", "三明市", "Sanming"),
    ("350500", "泉州市", "Quanzhou"),
    ("350600", "漳州市", "Zhangzhou"),
    ("350700", "南平市", "Nanping"),
    ("350800", "龙岩市", "Longyan"),
    ("350900", "宁德市", "Ningde"),
    # Zhejiang
    ("330100", "杭州市", "Hangzhou"),
    ("330200", "宁波市", "Ningbo"),
    ("330300", "温州市", "Wenzhou"),
    ("330400", "嘉兴市", "Jiaxing"),
    ("330500", "湖州市", "Huzhou"),
    ("330600", "绍兴市", "Shaoxing"),
    ("330700", "金华市", "Jinhua"),
    ("330800", "衢州市", "Quzhou"),
    ("330900", "舟山市", "Zhoushan"),
    ("331000", "台州市", "Taizhou (Zhejiang)"),
    ("331100", "丽水市", "Lishui"),
    # Jiangsu
    ("320100", "南京市", "Nanjing"),
    ("320200", "无锡市", "Wuxi"),
    ("320300", "徐州市", "Xuzhou"),
    ("320400", "常州市", "Changzhou"),
    ("320500", "苏州市", "Suzhou"),
    ("320600", "南通市", "Nantong"),
    ("320700", "连云港市", "Lianyungang"),
    ("320800", "淮安市", "Huai'an"),
    ("320900", "盐城市", "Yancheng"),
    ("321000", "扬州市", "Yangzhou"),
    ("321100", "镇江市", "Zhenjiang"),
    ("321200", "泰州市", "Taizhou (Jiangsu)"),
    ("321300", "宿迁市", "Suqian"),
    # Guangdong
    ("440100", "广州市", "Guangzhou"),
    ("440200", "韶关市", "Shaoguan"),
    ("440300", "深圳市", "Shenzhen"),
    ("440400", "珠海市", "Zhuhai"),
    ("440500", "汕头市", "Shantou"),
    ("440600", "佛山市", "Foshan"),
    ("440700", "江门市", "Jiangmen"),
    ("440800", "湛江市", "Zhanjiang"),
    ("440900", "茂名市", "Maoming"),
    ("441200", "肇庆市", "Zhaoqing"),
    ("441300", "惠州市", "Huizhou"),
    ("441400", "梅州市", "Meizhou"),
    ("441500", "汕尾市", "Shanwei"),
    ("441600", "河源市", "Heyuan"),
    ("441700", "阳江市", "Yangjiang"),
    ("441800", "清远市", "Qingyuan"),
    ("441900", "东莞市", "Dongguan"),
    ("442000", "中山市", "Zhongshan"),
    ("445100", "潮州市", "Chaozhou"),
    ("445200", "揭阳市", "Jieyang"),
    ("445300", "云浮市", "Yunfu"),
]

# Districts of the two municipalities whose fairs most often take part.
_DISTRICTS = [
    ("110101", "东城区", "Dongcheng District"),
    ("110102", "西城区", "Xicheng District"),
    ("110105", "朝阳区", "Chaoyang District"),
    ("110106", "丰台区", "Fengtai District"),
    ("110107", "石景山区", "Shijingshan District"),
    ("110108", "海淀区", "Haidian District"),
    ("110109", "门头沟区", "Mentougou District"),
    ("110111", "房山区", "Fangshan District"),
    ("110112", "通州区", "Tongzhou District"),
    ("110113", "顺义区", "Shunyi District"),
    ("110114", "昌平区", "Changping District"),
    ("110115", "大兴区", "Daxing District"),
    ("110116", "怀柔区", "Huairou District"),
    ("110117", "平谷区", "Pinggu District"),
    ("110118", "密云区", "Miyun District"),
    ("110119", "延庆区", "Yanqing District"),
    ("310101", "黄浦区", "Huangpu District"),
    ("310104", "徐汇区", "Xuhui District"),
    ("310105", "长宁区", "Changning District"),
    ("310106", "静安区", "Jing'an District"),
    ("310107", "普陀区", "Putuo District"),
    ("310109", "虹口区", "Hongkou District"),
    ("310110", "杨浦区", "Yangpu District"),
    ("310112", "闵行区", "Minhang District"),
    ("310113", "宝山区", "Baoshan District"),
    ("310114", "嘉定区", "Jiading District"),
    ("310115", "浦东新区", "Pudong New Area"),
    ("310116", "金山区", "Jinshan District"),
    ("310117", "松江区", "Songjiang District"),
    ("310118", "青浦区", "Qingpu District"),
    ("310120", "奉贤区", "Fengxian District"),
    ("310151", "崇明区", "Chongming District"),
]

REGIONS = code_list("regions", sorted(_PROVINCES + _PREFECTURES + _DISTRICTS))
PROVINCE_CODES: frozenset[str] = frozenset(code for code, _, _ in _PROVINCES)

# The values region_flow returns, labelled for statistics tables.
REGION_FLOWS = code_list(
    "region_flows",
    [
        ("within", "区域内", "Within the region"),
        ("outward", "技术输出", "Outward (technology exported)"),
        ("inward", "技术吸纳", "Inward (technology absorbed)"),
        ("external", "区域外", "Outside the region"),
    ],
)

_CODE_RE = re.compile(r"[1-9][0-9]{5}")


def _valid(code: str | None) -> bool:
    return isinstance(code, str) and _CODE_RE.fullmatch(code) is not None


def region_province(code: str | None) -> str:
    """The provincial code of any 6-digit code ("350500" -> "350000"); "" when malformed."""
    return code[:2] + "0000" if code is not None and _valid(code) else ""


def region_prefecture(code: str | None) -> str:
    """The prefecture-level code ("350503" -> "350500"); a province code maps to itself."""
    if code is None or not _valid(code):
        return ""
    return code if code.endswith("0000") else code[:4] + "00"


def region_level(code: str) -> str:
    """ "province", "prefecture" or "county", from the trailing zeros of the code."""
    if code.endswith("0000"):
        return "province"
    return "prefecture" if code.endswith("00") else "county"


def region_name(code: str | None, locale: str = "zh") -> str:
    """Full name with the province prefix ("福建省泉州市"), falling back to the bare code."""
    if not code:
        return ""
    parts = [region_province(code), region_prefecture(code), code]
    labels: list[str] = []
    for part in parts:
        item = REGIONS.get(part)
        if item is not None and item.label(locale) not in labels:
            labels.append(item.label(locale))
    if not labels:
        return code
    return ", ".join(reversed(labels)) if is_english(locale) else "".join(labels)


def _same_area(code: str | None, home: str) -> bool:
    if code is None or not _valid(code):
        return False
    level = region_level(home)
    if level == "province":
        return region_province(code) == home
    if level == "prefecture":
        return region_prefecture(code) == home
    return code == home


def region_flow(buyer_region: str | None, seller_region: str | None, home_region: str) -> str:
    """Technology flow seen from home_region: "within", "outward", "inward" or "external".

    The seller supplies the technology: a home seller with an outside buyer is 技术输出 (outward),
    a home buyer with an outside seller is 技术吸纳 (inward). Regions compare at the level of the
    home code (province, prefecture or county); a missing party region counts as outside.
    """
    if not _valid(home_region):
        raise ValueError(f"home_region must be a 6-digit GB/T 2260 code, got {home_region!r}")
    buyer_home = _same_area(buyer_region, home_region)
    seller_home = _same_area(seller_region, home_region)
    if buyer_home and seller_home:
        return "within"
    if seller_home:
        return "outward"
    if buyer_home:
        return "inward"
    return "external"
