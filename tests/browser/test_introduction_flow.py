"""An introduction in a real browser: the owner sees when to answer, accepts, and both sides get
each other's contacts and a way on to the deal."""
from __future__ import annotations

import pytest

from matchmaker.deals import introductions
from models import OrgKind, Role
from tests import factories

pytestmark = pytest.mark.browser


def test_accepting_an_introduction_leads_both_sides_on(live_server, browser):
    with live_server.app.test_request_context("/?lang=zh"):
        uni = factories.org(OrgKind.UNIVERSITY, name="泉州理工大学")
        firm = factories.org(OrgKind.ENTERPRISE, name="德化陶瓷有限公司")
        researcher = factories.user(Role.RESEARCHER, uni, name="林教授")
        enterprise = factories.user(Role.ENTERPRISE, firm, name="黄经理", phone="13800000000")
        result = factories.result(owner=researcher, title="陶瓷窑炉温控算法", confidential=True,
                                  contact_name="林教授", contact_phone="0595-12345678")
        intro = introductions.request(enterprise, introductions.RequestInput("result", result.id, "想在窑炉上试用。"))
        cookies = {user.id: live_server.session_cookie(user, lang="zh") for user in (researcher, enterprise)}
        owner_id, requester_id, intro_id = researcher.id, enterprise.id, intro.id

    def page_as(user_id):
        context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        context.add_cookies([cookies[user_id]])
        return context.new_page()

    owner = page_as(owner_id)
    owner.goto(live_server.url(f"/introductions/{intro_id}"))
    assert "请在" in owner.locator("#reply-by").inner_text()
    owner.get_by_role("button", name="接受对接").click()
    assert "13800000000" in owner.locator("#contacts").inner_text()  # the owner sees who asked

    requester = page_as(requester_id)
    requester.goto(live_server.url(f"/introductions/{intro_id}"))
    contacts = requester.locator("#contacts").inner_text()
    assert "林教授" in contacts and "0595-12345678" in contacts  # released by the acceptance
    steps = requester.locator("#next-steps")
    assert steps.get_by_role("link", name="给 林教授 发邮件").get_attribute("href").startswith("mailto:")
    steps.get_by_role("link", name="查看交易").click()
    requester.wait_for_url("**/deals/*")
    assert "陶瓷窑炉温控算法" in requester.locator("main").inner_text()
    assert requester.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
