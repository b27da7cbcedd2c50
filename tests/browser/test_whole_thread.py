"""The whole thread in a real browser, from an enterprise's own words to a registered contract counted once:
the enterprise writes its need with the assistant, staff publish it, the research result is suggested,
the enterprise asks for an introduction there, the researcher accepts, they write to each other, the deal
the acceptance opened waits on the broker's board; at a fair both register, staff place their meeting by
hand, mark it held and record a contract signed at the table (the same deal, not a second one); staff
register the contract from the deal; the fair report and the matching-efficiency page count it once.

The participants' part runs at phone width (375 px) and on a desktop; the staff's pages on a desktop."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from playwright.sync_api import expect

from matchmaker.fairs import fairs
from matchmaker.listings import lifecycle
from models import Contract, Deal, FairMeeting, ListingStatus, OrgKind, Role, Session, TechNeed
from models.fairs import FairStatus
from tests import factories

pytestmark = pytest.mark.browser

RESULT = "注塑机振动监测与故障预警系统"
NEED = "注塑机故障预警方案征集"
FAIR = "泉州智能制造成果对接会"
PROBLEM = "我们车间的注塑机经常突发故障停机，设备坏了才修太被动，想通过振动监测提前预警故障。"


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
    lifecycle.approve_listing(staff, result)  # indexed inline (JOBS_SYNC)
    # The bureau's fair, set up as staff do on /fairs/new and its page (the set-up screens have their own tests).
    day = date.today() + timedelta(days=10)
    fair = fairs.create_fair(staff, {"name": FAIR, "venue": "泉州会展中心", "start_date": day, "end_date": day,
                                     "meeting_minutes": 20})
    fairs.add_session(staff, fair.id, {"name": "上午", "day": day, "start_time": time(9), "end_time": time(11),
                                       "tables": 5})
    fairs.set_status(staff, fair.id, FairStatus.OPEN)
    return {"staff": staff, "researcher": researcher, "enterprise": enterprise, "broker": broker,
            "result": result.id, "fair": fair.id}


def _figure(page, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


@pytest.mark.parametrize("width", [375, 1280])
def test_from_own_words_to_one_contract_counted_once(live_server, browser, width):
    with live_server.app.test_request_context("/?lang=zh"):
        world = _setup()
        cookies = {name: live_server.session_cookie(world[name], lang="zh")
                   for name in ("staff", "researcher", "enterprise", "broker")}

    def page_as(name, phone=True):
        size = {"width": width, "height": 844} if phone else {"width": 1280, "height": 900}
        context = browser.new_context(locale="zh-CN", viewport=size)
        context.add_cookies([cookies[name]])
        return context.new_page()

    def fits(page) -> bool:
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # 1. The enterprise describes its problem in its own words and turns the draft into its need.
    enterprise = page_as("enterprise")
    enterprise.goto(live_server.url("/need/new"))
    enterprise.fill("#assist-problem", PROBLEM)
    enterprise.get_by_role("button", name="生成需求草稿").click()
    expect(enterprise.locator("#similar-results")).to_contain_text(RESULT)
    assert fits(enterprise)
    enterprise.fill("#need-draft #title", NEED)
    enterprise.get_by_role("button", name="使用此草稿").click()
    assert enterprise.input_value("#title") == NEED
    assert enterprise.input_value("#industry_section") == "C"
    enterprise.select_option("#region", "350500")
    enterprise.get_by_role("button", name="保存并提交审核").click()
    enterprise.wait_for_load_state()
    assert "审核中" in enterprise.content()
    with live_server.app.app_context():
        need_id = Session.query(TechNeed).filter_by(title=NEED).one().id
        Session.remove()

    # 2. Staff publish it; publishing matches it against the results.
    staff = page_as("staff", phone=False)
    staff.goto(live_server.url("/admin/review"))
    staff.locator("tr", has_text=NEED).get_by_role("button", name="审核通过并发布").click()
    staff.wait_for_load_state()

    # 3. The result is suggested on the need's page; the enterprise asks for an introduction from there.
    enterprise.goto(live_server.url(f"/need/{need_id}"))
    enterprise.locator("#listing-matches").get_by_role("link", name=RESULT).click()
    enterprise.wait_for_url(f"**/result/{world['result']}?*")
    enterprise.locator("#introduction textarea[name=message]").fill("我们有40台注塑机，想试用贵团队的预警系统。")
    enterprise.locator("#introduction").get_by_role("button", name="申请对接").click()
    enterprise.wait_for_load_state()
    enterprise.locator("#introduction").get_by_role("link", name="详情").click()
    enterprise.wait_for_url("**/introductions/*")
    intro_url = enterprise.url.split("?")[0].split("#")[0]

    # 4. The researcher accepts and writes; the enterprise answers.
    researcher = page_as("researcher")
    researcher.goto(intro_url)
    researcher.get_by_role("button", name="接受对接").click()
    researcher.wait_for_load_state()
    researcher.locator("#conversation textarea[name=body]").fill("欢迎！下周二上午可以来学院实验室看演示。")
    researcher.locator("#conversation").get_by_role("button", name="发送").click()
    researcher.wait_for_load_state()
    assert "消息已发送" in researcher.content()
    assert fits(researcher)
    enterprise.goto(intro_url)
    assert "下周二上午可以来学院实验室看演示" in enterprise.locator("#conversation ol.messages").inner_text()
    enterprise.locator("#conversation textarea[name=body]").fill("好的，我们在对接会上细谈。")
    enterprise.locator("#conversation").get_by_role("button", name="发送").click()
    enterprise.wait_for_load_state()
    assert "好的，我们在对接会上细谈。" in enterprise.locator("#conversation ol.messages").inner_text()
    assert fits(enterprise)

    # 5. The deal the acceptance opened is on the broker's board, in the queue every broker sees.
    broker = page_as("broker")
    broker.goto(live_server.url("/deals/board"))
    card = broker.locator(".deal-card", has_text=RESULT)
    expect(card).to_have_count(1)
    assert "晋江精密注塑有限公司" in card.inner_text()
    with live_server.app.app_context():
        deal_id, deal_need, deal_origin = Session.query(Deal.id, Deal.need_id, Deal.origin).one()
        assert (deal_need, deal_origin) == (need_id, "match")
        Session.remove()

    # 6. Both register for the fair with their listing.
    fair = world["fair"]
    for page, listing in ((researcher, RESULT), (enterprise, NEED)):
        page.goto(live_server.url(f"/fairs/{fair}/register"))
        page.locator("li", has_text=listing).locator("input[type=checkbox]").check()
        page.get_by_role("button", name="报名").click()
        expect(page.locator(".flash")).to_contain_text("报名")
        assert fits(page)

    # 7. Staff approve both, place their meeting by hand, mark it held and record a contract at the table.
    staff.goto(live_server.url(f"/fairs/{fair}/participants?status=pending"))
    staff.locator("input[data-select-all]").check()
    staff.get_by_role("button", name="通过所选").click()
    expect(staff.locator(".flash")).to_contain_text("已将 2 条报名设为")
    staff.goto(live_server.url(f"/fairs/{fair}/schedule"))
    staff.select_option("#a_id", label="林教授 · 华侨大学机电学院")
    staff.select_option("#b_id", label="黄经理 · 晋江精密注塑有限公司")
    staff.get_by_role("button", name="添加洽谈").click()
    expect(staff.locator(".flash")).to_contain_text("洽谈")
    staff.goto(live_server.url(f"/fairs/{fair}/meetings"))
    row = staff.locator("tbody tr", has_text="林教授")
    row.get_by_role("button", name="已举行").click()
    row = staff.locator("tbody tr", has_text="林教授")
    row.locator("select[name=outcome]").select_option("contract")
    row.locator("input[name=note]").fill("现场签约，合同额60万元")
    row.get_by_role("button", name="记录").click()
    expect(staff.locator(".flash")).to_contain_text("已")
    with live_server.app.app_context():
        deals = Session.query(Deal).all()
        meeting = Session.query(FairMeeting).one()
        assert [d.id for d in deals] == [deal_id]  # the fair outcome joined the thread's deal
        assert (deals[0].fair_id, deals[0].fair_meeting_id, deals[0].stage) == (fair, meeting.id, "contract_signed")
        Session.remove()

    # 8. Staff register the contract from the deal's page: the form comes filled in from the deal.
    staff.goto(live_server.url(f"/deals/{deal_id}"))
    staff.get_by_role("link", name="登记合同").click()
    staff.wait_for_url("**/contracts/new?*")
    staff.select_option("#contract_type", "transfer")
    staff.fill("#project_name", "注塑机故障预警系统技术转让")
    staff.fill("#signing_date", date.today().isoformat())
    staff.fill("#amount", "60")
    staff.fill("#tech_amount", "50")
    staff.get_by_role("button", name="保存合同").click()
    staff.wait_for_url("**/contracts/*")
    assert "¥60万元" in staff.locator("main").inner_text()
    with live_server.app.app_context():
        contract = Session.query(Contract).one()
        assert (contract.deal_id, contract.fair_id, contract.amount_fen) == (deal_id, fair, 60_000_000)
        Session.remove()

    # 9. The fair report counts it once, as a contract of the fair and as one its meeting led to.
    staff.goto(live_server.url(f"/fairs/{fair}/report"))
    assert _figure(staff, "#card-contracts .stat") == "1"
    assert "¥60万元" in staff.locator("#card-contracts").inner_text()
    assert _figure(staff, "#funnel-contracts td.num >> nth=0") == "1"
    assert "已登记合同：1 份，¥60万元" in _figure(staff, "#funnel p.small >> nth=0")
    assert _figure(staff, "#row-contracts-at-meetings td.num") == "1"

    # 10. The matching-efficiency page follows the introduction to the same contract, once.
    staff.goto(live_server.url("/stats/matching"))
    total = staff.locator("#by-origin tbody tr").first.locator("td")
    cells = [" ".join(t.split()) for t in total.all_inner_texts()]
    requested, accepted, deals_opened, won, contracts, amount = cells[1:7]
    assert (requested, accepted.split()[0], deals_opened, won.split()[0], contracts) == ("1", "1", "1", "1", "1")
    assert amount == "¥60万元"
    assert "1" not in staff.locator("#deals-by-origin tbody").inner_text()  # no second deal outside the thread
