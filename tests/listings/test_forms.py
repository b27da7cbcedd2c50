"""Bad input on the listing forms: the error sits next to its field, what was typed stays, nothing is saved."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models import ListingStatus, ResearchResult, Role, Session, TechNeed

GOOD_RESULT = {"title": "振动预测性维护系统", "summary": "提前发现设备故障", "price": "50", "price_unit": "wan",
               "industry_section": "C", "industry_division": "34", "transfer_modes": ["license"],
               "keywords": "振动监测，预测性维护、PHM", "patent_numbers": "ZL201720001285.X\n2017200012859",
               "maturity": "pilot", "region": "350500", "contact_email": "lin@qzut.edu.cn"}
GOOD_NEED = {"title": "设备故障预警", "summary": "想在出故障前就知道", "budget_min": "10", "budget_max": "50",
             "budget_unit": "wan", "industry_section": "C", "transfer_modes": ["co_develop"]}


def _field_block(page: str, name: str) -> str:
    """The HTML of the form field holding input `name` (the macro wraps each in <div class="field ...">)."""
    for block in page.split('<div class="field')[1:]:
        if f'name="{name}"' in block:
            return block
    raise AssertionError(f"no field {name} on the page")


def _count(model) -> int:
    return Session.scalar(sa.select(sa.func.count()).select_from(model))


BAD_RESULT = [
    ("title", "", "This field is required."),
    ("title", "长" * 201, "At most 200 characters."),
    ("summary", "", "This field is required."),
    ("price", "abc", "Enter a number."),
    ("price", "-5", "The amount cannot be negative."),
    ("price", "", "Enter an asking price or tick Negotiable."),
    ("valid_until", (date.today() - timedelta(days=1)).isoformat(), "The validity date is in the past."),
    ("valid_until", "next year", "Not a valid date value."),
    ("industry_division", "01", "This division does not belong to the chosen section."),
    ("industry_section", "Z", "Unknown code Z."),
    ("tech_field", "astrology", "Unknown code astrology."),
    ("region", "999999", "Unknown code 999999."),
    ("patent_numbers", "专利一项", "Not a patent or registration number"),
    ("patent_numbers", "12345", "Not a patent or registration number"),
    ("trl", "x", "Choose a level from the list."),
    ("trl", "12", "TRL is a level from 1 to 9."),
    ("contact_email", "not-an-email", "Enter a valid email address."),
    ("contact_phone", "call me", "Enter a valid phone number."),
    ("transfer_modes", ["license", "theft"], "Unknown transfer mode."),
]


@pytest.mark.parametrize("field, value, message", BAD_RESULT)
def test_bad_result_input(client, make, login, english, field, value, message):
    login(make.user(Role.RESEARCHER))
    response = client.post("/result/new", data={**GOOD_RESULT, field: value})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    block = _field_block(page, field)
    assert message in html.unescape(block)
    if isinstance(value, str) and value and field not in ("industry_division", "industry_section", "tech_field",
                                                          "region", "trl"):
        assert html.escape(value) in block or value in html.unescape(block)  # what was typed is kept
    assert 'value="振动预测性维护系统"' in page or field == "title"
    assert _count(ResearchResult) == 0


BAD_NEED = [
    ("budget_max", "5", "The maximum budget is below the minimum."),
    ("budget_min", "-1", "The amount cannot be negative."),
    ("budget_min", "十万", "Enter a number."),
    ("deadline", (date.today() - timedelta(days=3)).isoformat(), "The deadline is in the past."),
    ("min_trl", "0", "TRL is a level from 1 to 9."),
]


@pytest.mark.parametrize("field, value, message", BAD_NEED)
def test_bad_need_input(client, make, login, english, field, value, message):
    login(make.user(Role.ENTERPRISE))
    response = client.post("/need/new", data={**GOOD_NEED, field: value})
    assert response.status_code == 200
    block = _field_block(response.get_data(as_text=True), field)
    assert message in html.unescape(block)
    assert _count(TechNeed) == 0


def test_good_result_is_saved_in_fen_with_parsed_lists(client, make, login):
    login(make.user(Role.RESEARCHER))
    response = client.post("/result/new", data={**GOOD_RESULT, "submit": "1"})
    assert response.status_code == 302
    listing = Session.scalars(sa.select(ResearchResult)).one()
    assert listing.price_fen == 50 * 10_000 * 100
    assert listing.keywords == ["振动监测", "预测性维护", "PHM"]
    assert listing.patent_numbers == ["ZL201720001285.X", "2017200012859"]
    assert listing.trl == 7 and listing.status == ListingStatus.PENDING
    assert listing.valid_until == date.today() + timedelta(days=365) or listing.valid_until > date.today()


def test_negotiable_price_and_yuan_unit(client, make, login):
    login(make.user(Role.RESEARCHER))
    client.post("/result/new", data={**GOOD_RESULT, "price": "", "negotiable": "y"})
    client.post("/result/new", data={**GOOD_RESULT, "title": "按元计价", "price": "8800", "price_unit": "yuan"})
    prices = dict(Session.execute(sa.select(ResearchResult.title, ResearchResult.price_fen)).all())
    assert prices == {"振动预测性维护系统": None, "按元计价": 880000}


def test_a_unit_written_in_the_amount_box_wins_over_the_unit_selector(client, make, login):
    login(make.user(Role.RESEARCHER))
    client.post("/result/new", data={**GOOD_RESULT, "title": "写了万", "price": "60万", "price_unit": "yuan"})
    client.post("/result/new", data={**GOOD_RESULT, "title": "写了元", "price": "8,800元", "price_unit": "wan"})
    prices = dict(Session.execute(sa.select(ResearchResult.title, ResearchResult.price_fen)).all())
    assert prices == {"写了万": 60_000_000, "写了元": 880_000}


def test_edit_form_shows_stored_values_and_warns_about_review(client, make, login, english):
    owner = make.user(Role.RESEARCHER)
    listing = make.result(owner=owner, price_fen=1_250_000_00, keywords=["振动", "轴承"])
    login(owner)
    page = client.get(f"/result/{listing.id}/edit").get_data(as_text=True)
    assert 'value="125"' in page and "振动、轴承" in page
    assert re.search(r"goes back to staff review", page)


def test_a_near_duplicate_of_the_organizations_own_listing_asks_before_it_is_saved(client, make, login):
    user = make.user(Role.RESEARCHER)
    login(user)
    assert client.post("/result/new", data=GOOD_RESULT).status_code == 302
    again = client.post("/result/new?lang=en", data={**GOOD_RESULT, "title": "振动预测性维护系统 "})
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and 'id="near-duplicates"' in page and "振动预测性维护系统" in page
    assert 'value="提前发现设备故障' in page or "提前发现设备故障" in page  # what was typed is kept
    assert _count(ResearchResult) == 1
    saved = client.post("/result/new", data={**GOOD_RESULT, "confirm_duplicate": "1"})
    assert saved.status_code == 302 and _count(ResearchResult) == 2
    other = client.post("/result/new", data={**GOOD_RESULT, "title": "锂电池快速充电管理芯片",
                                             "summary": "提高锂电池充电速度并防止过热"})
    assert other.status_code == 302 and _count(ResearchResult) == 3  # a different listing goes straight in
    login(make.user(Role.RESEARCHER))  # another organization's copy is not ours to warn about
    assert client.post("/result/new", data=GOOD_RESULT).status_code == 302


def test_staff_file_a_listing_only_for_an_organization_of_the_right_kind(client, make, login, english):
    from models import OrgKind

    firm, uni = make.org(OrgKind.ENTERPRISE), make.org(OrgKind.UNIVERSITY)
    login(make.user(Role.STAFF))
    wrong = client.post("/result/new", data={**GOOD_RESULT, "organization_id": str(firm.id)})
    assert wrong.status_code in (200, 400)
    assert "research results belong to a university or institute" in html.unescape(
        _field_block(wrong.get_data(as_text=True), "organization_id"))
    huge = client.post("/result/new", data={**GOOD_RESULT, "organization_id": "9" * 30})
    assert huge.status_code in (200, 400)
    assert _count(ResearchResult) == 0
    right = client.post("/result/new", data={**GOOD_RESULT, "organization_id": str(uni.id)})
    assert right.status_code == 302
    assert Session.scalars(sa.select(ResearchResult.organization_id)).one() == uni.id
