"""Pickers instead of typed numbers: the contract form chooses organizations, deal, listings and fair by
name, with type-ahead (JSON) and without JavaScript (the Find button posts the form back and lists the
matches). No match, 1,000 matches (capped: refine), quotes and percent signs (taken literally)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from models import Contract, ListingStatus, Organization, OrgKind, Session
from tests.deals.conftest import make_fair


def _orgs(names: list[str]) -> None:
    Session.execute(sa.insert(Organization), [{"name": n, "kind": OrgKind.ENTERPRISE} for n in names])
    Session.commit()


def test_type_ahead_finds_organizations_by_name_and_says_when_nothing_matches(client, auth, people):
    auth.login(people["staff"])
    found = client.get("/pick/organization", query_string={"q": people["firm"].name[:3]}).get_json()
    assert people["firm"].id in [item["id"] for item in found["items"]]
    none = client.get("/pick/organization?q=不存在的机构名称&lang=en").get_json()
    assert none["items"] == [] and "Nothing matches" in none["message"]


def test_a_thousand_matches_are_capped_with_a_hint_to_refine(client, auth, people):
    _orgs([f"泉州测试企业{n:04d}" for n in range(1000)])
    auth.login(people["staff"])
    answer = client.get("/pick/organization?q=泉州测试企业&lang=en").get_json()
    assert len(answer["items"]) == 20 and answer["more"] is True
    assert "refine your search" in answer["message"]
    narrowed = client.get("/pick/organization?q=泉州测试企业0999").get_json()
    assert [item["label"] for item in narrowed["items"]] == ["泉州测试企业0999"] and narrowed["more"] is False


def test_quotes_percent_signs_and_underscores_are_matched_literally(client, auth, people):
    _orgs(['100% "Green" Motors', "100 Motors", "A_B Lab", "AxB Lab", "O'Neil 材料"])
    auth.login(people["staff"])

    def labels(q: str) -> list[str]:
        return [item["label"] for item in client.get("/pick/organization", query_string={"q": q}).get_json()["items"]]

    assert labels("%") == ['100% "Green" Motors']
    assert labels('"Green"') == ['100% "Green" Motors']
    assert labels("_") == ["A_B Lab"]
    assert labels("O'Neil") == ["O'Neil 材料"]
    assert labels("\\") == []


def test_without_javascript_find_lists_the_matches_and_saves_nothing(client, auth, people, contract_values):
    fair = make_fair("2025泉州秋季对接会")
    auth.login(people["staff"])
    page = client.post("/contracts/new?lang=en", data={**contract_values, "fair_id": "",
                                                        "_pick": "fair_id", "fair_id__q": "秋季"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(rf'type="radio" name="fair_id" value="{fair.id}"', html)
    assert 'value="高效电机控制专利转让"' in html  # what was typed stays
    assert Session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0
    # The chosen fair is saved with the contract and shown by name.
    saved = client.post("/contracts/new", data={**contract_values, "fair_id": str(fair.id)})
    assert saved.status_code == 302
    assert Session.scalar(sa.select(Contract.fair_id)) == fair.id
    edit = client.get(saved.headers["Location"] + "/edit?lang=en").get_data(as_text=True)
    assert "Chosen:" in edit and "2025泉州秋季对接会" in edit


def test_find_with_no_match_and_with_only_symbols_says_so(client, auth, people, contract_values):
    auth.login(people["staff"])
    for text in ("没有这个机构", "%%%"):
        html = client.post("/contracts/new?lang=en", data={**contract_values, "_pick": "buyer_org_id",
                                                            "buyer_org_id__q": text}).get_data(as_text=True)
        assert "Nothing matches" in html and 'type="radio" name="buyer_org_id"' not in html


def test_listing_pickers_show_what_the_user_may_see_and_a_number_finds_its_record(client, auth, make, people):
    published = make.result(title="高效电机控制技术", status=ListingStatus.PUBLISHED)
    draft = make.result(title="高效电机控制草稿", status=ListingStatus.DRAFT)
    auth.login(people["broker"])
    found = [i["id"] for i in client.get("/pick/result?q=高效电机").get_json()["items"]]
    assert published.id in found and draft.id not in found
    assert [i["id"] for i in client.get(f"/pick/result?q=%23{published.id}").get_json()["items"]] == [published.id]
    assert client.get(f"/pick/result?q={draft.id}").get_json()["items"] == []


def test_deals_are_picked_only_by_those_who_manage_them(client, auth, people):
    auth.login(people["enterprise"])
    assert client.get("/pick/deal?q=x").status_code == 403
    auth.logout()
    assert client.get("/pick/organization?q=x").status_code == 302  # sign in first


def test_the_contract_list_search_takes_a_percent_sign_literally(client, auth, people, contract_values):
    auth.login(people["staff"])
    client.post("/contracts/new", data=contract_values)
    html = client.get("/contracts/?q=%25&lang=en").get_data(as_text=True)
    assert "高效电机控制专利转让" not in html
    assert "高效电机控制专利转让" in client.get("/contracts/?q=电机").get_data(as_text=True)


def test_a_broker_picks_the_buyer_by_name_when_opening_a_deal(client, auth, make, people):
    result = make.result(owner=people["researcher"], title="海水淡化膜材料")
    auth.login(people["broker"])
    form = {"result_id": str(result.id), "need_id": "", "origin": "offline", "stage": "introduced"}
    found = client.post("/deals/new?lang=en", data={**form, "_pick": "buyer_org_id",
                                                    "buyer_org_id__q": people["other_firm"].name})
    assert found.status_code == 200
    html = found.get_data(as_text=True)
    assert re.search(rf'type="radio" name="buyer_org_id" value="{people["other_firm"].id}"', html)
    assert "Chosen: 海水淡化膜材料" in html  # the chosen result stays
    from models import Deal
    assert Session.scalar(sa.select(sa.func.count()).select_from(Deal)) == 0
    opened = client.post("/deals/new", data={**form, "buyer_org_id": str(people["other_firm"].id)})
    assert opened.status_code == 302
    assert Session.scalar(sa.select(Deal.buyer_org_id)) == people["other_firm"].id


def test_a_deal_without_a_chosen_result_says_how_to_choose_it(client, auth, people):
    auth.login(people["broker"])
    html = client.post("/deals/new?lang=en", data={"result_id": "", "origin": "offline",
                                                    "stage": "introduced"}).get_data(as_text=True)
    assert "Choose the research result with the search above." in html


def test_a_number_no_table_can_hold_is_shown_as_nothing_chosen(client, auth, people, contract_values):
    auth.login(people["staff"])
    response = client.post("/contracts/new?lang=en", data={**contract_values, "deal_id": "9" * 30})
    assert response.status_code == 400
    assert Session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0


def test_staff_pick_the_organization_a_listing_is_filed_for(client, auth, people):
    from models import TechNeed
    auth.login(people["staff"])
    form = {"title": "陶瓷窑炉节能改造", "summary": "窑炉能耗高", "language": "zh", "save": "1"}
    found = client.post("/need/new?lang=en", data={**form, "_pick": "organization_id",
                                                     "organization_id__q": people["firm"].name})
    html = found.get_data(as_text=True)
    assert re.search(rf'type="radio" name="organization_id" value="{people["firm"].id}"', html)
    assert Session.scalar(sa.select(sa.func.count()).select_from(TechNeed)) == 0
    saved = client.post("/need/new", data={**form, "organization_id": str(people["firm"].id)})
    assert saved.status_code == 302
    need = Session.scalar(sa.select(TechNeed))
    assert need.organization_id == people["firm"].id
    edit = client.get(f"/need/{need.id}/edit?lang=en").get_data(as_text=True)
    assert "Chosen:" in edit and people["firm"].name in edit


def test_a_broker_picks_only_the_deals_on_their_board(client, auth, make, people):
    """Another broker's deal (its result and buyer) stays off a broker's picker, as it is off their
    board; unassigned deals and their own are found."""
    from matchmaker.deals import deals as deal_service

    result = make.result(owner=people["researcher"], title="稀土永磁电机回收工艺")
    theirs = deal_service.open_deal(result.id, None, people["uni"].id, people["firm"].id,
                                    people["other_broker"].id, "offline")
    mine = deal_service.open_deal(result.id, None, people["uni"].id, people["other_firm"].id,
                                  people["broker"].id, "offline")
    queued = deal_service.open_deal(result.id, None, people["uni"].id, make.org(OrgKind.ENTERPRISE).id,
                                    None, "offline")
    Session.commit()
    auth.login(people["broker"])
    found = [item["id"] for item in client.get("/pick/deal?q=稀土永磁").get_json()["items"]]
    assert len({theirs.id, mine.id, queued.id}) == 3
    assert mine.id in found and queued.id in found
    assert theirs.id not in found
    assert theirs.id not in [item["id"] for item in client.get(f"/pick/deal?q={theirs.id}").get_json()["items"]]
    auth.login(people["staff"])
    assert theirs.id in [item["id"] for item in client.get("/pick/deal?q=稀土永磁").get_json()["items"]]


def test_the_deal_picker_runs_as_many_queries_for_twenty_deals_as_for_two(client, auth, make, people):
    from matchmaker.deals import deals as deal_service
    from tests.sql_count import statements

    def open_deals(n: int) -> None:
        for _ in range(n):
            result = make.result(owner=people["researcher"], title="碳化硅功率器件封装")
            deal_service.open_deal(result.id, None, people["uni"].id, make.org(OrgKind.ENTERPRISE).id, None, "offline")
        Session.commit()

    def statements_for_search() -> int:
        with statements() as seen:
            assert len(client.get("/pick/deal?q=碳化硅").get_json()["items"]) == Session.query(Deal).count()
        return len(seen)

    from models import Deal

    auth.login(people["staff"])
    open_deals(2)
    few = statements_for_search()
    open_deals(18)
    assert statements_for_search() == few
