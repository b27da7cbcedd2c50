"""A fair in a real browser: a researcher requests a meeting, the enterprise accepts, staff run the
scheduler, and the printed schedule shows the meeting with its time and table."""
from __future__ import annotations

from datetime import date, time

import pytest

from matchmaker.fairs import fairs
from models import Role
from models.fairs import FairStatus, RegistrationStatus
from tests import factories

pytestmark = pytest.mark.browser


def _setup() -> dict:
    staff = factories.user(Role.STAFF, name="王科员")
    researcher = factories.user(Role.RESEARCHER, name="林教授")
    enterprise = factories.user(Role.ENTERPRISE, name="黄经理")
    result = factories.result(owner=researcher, title="设备故障预测算法", keywords=["故障预测"])
    need = factories.need(owner=enterprise, title="想在设备出故障前就知道", keywords=["故障预测"])
    day = date(2031, 5, 20)
    fair = fairs.create_fair(staff, {"name": "泉州科技成果对接会", "venue": "泉州会展中心", "start_date": day,
                                     "end_date": day, "meeting_minutes": 20})
    fairs.add_session(staff, fair.id, {"name": "上午", "day": day, "start_time": time(9), "end_time": time(10),
                                       "tables": 3})
    fairs.set_status(staff, fair.id, FairStatus.OPEN)
    people = {}
    for user, ptype, key in ((researcher, "research", "result_ids"), (enterprise, "enterprise", "need_ids")):
        listing = result if ptype == "research" else need
        p = fairs.register(user, fair.id, fairs.Registration(name=user.name, email=user.email,
                                                             participant_type=ptype, **{key: [listing.id]}))
        fairs.set_registration_status(staff, p.id, RegistrationStatus.VALIDATED)
        people[f"{ptype}_participant"] = p.id
    return {"staff": staff, "researcher": researcher, "enterprise": enterprise, "fair": fair.id, **people}


def test_request_accept_schedule_and_print(live_server, browser):
    with live_server.app.test_request_context("/?lang=zh"):
        world = _setup()

    def page_as(user):
        context = browser.new_context(locale="zh-CN")
        context.add_cookies([live_server.session_cookie(user, lang="zh")])
        return context.new_page()

    fair = world["fair"]
    researcher = page_as(world["researcher"])
    researcher.goto(live_server.url(f"/fairs/{fair}/suggestions"))
    card = researcher.locator(".suggestion", has_text="黄经理")
    card.locator("textarea").fill("想了解贵公司设备运维的数据情况")
    card.get_by_role("button", name="发起洽谈邀请").click()
    assert "洽谈邀请已发送" in researcher.locator(".flash").inner_text()

    enterprise = page_as(world["enterprise"])
    enterprise.goto(live_server.url(f"/fairs/{fair}/requests"))
    row = enterprise.locator("tr", has_text="想了解贵公司设备运维的数据情况")
    row.get_by_role("button", name="接受").click()
    assert "已接受" in enterprise.locator(".flash").inner_text()

    staff = page_as(world["staff"])
    staff.goto(live_server.url(f"/fairs/{fair}/schedule"))
    staff.locator("#run-scheduler").click()
    staff.wait_for_selector("#schedule-figures")
    assert "已安排 1 场洽谈，最多可安排 1 场" in staff.locator("#schedule-figures").inner_text()

    staff.goto(live_server.url(f"/fairs/participants/{world['research_participant']}/schedule"))
    sheet = staff.locator(f"#schedule-{world['research_participant']}")
    text = sheet.inner_text()
    assert "黄经理" in text and "号桌" in text and "09:" in text
    assert "设备故障预测算法" in text
    assert sheet.locator(".qr svg").count() == 1
    staff.emulate_media(media="print")
    assert staff.locator(".site-header").is_hidden()


def test_checkbox_lists_are_rows_of_box_and_label(live_server, browser):
    """Each option of a checkbox list sits on one line, the box left of its label, with no bullet."""
    with live_server.app.test_request_context("/?lang=zh"):
        world = _setup()
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([live_server.session_cookie(world["enterprise"], lang="zh")])
    page = context.new_page()
    page.goto(live_server.url(f"/fairs/{world['fair']}/register"))
    for name in ("need_ids", "sessions"):
        items = page.locator(f"ul#{name} > li")
        assert items.count() >= 1
        for i in range(items.count()):
            item = items.nth(i)
            assert item.evaluate("li => getComputedStyle(li).listStyleType") == "none"
            box = item.locator("input[type=checkbox]").bounding_box()
            label = item.locator("label").bounding_box()
            assert box["x"] + box["width"] <= label["x"]  # the box is left of its label
            middle = box["y"] + box["height"] / 2
            assert label["y"] <= middle <= label["y"] + label["height"]  # on the same line
        # Clicking the label ticks its box.
        first = items.nth(0)
        checked = first.locator("input").is_checked()
        first.locator("label").click()
        assert first.locator("input").is_checked() != checked
    assert page.get_by_role("button", name="报名").count() == 1


def test_staff_approve_waiting_registrations_in_bulk(live_server, browser):
    with live_server.app.test_request_context("/?lang=zh"):
        world = _setup()
        for i in range(3):
            user = factories.user(Role.ENTERPRISE, name=f"待审{i}")
            fairs.register(user, world["fair"], fairs.Registration(name=user.name, email=user.email,
                                                                   participant_type="enterprise"))
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([live_server.session_cookie(world["staff"], lang="zh")])
    page = context.new_page()
    page.goto(live_server.url(f"/fairs/{world['fair']}/participants?status=pending"))
    assert page.locator("input[name=participant_ids]").count() == 3
    page.locator("input[data-select-all]").check()  # ticks every shown registration
    page.get_by_role("button", name="通过所选").click()
    assert "已将 3 条报名设为" in page.locator(".flash").inner_text()
    page.goto(live_server.url(f"/fairs/{world['fair']}/participants?status=pending"))
    assert page.locator("input[name=participant_ids]").count() == 0


def test_checkin_desk_counts_down_who_is_still_missing(live_server, browser):
    with live_server.app.test_request_context("/?lang=zh"):
        world = _setup()
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.add_cookies([live_server.session_cookie(world["staff"], lang="zh")])
    page = context.new_page()
    page.goto(live_server.url(f"/fairs/{world['fair']}/checkin"))
    desk = page.locator("#still-missing")
    assert "已签到 0 位，尚有 2 位未到" in desk.locator("#checkin-count").inner_text()
    desk.locator("tr", has_text="林教授").get_by_role("button", name="签到").click()
    assert "林教授" in page.locator(".flash").inner_text()
    desk = page.locator("#still-missing")
    assert "已签到 1 位，尚有 1 位未到" in desk.locator("#checkin-count").inner_text()
    assert desk.locator("tr", has_text="林教授").count() == 0 and desk.locator("tr", has_text="黄经理").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll on a phone
