"""One thread in a real browser, at phone width: an enterprise's need gets a research result suggested,
the enterprise asks for an introduction from that suggestion, the researcher accepts, both write to
each other with a PDF attached, propose a meeting and mark the intention signed, and the deal the
acceptance opened waits at that stage on the broker's board."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from matchmaker.listings import lifecycle
from models import Deal, IntroductionAttachment, ListingStatus, OrgKind, Role, Session
from tests import factories

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
RESULT = "注塑机振动监测与故障预警系统"
NEED = "注塑机突发故障停机，希望提前预警"


def _setup() -> dict:
    staff = factories.user(Role.STAFF, name="王科员")
    uni = factories.org(OrgKind.UNIVERSITY, name="华侨大学机电学院")
    firm = factories.org(OrgKind.ENTERPRISE, name="晋江精密注塑有限公司")
    researcher = factories.user(Role.RESEARCHER, uni, name="林教授", phone="0595-22690000")
    enterprise = factories.user(Role.ENTERPRISE, firm, name="黄经理", phone="13800000000")
    broker = factories.user(Role.BROKER, name="陈经纪")
    result = factories.result(owner=researcher, status=ListingStatus.PENDING, title=RESULT,
                              summary="通过振动与电流信号监测注塑机，在故障发生前预警。",
                              description="采集注塑机振动、电流信号，用机器学习模型识别异常，提前数天预警故障。",
                              keywords=["振动监测", "故障预警", "注塑机"])
    need = factories.need(owner=enterprise, status=ListingStatus.PENDING, title=NEED,
                          summary="车间注塑机经常突发故障停机。",
                          description="车间有40台注塑机，目前坏了才修，想通过振动和电流监测提前发现异常，实现故障预警。",
                          keywords=["故障预警", "注塑机", "振动监测"])
    for listing in (result, need):  # published as staff would: the outbox indexes and matches them
        lifecycle.approve_listing(staff, listing)
    return {"researcher": researcher, "enterprise": enterprise, "broker": broker, "need": need.id,
            "result": result.id}


@pytest.mark.parametrize("width", [375, 1280])
def test_need_to_suggestion_to_conversation_to_the_brokers_board(live_server, browser, tmp_path: Path, width):
    with live_server.app.test_request_context("/?lang=zh"):
        world = _setup()
        cookies = {name: live_server.session_cookie(world[name], lang="zh")
                   for name in ("researcher", "enterprise", "broker")}

    def page_as(name):
        context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 844})
        context.add_cookies([cookies[name]])
        return context.new_page()

    def fits(page) -> bool:
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The enterprise finds the result among its need's suggestions and asks for an introduction there.
    enterprise = page_as("enterprise")
    enterprise.goto(live_server.url(f"/need/{world['need']}"))
    enterprise.locator("#listing-matches").get_by_role("link", name=RESULT).click()
    enterprise.wait_for_url(f"**/result/{world['result']}?*")
    enterprise.locator("#introduction textarea[name=message]").fill("我们有40台注塑机，想试用贵团队的预警系统。")
    enterprise.locator("#introduction").get_by_role("button", name="申请对接").click()
    enterprise.wait_for_load_state()
    intro_link = enterprise.locator("#introduction").get_by_role("link", name="详情")
    intro_link.click()
    enterprise.wait_for_url("**/introductions/*")
    intro_url = enterprise.url.split("?")[0].split("#")[0]
    assert 'id="conversation"' not in enterprise.content()  # nothing to talk about before the answer

    # The researcher accepts and writes first, with a PDF.
    researcher = page_as("researcher")
    researcher.goto(intro_url)
    researcher.get_by_role("button", name="接受对接").click()
    researcher.wait_for_load_state()
    conversation = researcher.locator("#conversation")
    conversation.locator("textarea[name=body]").fill("欢迎！<b>下周二</b>上午可以来学院实验室看演示。")
    pdf = tmp_path / "预警系统报价.pdf"
    pdf.write_bytes(PDF)
    conversation.locator("input[name=file]").set_input_files(str(pdf))
    conversation.get_by_role("button", name="发送").click()
    researcher.wait_for_load_state()
    assert "消息已发送" in researcher.content()
    assert fits(researcher)

    # The enterprise reads it (markup shown as typed), sees the file with its size, downloads it, answers.
    enterprise.goto(intro_url)
    messages = enterprise.locator("#conversation ol.messages")
    assert "欢迎！<b>下周二</b>上午可以来学院实验室看演示。" in messages.inner_text()
    files = enterprise.locator("#files").inner_text()
    assert "预警系统报价.pdf" in files and f"{len(PDF)} B" in files and "林教授" in files
    with enterprise.expect_download() as download:
        enterprise.locator("#files").get_by_role("link", name="预警系统报价.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    enterprise.locator("#conversation textarea[name=body]").fill("好的，周二上午十点见。")
    enterprise.locator("#conversation").get_by_role("button", name="发送").click()
    enterprise.wait_for_load_state()
    assert "好的，周二上午十点见。" in enterprise.locator("#conversation ol.messages").inner_text()
    assert fits(enterprise)
    # Next steps: a meeting proposed for a day and time, then the intention marked signed.
    day = (date.today() + timedelta(days=7)).isoformat()
    meeting = enterprise.locator("#propose-meeting")
    meeting.locator("input[name=day]").fill(day)
    meeting.locator("input[name=at]").fill("10:00")
    meeting.locator("input[name=note]").fill("华侨大学机电学院实验室")
    meeting.get_by_role("button", name="提议此次会面").click()
    enterprise.wait_for_load_state()
    assert f"提议于 {day} 10:00 会面。" in enterprise.locator("#conversation ol.messages").inner_text()
    enterprise.locator("#next-steps").get_by_role("button", name="标记意向已签").click()
    enterprise.wait_for_load_state()
    assert "已标记意向已签。" in enterprise.locator("#conversation ol.messages").inner_text()
    assert enterprise.locator("#next-steps").get_by_role("button", name="标记意向已签").count() == 0
    assert fits(enterprise)
    # The bell tells the researcher of the answer.
    researcher.goto(live_server.url("/notifications/"))
    assert "黄经理 就「" in researcher.locator("main").inner_text()

    with live_server.app.app_context():
        deal = Session.query(Deal).one()
        assert (deal.need_id, deal.origin, deal.broker_id, deal.stage) == (
            world["need"], "match", None, "intention_signed")
        assert Session.query(IntroductionAttachment).count() == 1
        Session.remove()

    # The deal waits in the unassigned queue every broker sees on the board.
    broker = page_as("broker")
    broker.goto(live_server.url("/deals/board"))
    card = broker.locator("section.column[aria-label='已签意向'] .deal-card", has_text=RESULT)
    assert "华侨大学机电学院" in card.inner_text() and "晋江精密注塑有限公司" in card.inner_text()
    assert fits(broker) or width > 400  # the board scrolls sideways on a desktop by design
