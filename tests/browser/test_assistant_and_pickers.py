"""In a real Chromium: the need-writing assistant without JavaScript (own words -> draft -> the need form
filled in -> saved), the buyer picker's plain Find button without JavaScript, the import button that waits
for its box, and the funnel chart's legend naming each bar."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from matchmaker.listings import lifecycle
from models import ListingStatus, OrgKind, Role, Session, TechNeed
from tests import factories

pytestmark = pytest.mark.browser

RESULT_CSV = (
    "标题,简介,详细描述,行业,技术领域,成熟度,知识产权,合作方式,价格（万元）,地区,关键词\n"
    "振动监测预测性维护系统,设备坏了才修太被动：提前预警,基于振动信号的故障预测,制造业——通用设备制造业,"
    "先进制造,通过中试,发明专利（已授权）,技术转让、技术许可,80,泉州市,振动监测；预测性维护\n"
    ",没有标题的一行,说明,,,,,,,,\n"
)


def test_an_enterprise_turns_its_own_words_into_a_need_without_javascript(live_server, browser):
    with live_server.app.app_context():
        staff = factories.user(Role.STAFF)
        owner = factories.user(Role.RESEARCHER)
        result = factories.result(owner=owner, status=ListingStatus.PENDING, title="基于振动信号的轴承故障预测系统",
                                  summary="利用振动传感器提前预测电机轴承故障", keywords=["预测性维护", "振动监测"])
        lifecycle.approve_listing(staff, result)  # indexed inline
        cookie = live_server.session_cookie(factories.user(Role.ENTERPRISE), lang="zh")
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(live_server.url("/need/new"))
    page.fill("#assist-problem", "设备坏了才修太被动")
    page.get_by_role("button", name="生成需求草稿").click()
    draft = page.locator("#need-draft")
    expect(draft).to_contain_text("尚未保存任何内容")
    expect(page.locator("#similar-results")).to_contain_text("基于振动信号的轴承故障预测系统")
    expect(page.locator("#need-missing")).to_contain_text("数量")
    title = page.input_value("#need-draft #title")
    assert title.startswith("寻求") and "设备" in title
    page.fill("#need-draft #title", "设备预测性维护方案征集")
    page.get_by_role("button", name="使用此草稿").click()
    assert page.input_value("#title") == "设备预测性维护方案征集"
    assert page.input_value("#industry_section") == "C"
    with live_server.app.app_context():
        assert Session.query(TechNeed).count() == 0  # nothing saved until the form is saved
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url("**/need/*")
    with live_server.app.app_context():
        assert Session.query(TechNeed).one().title == "设备预测性维护方案征集"


def test_a_broker_finds_the_buyer_with_the_plain_find_button(live_server, browser):
    with live_server.app.app_context():
        broker = factories.user(Role.BROKER)
        firm = factories.org(OrgKind.ENTERPRISE, name="德化陶瓷有限公司")
        result = factories.result(title="陶瓷粉体烧结技术")
        cookie = live_server.session_cookie(broker, lang="zh")
        result_id, firm_id = result.id, firm.id
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(live_server.url(f"/deals/new?result_id={result_id}"))
    page.fill("#buyer_org_id-q", "德化")
    page.locator("button[name=_pick][value=buyer_org_id]").click()
    page.check(f"input[name=buyer_org_id][value='{firm_id}']")
    page.get_by_role("button", name="创建交易跟进").click()
    page.wait_for_url("**/deals/*")
    expect(page.locator("main")).to_contain_text("德化陶瓷有限公司")


def test_the_import_button_waits_for_the_valid_rows_box(live_server, browser):
    with live_server.app.app_context():
        cookie = live_server.session_cookie(factories.user(Role.STAFF), lang="zh")
        factories.org(OrgKind.UNIVERSITY, name="泉州理工大学")
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(live_server.url("/admin/imports/"))
    page.set_input_files("input[type=file]", files=[{"name": "results.csv", "mimeType": "text/csv",
                                                      "buffer": RESULT_CSV.encode()}])
    page.check("input[name=kind][value=result]")
    page.check("input[name=listing_status][value=published]")
    page.select_option("#organization_id", label="泉州理工大学")
    page.get_by_role("button", name="检查文件").click()
    button = page.locator("form.confirm-import button[type=submit]")
    expect(button).to_be_disabled()
    page.check("input[name=valid_only]")
    expect(button).to_be_enabled()
    page.uncheck("input[name=valid_only]")
    expect(button).to_be_disabled()


def test_the_funnel_legend_names_each_bar(live_server, browser):
    with live_server.app.app_context():
        cookie = live_server.session_cookie(factories.user(Role.STAFF), lang="en")
    context = browser.new_context(locale="en-US")
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(live_server.url("/stats/?lang=en"))
    stages = page.locator("#funnel tbody tr td:first-child").all_inner_texts()
    legend = page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart=funnel]'))"
                           ".data.datasets.map(d => d.label)")
    assert legend == stages and len(set(legend)) == len(legend) > 2


def test_a_broker_picks_the_side_they_act_for_as_they_type(live_server, browser):
    """The introduction form's "On behalf of" is the type-ahead picker: typing shows the matching
    organizations, choosing one fills the field, and the request goes out for that organization."""
    from models import Introduction

    with live_server.app.app_context():
        staff = factories.user(Role.STAFF)
        result = factories.result(status=ListingStatus.PENDING, title="陶瓷粉体烧结技术")
        lifecycle.approve_listing(staff, result)
        firm = factories.org(OrgKind.ENTERPRISE, name="德化陶瓷有限公司")
        cookie = live_server.session_cookie(factories.user(Role.BROKER), lang="zh")
        result_id, firm_id = result.id, firm.id
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 844})
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(live_server.url(f"/result/{result_id}"))
    box = page.locator("#introduction")
    assert box.locator("select").count() == 0
    box.locator("#counterpart_org_id-q").press_sequentially("德化")
    box.get_by_role("button", name="德化陶瓷有限公司").click()
    expect(box.locator("#counterpart_org_id-chosen")).to_have_text("德化陶瓷有限公司")
    box.locator("textarea[name=message]").fill("替德化陶瓷询问试用条件。")
    box.get_by_role("button", name="申请对接").click()
    expect(page.locator(".flash")).to_contain_text("已")
    with live_server.app.app_context():
        assert Session.query(Introduction).one().counterpart_org_id == firm_id
