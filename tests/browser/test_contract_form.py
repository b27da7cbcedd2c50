"""Recording a contract in a real browser: amounts are in 万元 like the rest of the site, a unit
written in the box wins, and a typo keeps everything typed."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import OrgKind, Role
from tests import factories

pytestmark = pytest.mark.browser


def test_a_clerk_types_60_and_records_60_wan_yuan(live_server, browser):
    with live_server.app.app_context():
        staff = factories.user(Role.STAFF, name="王科员")
        uni = factories.org(OrgKind.UNIVERSITY, name="泉州理工大学")
        firm = factories.org(OrgKind.ENTERPRISE, name="德化陶瓷有限公司")
        cookie = live_server.session_cookie(staff, lang="zh")
        uni_id, firm_id = uni.id, firm.id
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(live_server.url("/contracts/new"))
    assert "合同成交额（万元）" in page.locator("label[for=amount]").inner_text()
    page.select_option("#contract_type", "transfer")
    page.fill("#project_name", "陶瓷粉体专利转让")
    page.fill("#signing_date", "2025-03-18")
    # Organizations are picked by name as one types (core.pickers), never by number.
    page.locator("#seller_org_id-q").press_sequentially("泉州理工")
    page.get_by_role("button", name="泉州理工大学").click()
    expect(page.locator("#seller_org_id-chosen")).to_have_text("泉州理工大学")
    assert page.input_value("#seller_org_id") == str(uni_id)
    page.locator("#buyer_org_id-q").press_sequentially("德化")
    page.get_by_role("button", name="德化陶瓷有限公司").click()
    assert page.input_value("#buyer_org_id") == str(firm_id)
    page.locator("#amount").press_sequentially("60")  # typing shows what will be saved, before saving
    expect(page.locator("#amount-reads")).to_have_text("将保存为 ¥60万元。")
    page.fill("#amount", "60万万")
    page.locator("#amount").dispatch_event("input")
    expect(page.locator("#amount-reads")).to_contain_text("请输入以万元为单位的金额")
    page.fill("#tech_amount", "50")
    page.get_by_role("button", name="保存合同").click()
    error = page.locator(".field.has-error", has=page.locator("#amount"))
    assert "请输入以万元为单位的金额" in error.inner_text()
    assert page.input_value("#amount") == "60万万" and page.input_value("#project_name") == "陶瓷粉体专利转让"
    assert "将保存为 ¥50万元" in page.locator("#tech_amount-reads").inner_text()

    page.fill("#amount", "60")
    page.get_by_role("button", name="保存合同").click()
    page.wait_for_url("**/contracts/*")
    text = page.locator("main").inner_text()
    assert "¥60万元" in text and "¥50万元" in text
