"""The deal pipeline: opening (idempotent per fair meeting), the board, stage changes with history,
next-action reminders, and who may see or change a deal."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from matchmaker.core import jobs
from matchmaker.deals import deals
from models import AuditLog, Deal, DealStage, DealStageChange, Notification, Session

from .conftest import make_fair, make_fair_meeting


@pytest.fixture
def deal(make, people):
    result = make.result(owner=people["researcher"], title="海水淡化膜材料")
    return deals.open_deal(result.id, None, people["uni"].id, people["firm"].id, people["broker"].id, "match",
                           stage=DealStage.INTRODUCED, actor_id=people["broker"].id)


def test_open_deal_from_a_fair_meeting_is_idempotent_and_moves_forward(make, people):
    result = make.result(owner=people["researcher"])
    fair = make_fair()
    meeting = make_fair_meeting(fair, people["uni"].id, people["firm"].id)
    args = (result.id, None, people["uni"].id, people["firm"].id, people["broker"].id, "fair")
    first = deals.open_deal(*args, fair_id=fair.id, fair_meeting_id=meeting.id, actor_id=people["staff"].id)
    again = deals.open_deal(*args, fair_id=fair.id, fair_meeting_id=meeting.id, actor_id=people["staff"].id)
    assert first.id == again.id and Session.query(Deal).count() == 1
    assert first.stage == DealStage.MEETING_HELD
    later = deals.open_deal(*args, fair_id=fair.id, fair_meeting_id=meeting.id, stage="intention_signed")
    assert later.id == first.id and later.stage == DealStage.INTENTION_SIGNED
    earlier = deals.open_deal(*args, fair_id=fair.id, fair_meeting_id=meeting.id, stage="introduced")
    assert earlier.stage == DealStage.INTENTION_SIGNED  # never backwards
    assert [c.to_stage for c in first.stage_changes] == ["meeting_held", "intention_signed"]


def test_a_fair_outcome_for_a_pair_with_a_deal_adds_to_that_deal(make, people):
    """One thread: the introduction's deal gains the fair and the meeting instead of a second deal."""
    result = make.result(owner=people["researcher"])
    need = make.need(owner=people["enterprise"])
    uni, firm = people["uni"].id, people["firm"].id
    from_intro = deals.open_deal(result.id, None, uni, firm, None, "match", stage=DealStage.INTRODUCED)
    fair = make_fair()
    meeting = make_fair_meeting(fair, uni, firm)
    from_fair = deals.open_deal(result.id, need.id, uni, firm, people["broker"].id, "fair", fair_id=fair.id,
                                fair_meeting_id=meeting.id, stage=DealStage.INTENTION_SIGNED)
    assert from_fair.id == from_intro.id and Session.query(Deal).count() == 1
    assert (from_fair.fair_id, from_fair.fair_meeting_id, from_fair.need_id, from_fair.broker_id) == (
        fair.id, meeting.id, need.id, people["broker"].id)
    assert from_fair.stage == DealStage.INTENTION_SIGNED and from_fair.origin == "match"
    # Another buyer, or a lost deal, is another thread.
    other = deals.open_deal(result.id, None, uni, people["other_firm"].id, None, "search")
    assert other.id != from_intro.id


def test_an_unassigned_deal_is_on_every_brokers_board_until_one_takes_it(client, auth, make, people):
    result = make.result(owner=people["researcher"], title="无人认领的膜材料")
    deal = deals.open_deal(result.id, None, people["uni"].id, people["firm"].id, None, "match",
                           stage=DealStage.INTRODUCED)
    for broker in ("broker", "other_broker"):
        auth.login(people[broker])
        assert "无人认领的膜材料" in client.get("/deals/board").get_data(as_text=True)
    response = client.post(f"/deals/{deal.id}/stage", data={"stage": "negotiating", "note": ""})
    assert response.status_code == 302
    Session.refresh(deal)
    assert deal.broker_id == people["other_broker"].id
    auth.login(people["broker"])
    assert "无人认领的膜材料" not in client.get("/deals/board").get_data(as_text=True)
    assert client.post(f"/deals/{deal.id}/stage", data={"stage": "introduced"}).status_code in (403, 404)


def test_the_broker_sees_the_deal_on_the_board_in_its_stage(client, auth, people, deal):
    auth.login(people["broker"])
    page = client.get("/deals/board?lang=en").get_data(as_text=True)
    column = page[page.index('aria-label="Introduced"'):page.index('aria-label="Meeting held"')]
    assert "海水淡化膜材料" in column
    auth.login(people["other_broker"])
    assert "海水淡化膜材料" not in client.get("/deals/board").get_data(as_text=True)


def test_stage_changes_are_timestamped_and_audited(client, auth, people, deal):
    auth.login(people["broker"])
    response = client.post(f"/deals/{deal.id}/stage", data={"stage": "negotiating", "note": "对方要求降价"})
    assert response.status_code == 302
    change = Session.query(DealStageChange).filter_by(deal_id=deal.id, to_stage="negotiating").one()
    assert change.from_stage == "introduced" and change.actor_id == people["broker"].id and change.at is not None
    assert Session.query(AuditLog).filter_by(action="deal.stage", entity_id=deal.id).count() == 1
    page = client.get(f"/deals/{deal.id}?lang=en").get_data(as_text=True)
    assert "对方要求降价" in page and "Negotiating" in page


def test_a_lost_deal_needs_a_reason(client, auth, people, deal):
    auth.login(people["broker"])
    refused = client.post(f"/deals/{deal.id}/stage?lang=en", data={"stage": "lost"})
    assert refused.status_code == 400 and "Say why the deal was lost." in refused.get_data(as_text=True)
    client.post(f"/deals/{deal.id}/stage", data={"stage": "lost", "lost_reason": "price"})
    Session.expire_all()
    assert (deal.stage, deal.lost_reason) == ("lost", "price")


def test_notes_and_next_action_reminders(client, auth, people, deal):
    auth.login(people["broker"])
    client.post(f"/deals/{deal.id}/notes", data={"body": "已电话沟通，下周面谈"})
    yesterday = date.today() - timedelta(days=1)
    client.post(f"/deals/{deal.id}/next-action", data={"next_action": "寄送样品", "next_action_date": yesterday})
    assert jobs.run_now("deals.remind_next_actions") == 1
    assert jobs.run_now("deals.remind_next_actions") == 0
    note = Session.query(Notification).filter_by(user_id=people["broker"].id, kind="deal.next_action_due").one()
    assert note.params["action"] == "寄送样品"
    overdue = client.get("/deals/?overdue=1").get_data(as_text=True)
    assert "海水淡化膜材料" in overdue and "已电话沟通" in client.get(f"/deals/{deal.id}").get_data(as_text=True)


@pytest.mark.parametrize("viewer, view, change", [
    ("broker", 200, 302), ("staff", 200, 302), ("researcher", 200, 403), ("enterprise", 200, 403),
    ("outsider", 404, 404), ("other_broker", 404, 404),
])
def test_parties_see_their_deals_and_others_get_404(client, auth, people, deal, viewer, view, change):
    auth.login(people[viewer])
    assert client.get(f"/deals/{deal.id}").status_code == view
    assert client.post(f"/deals/{deal.id}/stage", data={"stage": "meeting_held"}).status_code == change


def test_a_broker_opens_a_deal_by_hand(client, auth, people, make):
    result = make.result(owner=people["researcher"])
    auth.login(people["broker"])
    bad = client.post("/deals/new?lang=en", data={"result_id": "99999", "buyer_org_id": str(people["firm"].id),
                                                  "origin": "offline", "stage": "introduced"})
    assert bad.status_code == 400 and "No research result has this number." in bad.get_data(as_text=True)
    draft = make.result(owner=people["researcher"], title="未发布的草稿", status="draft")
    hidden = client.post("/deals/new?lang=en", data={"result_id": str(draft.id), "buyer_org_id": str(people["firm"].id),
                                                     "origin": "offline", "stage": "introduced"})
    assert hidden.status_code == 400 and "No research result has this number." in hidden.get_data(as_text=True)
    assert "未发布的草稿" not in hidden.get_data(as_text=True) and Session.query(Deal).count() == 0
    secret = make.result(owner=people["researcher"], title="保密的成果", confidential=True)
    refused = client.post("/deals/new?lang=en", data={"result_id": str(secret.id),
                                                      "buyer_org_id": str(people["firm"].id),
                                                      "origin": "offline", "stage": "introduced"})
    assert refused.status_code == 400 and "This listing is confidential" in refused.get_data(as_text=True)
    assert Session.query(Deal).count() == 0
    ok = client.post("/deals/new", data={"result_id": str(result.id), "buyer_org_id": str(people["firm"].id),
                                         "origin": "offline", "stage": "meeting_held"})
    assert ok.status_code == 302
    made = Session.query(Deal).one()
    assert (made.broker_id, made.seller_org_id, made.origin) == (people["broker"].id, people["uni"].id, "offline")
    auth.login(people["researcher"])
    assert client.get("/deals/board").status_code == 403


def test_a_broker_finds_the_listings_by_title_instead_of_typing_numbers(client, auth, people, make):
    result = make.result(owner=people["researcher"], title="海水淡化膜材料")
    need = make.need(owner=people["enterprise"], title="电镀废水零排放")
    make.result(owner=people["researcher"], title="海水养殖网箱", status="draft")  # never offered
    auth.login(people["broker"])
    page = client.get("/deals/new?lang=en&find_result=海水").get_data(as_text=True)
    picks = page[page.index('id="pick-result"'):]
    assert "海水淡化膜材料" in picks and "海水养殖网箱" not in page
    link = f"/deals/new?result_id={result.id}"
    assert link in picks.replace("&amp;", "&")
    chosen = client.get(f"/deals/new?lang=en&result_id={result.id}&find_need=废水").get_data(as_text=True)
    assert "Chosen: 海水淡化膜材料" in chosen
    assert f"result_id={result.id}&amp;need_id={need.id}" in chosen  # choosing the need keeps the result
    none = client.get("/deals/new?lang=en&find_need=%25%27%22").get_data(as_text=True)
    assert "No published listing matches these words." in none
