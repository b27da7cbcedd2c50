"""The need-writing assistant on /need/new: own words in, an editable draft out (title, problem, industry,
key terms, maturity, transfer modes, similar listings, what is missing), nothing saved until the form is
saved. Runs the real embedding model on a handful of texts."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from matchmaker.engine import industry_guess
from models import ListingStatus, Role, Session, TechNeed

BEARING = {"title": "基于振动信号的轴承故障预测系统", "summary": "利用振动传感器和机器学习提前预测电机轴承故障",
           "description": "适用于电机、风机等旋转设备的预测性维护", "industry_section": "C",
           "industry_division": "38", "keywords": ["预测性维护", "振动监测", "故障诊断"], "trl": 6}
PUMP_NEED = {"title": "水泵机组故障预警", "summary": "水泵经常突然停机，希望提前发现故障",
             "description": "需要振动监测和预测性维护方案", "industry_section": "C",
             "industry_division": "38", "keywords": ["预测性维护", "振动监测"],
             "transfer_modes": ["commissioned", "co_develop"], "min_maturity": "pilot"}
RICE = {"title": "水稻抗倒伏新品种选育", "summary": "培育抗倒伏高产水稻品种", "description": "适合南方双季稻区种植",
        "industry_section": "A", "industry_division": "01", "keywords": ["水稻", "育种"], "trl": 7}


@pytest.fixture
def enterprise(make):
    return make.user(Role.ENTERPRISE)


def _draft(client, text: str, lang: str = "zh") -> str:
    response = client.post(f"/need/assist?lang={lang}", data={"problem": text})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _selected(html: str, name: str) -> str:
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert select, f"no {name} select"
    chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select.group(0))
    return (chosen.group(1) or chosen.group(2)) if chosen else ""


def test_vague_words_become_a_structured_draft_with_similar_listings(client, auth, publish, enterprise):
    bearing = publish("result", **BEARING)
    pump = publish("need", **PUMP_NEED)
    publish("result", **RICE)
    auth.login(enterprise)
    html = _draft(client, "设备坏了才修太被动")
    draft = html[html.index('id="need-draft"'):]
    title = re.search(r'name="title"[^>]*value="([^"]*)"', draft).group(1)
    assert title and title != "设备坏了才修太被动" and "设备" in title
    assert _selected(draft, "industry_section") == "C"  # its neighbours are all manufacturing
    keywords = re.search(r'name="keywords"[^>]*value="([^"]*)"', draft).group(1)
    assert "设备" in keywords and "预测性维护" in keywords  # its own word and a similar listing's term
    assert bearing.title in draft[draft.index('id="similar-results"'):]
    assert pump.title in draft[draft.index('id="similar-needs"'):]
    # The text says what goes wrong today, but not how much or under which limits.
    missing = draft[draft.index('id="need-missing"'):]
    assert "Quantities" in missing or "数量" in missing
    assert "预算" in missing or "Constraints" in missing
    assert "目前的做法" not in missing and "current process" not in missing
    assert Session.scalar(sa.select(sa.func.count()).select_from(TechNeed)) == 1  # nothing saved


def test_only_the_missing_information_is_asked_for(client, auth, enterprise):
    auth.login(enterprise)
    html = _draft(client, "We need to cut the scrap rate of our 3 injection moulding lines from 5% to 2%. "
                          "Currently operators check parts by hand. The budget is at most 500,000 yuan.", "en")
    assert 'id="need-missing"' not in html
    assert "Seeking" in html and 'value="en"' in html
    keywords = re.search(r'name="keywords"[^>]*value="([^"]*)"', html).group(1).split("、")
    assert "scrap" in keywords and "need" not in keywords and "cut" not in keywords  # words of wanting left out


def test_accepting_the_draft_fills_the_need_form_without_saving(client, auth, publish, enterprise):
    publish("result", **BEARING)
    auth.login(enterprise)
    page = client.post("/need/new", data={
        "from_draft": "1", "title": "寻求设备预测性维护技术方案", "summary": "设备坏了才修太被动",
        "description": "设备坏了才修太被动。现寻求一种技术", "keywords": "设备、预测性维护",
        "industry_section": "C", "min_maturity": "pilot", "transfer_modes": ["commissioned", "co_develop"],
        "language": "zh"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="寻求设备预测性维护技术方案"' in html
    assert _selected(html, "industry_section") == "C" and _selected(html, "min_maturity") == "pilot"
    assert re.search(r'value="commissioned"[^>]*checked|checked[^>]*value="commissioned"', html)
    assert f'value="{enterprise.email}"' in html  # the form's own defaults are kept
    assert Session.scalar(sa.select(sa.func.count()).select_from(TechNeed)) == 0
    # Saving the filled-in form is the ordinary create.
    saved = client.post("/need/new", data={
        "title": "寻求设备预测性维护技术方案", "summary": "设备坏了才修太被动", "description": "现寻求一种技术",
        "keywords": "设备、预测性维护", "industry_section": "C", "language": "zh", "save": "1"})
    assert saved.status_code == 302
    assert Session.scalar(sa.select(TechNeed.status)) == ListingStatus.DRAFT


@pytest.mark.parametrize("text", ["", "   ", "？？？！！", "x" * 2001])
def test_unusable_descriptions_get_a_clear_error(client, auth, enterprise, text):
    auth.login(enterprise)
    html = _draft(client, text, "en")
    assert 'role="alert"' in html and 'id="need-draft"' not in html


def test_only_enterprises_and_staff_use_it_and_it_works_without_listings(client, auth, make, enterprise):
    auth.login(make.user(Role.RESEARCHER))
    assert client.post("/need/assist", data={"problem": "设备坏了才修太被动"}).status_code == 403
    auth.logout()
    assert client.get("/need/assist").status_code == 302  # to the login page
    auth.login(enterprise)
    html = _draft(client, "设备坏了才修太被动")  # an empty site: the section names decide alone
    assert _selected(html, "industry_section") in {s.code for s in industry_guess.INDUSTRY_SECTIONS}
    assert "No published research result is close yet" in html or "尚无" in html or 'id="similar-results"' not in html


def test_the_need_form_offers_the_assistant(client, auth, enterprise):
    auth.login(enterprise)
    html = client.get("/need/new").get_data(as_text=True)
    assert 'id="need-assistant-box"' in html and 'action="/need/assist"' in html


def test_a_confidential_listing_is_suggested_only_as_its_teaser(client, auth, publish, enterprise):
    secret = publish("result", **{**BEARING, "confidential": True, "description": "秘密配方：钴铬合金涂层"})
    auth.login(enterprise)
    html = _draft(client, "电机轴承经常出故障，想用振动监测提前预测")
    assert secret.title in html
    assert "钴铬合金" not in html


def test_neighbours_outvote_the_section_names_which_decide_alone_on_an_empty_site():
    neighbours = [("A", 0.90), ("A", 0.89), ("C", 0.80)]
    ranked = industry_guess.guess_sections(neighbours, {"C": 0.85, "A": 0.80})
    assert ranked[0][0] == "A"
    assert industry_guess.guess_sections([], {"C": 0.85, "A": 0.80})[0][0] == "C"
    assert industry_guess.guess_sections([(None, 0.9)], {}) == []
