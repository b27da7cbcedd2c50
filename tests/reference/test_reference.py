"""Reference code lists: integrity, parsing, flow direction, registration numbers, Zhibei mapping."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

import pytest

from matchmaker.reference import (
    ALL_LISTS,
    CONTRACT_SUBTYPES,
    CONTRACT_TYPES,
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    LEGAL_ENTITY_TYPES,
    MATURITY,
    MATURITY_DEFAULT_TRL,
    REGIONS,
    TRL_LEVELS,
    Code,
    CodeList,
    check_registration_number,
    division_section,
    parse_industry,
    party_type,
    region_flow,
    region_name,
    region_province,
    subtype_type,
    zhibei_ip_status,
    zhibei_maturity,
    zhibei_price_fen,
    zhibei_price_range_fen,
    zhibei_transfer_modes,
    zhibei_validity,
)
from tests import shared_data

ZHIBEI = shared_data.DATA / "zhibei"


@cache
def zhibei_rows(name: str) -> list[dict]:
    path = shared_data.require(ZHIBEI / name)
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def distinct(name: str, field: str) -> list[str]:
    return sorted({row.get(field) or "" for row in zhibei_rows(name)})


# --- code lists -----------------------------------------------------------------------------


@pytest.mark.parametrize("codes", ALL_LISTS, ids=lambda codes: codes.name)
def test_every_list_has_unique_codes_and_both_labels(codes: CodeList) -> None:
    assert len(codes) > 0
    assert len(set(codes.codes)) == len(codes)
    for item in codes:
        assert item.code and item.zh.strip() and item.en.strip(), item
        assert item.en.isascii(), item


def test_code_list_lookup_labels_and_choices() -> None:
    assert MATURITY.get("sample") == Code("sample", "已有样品", "Sample available")
    assert "sample" in MATURITY and "unknown" not in MATURITY and None not in MATURITY
    assert MATURITY.label("pilot", "en") == "Pilot-scale trial passed"
    assert MATURITY.label("pilot", "zh") == "通过中试"
    assert MATURITY.label("pilot", "en_US") == "Pilot-scale trial passed"
    assert MATURITY.label("retired_code", "zh") == "retired_code"
    assert MATURITY.choices("zh")[0] == ("research", "研发阶段")
    assert [code for code, _ in MATURITY.choices("en")] == [item.code for item in MATURITY]


def test_duplicate_codes_are_rejected() -> None:
    with pytest.raises(ValueError):
        CodeList("bad", [Code("a", "甲", "A"), Code("a", "乙", "B")])


# --- industries -----------------------------------------------------------------------------


def test_all_97_divisions_map_to_a_section() -> None:
    assert [item.code for item in INDUSTRY_DIVISIONS] == [f"{n:02d}" for n in range(1, 98)]
    assert len(INDUSTRY_SECTIONS) == 20
    for item in INDUSTRY_DIVISIONS:
        assert division_section(item.code) in INDUSTRY_SECTIONS
    assert division_section("39") == "C"
    assert division_section("65") == "I"
    assert division_section("98") == ""
    assert INDUSTRY_DIVISIONS.get("39").zh == "计算机、通信和其他电子设备制造业"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("制造业——计算机、通信和其他电子设备制造业", ("C", "39")),
        ("制造业——计算机、通信和其他电子设备制造", ("C", "39")),
        ("制造业 — 计算机、通信和其他电子设备制造", ("C", "39")),
        ("制造业-计算机，通信和其他电子设备制造业", ("C", "39")),
        ("制造业－－计算机、通信和其他电子设备制造", ("C", "39")),
        ("计算机、通信和其他电子设备制造业", ("C", "39")),
        ("制造业", ("C", None)),
        (" 制造 ", ("C", None)),
        ("C39", ("C", "39")),
        ("c 39", ("C", "39")),
        ("39", ("C", "39")),
        ("C", ("C", None)),
        ("C65", (None, None)),
        ("Z", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
        ("火星采矿业", (None, None)),
        ("制造业——不存在的东西", ("C", None)),
        ("制造业电力、热力、燃气、及水生产和供应业建筑业", ("C", None)),
        ("农、林、牧、渔业——农、林、牧、渔服务业", ("A", "05")),
        ("采矿业——煤炭开发和洗选业", ("B", "06")),
        ("信息传输、软件和信息技术服务业——科技推广和应用服务业", ("M", "75")),
    ],
)
def test_parse_industry(text: str | None, expected: tuple[str | None, str | None]) -> None:
    assert parse_industry(text) == expected


@pytest.mark.parametrize("name", ["achievements.jsonl", "requirements.jsonl"])
def test_every_zhibei_classification_parses_to_a_section(name: str) -> None:
    values = [value for value in distinct(name, "classification") if value]
    unparsed = [value for value in values if parse_industry(value)[0] is None]
    assert unparsed == []
    if name == "achievements.jsonl":
        # Every achievement names a division too, and it must agree with its section.
        for value in values:
            section, division = parse_industry(value)
            assert division is not None, value
            assert division_section(division) == section


# --- regions --------------------------------------------------------------------------------


def test_regions_have_the_provinces_and_known_city_codes() -> None:
    provinces = [item for item in REGIONS if item.code.endswith("0000")]
    assert len(provinces) == 34
    for code, zh in [
        ("350500", "泉州市"),
        ("350200", "厦门市"),
        ("350100", "福州市"),
        ("330100", "杭州市"),
        ("440300", "深圳市"),
        ("320500", "苏州市"),
    ]:
        assert REGIONS.label(code, "zh") == zh
    assert region_province("350500") == "350000"
    assert region_province("bad") == ""
    assert region_name("350500") == "福建省泉州市"
    assert region_name("350500", "en") == "Quanzhou, Fujian"


@pytest.mark.parametrize(
    ("buyer", "seller", "home", "flow"),
    [
        ("350200", "350500", "350000", "within"),
        ("440300", "350500", "350000", "outward"),
        ("350100", "330100", "350000", "inward"),
        ("440300", "330100", "350000", "external"),
        # At city level a Xiamen buyer is outside Quanzhou, even in the same province.
        ("350200", "350500", "350500", "outward"),
        ("350503", "350500", "350500", "within"),
        ("350500", "350100", "350500", "inward"),
        (None, "350500", "350500", "outward"),
        ("", None, "350000", "external"),
    ],
)
def test_region_flow(buyer: str | None, seller: str | None, home: str, flow: str) -> None:
    assert region_flow(buyer, seller, home) == flow


def test_region_flow_rejects_a_bad_home() -> None:
    with pytest.raises(ValueError):
        region_flow("350500", "350500", "35")


# --- contracts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "party"),
    [
        ("021", "institute"),
        ("022", "university"),
        ("110", "enterprise"),
        ("150", "enterprise"),
        ("230", "enterprise"),
        ("310", "enterprise"),
        ("400", "individual"),
        ("010", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_party_type(code: str | None, party: str) -> None:
    assert party_type(code) == party


def test_every_legal_entity_type_has_a_party_type() -> None:
    assert {party_type(item.code) for item in LEGAL_ENTITY_TYPES} == {
        "enterprise",
        "university",
        "institute",
        "individual",
        "other",
    }


def test_every_subtype_belongs_to_a_contract_type() -> None:
    for item in CONTRACT_SUBTYPES:
        assert subtype_type(item.code) in CONTRACT_TYPES
    assert subtype_type("transfer.patent") == "transfer"
    assert subtype_type("service.intermediary") == "service"
    assert subtype_type("transfer.nonsense") == ""


@pytest.mark.parametrize(
    ("number", "error"),
    [
        ("2026350500A0001234", None),
        ("2019110108Z9999999", None),
        ("2026350500a0001234", "format"),
        ("2026350500A000123", "format"),
        ("2026350500A00012345", "format"),
        ("2026350500A0001234\n", "format"),
        (" 2026350500A0001234", "format"),
        ("２０２６350500A0001234", "format"),
        ("20263505001A001234", "format"),
        ("", "format"),
        (None, "format"),
        ("1970350500A0001234", "year"),
        ("2099350500A0001234", "year"),
        ("2026990000A0001234", "region"),
        ("2026000000A0001234", "region"),
    ],
)
def test_registration_number(number: str | None, error: str | None) -> None:
    assert check_registration_number(number, today=date(2026, 6, 1)) == error


# --- maturity -------------------------------------------------------------------------------


def test_every_maturity_stage_has_a_rising_trl() -> None:
    trls = [MATURITY_DEFAULT_TRL[item.code] for item in MATURITY]
    assert trls == sorted(trls) and len(set(trls)) == len(trls)
    assert all(str(level) in TRL_LEVELS for level in trls)
    assert TRL_LEVELS.codes == [str(n) for n in range(1, 10)]


# --- Zhibei mappers on real values ----------------------------------------------------------


def test_zhibei_maturity_maps_every_real_value() -> None:
    values = distinct("achievements.jsonl", "maturity")
    assert {value: zhibei_maturity(value) for value in values} == {
        "已有样品": "sample",
        "通过小试": "pilot_small",
        "通过中试": "pilot",
        "可以量产": "mass",
        "正在研发": "research",
    }
    assert zhibei_maturity("乱写") is None


def test_zhibei_ip_status_maps_every_real_value() -> None:
    values = distinct("achievements.jsonl", "zlxx")
    assert {value: zhibei_ip_status(value) for value in values} == {
        "非专利技术": "know_how",
        "发明专利": "invention_granted",
        "实用新型专利": "utility_model",
        "外观专利": "design",
    }
    assert zhibei_ip_status("发明专利", "该专利申请中，已进入实质审查") == "invention_filed"
    assert zhibei_ip_status("发明专利", "（专利号/申请号201510402521.4）") == "invention_granted"


@pytest.mark.parametrize(
    ("text", "modes"),
    [
        ("完全转让许可转让技术入股合作生产", ["transfer", "license", "equity", "co_develop"]),
        ("许可转让", ["license"]),
        ("完全转让其他", ["transfer", "other"]),
        ("技术转让,技术许可,委托开发", ["transfer", "license", "commissioned"]),
        ("技术入股，技术转让，其他", ["equity", "transfer", "other"]),
        ("其他", ["other"]),
        ("", []),
        (None, []),
    ],
)
def test_zhibei_transfer_modes(text: str | None, modes: list[str]) -> None:
    assert zhibei_transfer_modes(text) == modes


@pytest.mark.parametrize("name", ["achievements.jsonl", "requirements.jsonl"])
def test_every_non_empty_zhibei_cooperation_method_maps(name: str) -> None:
    values = [value for value in distinct(name, "cooperationMethod") if value]
    assert [value for value in values if not zhibei_transfer_modes(value)] == []


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("面议", None, None),
        ("", None, None),
        ("100.0万元-200.0万元", 100_000_000, 200_000_000),
        ("9.0万元-9.0万元", 9_000_000, 9_000_000),
        ("30.0万元-100.0万元", 30_000_000, 100_000_000),
        ("50-80万元", 50_000_000, 80_000_000),
        ("50", 50_000_000, 50_000_000),
        ("1.5亿元", 15_000_000_000, 15_000_000_000),
        ("8000元", 800_000, 800_000),
        ("１２万元", 12_000_000, 12_000_000),
        ("价格好商量", None, None),
    ],
)
def test_zhibei_price(text: str, low: int | None, high: int | None) -> None:
    assert zhibei_price_range_fen(text) == (low, high)
    assert zhibei_price_fen(text) == low


def test_every_real_zhibei_price_is_understood() -> None:
    for value in distinct("achievements.jsonl", "price"):
        assert (value == "面议") == (zhibei_price_fen(value) is None), value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-1310:49:39.0至2021-01-1310:49:41.0", (date(2020, 1, 13), date(2021, 1, 13))),
        ("2020-3-5至2020-12-31", (date(2020, 3, 5), date(2020, 12, 31))),
        ("至", (None, None)),
        ("", (None, None)),
        ("2020-02-30至2021-01-13", (None, date(2021, 1, 13))),
    ],
)
def test_zhibei_validity(text: str, expected: tuple[date | None, date | None]) -> None:
    assert zhibei_validity(text) == expected


def test_real_zhibei_validity_windows_parse_and_are_ordered() -> None:
    windows = [
        zhibei_validity(row["time"]) for row in zhibei_rows("requirements.jsonl") if row["time"] != "至"
    ]
    assert windows and all(start and end and start <= end for start, end in windows)
