"""A newcomer in a real browser: registers, logs in, posts a need, submits it; staff approve it;
everyone then finds it in the public list of needs."""
from __future__ import annotations

import pytest

from models import Role, Session, TechNeed
from tests import factories

pytestmark = pytest.mark.browser

TITLE = "注塑机预测性维护方案征集"


def _log_in(page, live_server, email: str, password: str) -> None:
    page.goto(live_server.url("/account/login"))
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="登录").last.click()
    page.wait_for_load_state()


def test_register_post_need_and_see_it_published_after_review(live_server, browser):
    with live_server.app.app_context():
        staff = factories.user(Role.STAFF, email="reviewer@bureau.cn", name="审核员")
        staff_email = staff.email

    newcomer = browser.new_context(locale="zh-CN").new_page()
    newcomer.goto(live_server.url("/account/register"))
    newcomer.fill("#email", "newcomer@factory.cn")
    newcomer.fill("#name", "郑工程师")
    newcomer.fill("#password", "a-long-password-1")
    newcomer.fill("#confirm", "a-long-password-1")
    newcomer.check("input[name=role][value=enterprise]")
    newcomer.check("input[name=org_mode][value=new]")
    newcomer.fill("#org_name", "晋江精密注塑有限公司")
    newcomer.select_option("#org_kind", "enterprise")
    newcomer.select_option("#org_entity_type", "150")
    newcomer.select_option("#org_region", "350500")
    newcomer.get_by_role("button", name="注册").last.click()
    newcomer.wait_for_load_state()
    # Registration logs in; log out and back in through the login page like a returning user.
    newcomer.get_by_role("button", name="退出").click()
    _log_in(newcomer, live_server, "newcomer@factory.cn", "a-long-password-1")
    assert "郑工程师" in newcomer.locator(".who").inner_text()

    newcomer.goto(live_server.url("/need/new"))
    newcomer.fill("#title", TITLE)
    newcomer.fill("#summary", "注塑机经常突发故障停机，希望在故障前预警。")
    newcomer.fill("#description", "车间有40台注塑机，目前坏了才修，想通过振动和电流监测提前发现异常。")
    newcomer.select_option("#industry_section", "C")
    newcomer.select_option("#region", "350500")
    newcomer.get_by_role("button", name="保存并提交审核").click()
    newcomer.wait_for_load_state()
    assert "审核中" in newcomer.content()

    anonymous = browser.new_context(locale="zh-CN").new_page()
    anonymous.goto(live_server.url("/needs"))
    assert TITLE not in anonymous.content()  # not public before review

    reviewer = browser.new_context(locale="zh-CN").new_page()
    _log_in(reviewer, live_server, staff_email, factories.PASSWORD)
    reviewer.goto(live_server.url("/admin/review"))
    row = reviewer.locator("tr", has_text=TITLE)
    row.get_by_role("button", name="审核通过并发布").click()
    reviewer.wait_for_load_state()

    with live_server.app.app_context():
        need = Session.query(TechNeed).filter_by(title=TITLE).one()
        assert need.status == "published"
        Session.remove()

    anonymous.goto(live_server.url("/needs"))
    assert TITLE in anonymous.content()
    anonymous.get_by_role("link", name=TITLE).first.click()
    assert "注塑机经常突发故障停机" in anonymous.content()
