"""Recording technology contracts: validation next to the field, audited edits, optimistic locking,
links to deals, who may see them, and the historical import."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook

from matchmaker.deals import contract_import, deals
from models import AuditLog, Contract, DealStage, Session


def contract_count() -> int:
    return Session.query(Contract).count()


def test_staff_record_a_contract_with_party_details_from_the_organizations(client, auth, people, contract_values):
    auth.login(people["staff"])
    response = client.post("/contracts/new?lang=en", data=contract_values)
    assert response.status_code == 302
    contract = Session.query(Contract).one()
    assert (contract.amount_fen, contract.tech_amount_fen) == (120_000_000, 100_000_000)
    assert contract.seller_name == people["uni"].name and contract.seller_party_type == "university"
    assert contract.buyer_region == "350500"
    assert Session.query(AuditLog).filter_by(action="contract.create", entity_id=contract.id).count() == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "高效电机控制专利转让" in page


BAD_INPUT = [
    ({"amount": "-5"}, "amount", "Amounts cannot be negative."),
    ({"tech_amount": "130"}, "tech_amount", "cannot exceed the contract amount"),
    ({"amount": "abc"}, "amount", "Enter an amount in 万元"),
    ({"signing_date": "2027-06-01"}, "signing_date", "after the end of the validity period"),
    ({"valid_from": "2028-01-01"}, "valid_until", "ends before it starts"),
    ({"contract_type": "bogus"}, "contract_type", "Not a valid choice"),
    ({"contract_subtype": "license.patent"}, "contract_subtype", "does not belong to the contract type"),
    ({"seller_region": "999999"}, "seller_region", "known 6-digit region code"),
    ({"buyer_region": "12345"}, "buyer_region", "known 6-digit region code"),
    ({"seller_entity_type": "999"}, "seller_entity_type", "Not a valid choice"),
    ({"registration_number": "2025-350500-A1"}, "registration_number", "18 characters"),
    ({"registration_number": "1980350500A0000001"}, "registration_number", "not possible"),
    ({"project_name": ""}, "project_name", "This field is required."),
]


@pytest.mark.parametrize("change, field, message", BAD_INPUT)
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(client, auth, people, contract_values,
                                                                    change, field, message):
    auth.login(people["staff"])
    response = client.post("/contracts/new?lang=en", data={**contract_values, **change})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    # The message sits in the same field block as the input it is about.
    block = page[page.index(f'name="{field}"'):]
    assert message in block[:block.index('class="field') if 'class="field' in block else len(block)]
    assert contract_count() == 0
    typed = change.get(field)
    if typed and field not in ("contract_type", "contract_subtype", "seller_entity_type"):
        assert f'value="{typed}"' in page  # what the user typed is kept


@pytest.mark.parametrize("amount, tech_amount, fen, tech_fen", [
    ("60", "50", 60_000_000, 50_000_000),                 # a clerk typing 60 means 60万元
    ("60万", "50万元", 60_000_000, 50_000_000),
    ("60 万元", "500,000元", 60_000_000, 50_000_000),
    ("600000元", "50.0", 60_000_000, 50_000_000),
    ("1.5亿", "¥1.2亿元", 15_000_000_000, 12_000_000_000),
    ("６０万", "12.345678", 60_000_000, 12_345_678),
])
def test_contract_amounts_are_in_wan_yuan_or_in_the_unit_written(client, auth, people, contract_values,
                                                                 amount, tech_amount, fen, tech_fen):
    auth.login(people["staff"])
    form = client.get("/contracts/new?lang=zh").get_data(as_text=True)
    assert "合同成交额（万元）" in form and "60 表示 60 万元" in form  # the unit is stated
    response = client.post("/contracts/new", data={**contract_values, "amount": amount, "tech_amount": tech_amount})
    assert response.status_code == 302
    contract = Session.query(Contract).one()
    assert (contract.amount_fen, contract.tech_amount_fen) == (fen, tech_fen)


def test_the_edit_form_shows_amounts_in_wan_yuan_and_what_will_be_saved(client, auth, people, contract_values):
    auth.login(people["staff"])
    client.post("/contracts/new", data={**contract_values, "amount": "60", "tech_amount": "50"})
    contract = Session.query(Contract).one()
    page = client.get(f"/contracts/{contract.id}/edit?lang=zh").get_data(as_text=True)
    assert 'name="amount" required type="text" value="60"' in page
    again = client.post(f"/contracts/{contract.id}/edit?lang=zh",
                        data={**contract_values, "version": "1", "amount": "60万", "project_name": ""})
    assert again.status_code == 400
    text = again.get_data(as_text=True)
    assert 'value="60万"' in text and "将保存为 ¥60万元" in text


@pytest.mark.parametrize("typed", ["60万万", "abc", "0.0000001", "NaN", "inf", "60美元"])
def test_unreadable_amounts_get_a_field_error_and_keep_everything_typed(client, auth, people, contract_values,
                                                                       typed):
    auth.login(people["staff"])
    response = client.post("/contracts/new?lang=en", data={**contract_values, "amount": typed,
                                                           "project_name": "保留的项目名称"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    block = page[page.index('name="amount"'):]
    assert "Enter an amount in 万元" in block[:block.index('class="field')]
    assert f'value="{typed}"' in page and 'value="保留的项目名称"' in page and 'value="100"' in page
    assert contract_count() == 0


def _selected(page: str, name: str) -> str:
    """The label of the selected option of the select box `name` ("" when none is)."""
    select = page[page.index(f'name="{name}"'):]
    select = select[:select.index("</select>")]
    found = re.search(r'<option selected value="[^"]*">([^<]*)</option>', select)
    return found.group(1) if found else ""


@pytest.mark.parametrize("lang, label", [("zh", "福建省泉州市"), ("en", "Quanzhou, Fujian")])
def test_regions_are_chosen_from_a_list_in_the_viewers_language(client, auth, people, contract_values, lang, label):
    auth.login(people["staff"])
    page = client.get(f"/contracts/new?lang={lang}").get_data(as_text=True)
    for name in ("seller_region", "buyer_region"):
        assert f'<select id="{name}" name="{name}">' in page
        assert f'<option value="350500">{label}</option>' in page
    saved = client.post("/contracts/new", data={**contract_values, "seller_name": "外地大学",
                                                "seller_org_id": "", "seller_entity_type": "022",
                                                "seller_region": "440300"})
    assert saved.status_code == 302
    assert Session.query(Contract).one().seller_region == "440300"


def test_editing_keeps_a_region_code_that_is_not_in_the_list(client, auth, people, contract_values):
    # Imports accept any district under a known province (350502 鲤城区 is not listed).
    auth.login(people["staff"])
    client.post("/contracts/new", data={**contract_values, "buyer_region": "350502"})
    contract = Session.query(Contract).one()
    assert contract.buyer_region == "350502"
    page = client.get(f"/contracts/{contract.id}/edit?lang=zh").get_data(as_text=True)
    assert _selected(page, "buyer_region") == "福建省泉州市 (350502)"
    assert _selected(page, "seller_region") == "福建省泉州市"


def test_two_staff_editing_at_once_never_overwrite_silently(client, auth, people, contract_values, make):
    auth.login(people["staff"])
    client.post("/contracts/new", data=contract_values)
    contract = Session.query(Contract).one()
    other_staff = make.user("staff", name="李科员")
    form = client.get(f"/contracts/{contract.id}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in form

    second = client.application.test_client()
    with second.session_transaction() as sess:
        sess["_user_id"] = str(other_staff.id)
    saved = second.post(f"/contracts/{contract.id}/edit", data={**contract_values, "version": "1",
                                                                "project_name": "李科员的修改"})
    assert saved.status_code == 302

    late = client.post(f"/contracts/{contract.id}/edit?lang=en", data={**contract_values, "version": "1",
                                                                       "project_name": "我的修改"})
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert "李科员 saved this contract while you were editing it" in page
    assert 'value="我的修改"' in page and "李科员的修改" in page  # my input kept, their values shown
    Session.expire_all()
    assert Session.get(Contract, contract.id).project_name == "李科员的修改"

    again = client.post(f"/contracts/{contract.id}/edit", data={**contract_values, "version": "2",
                                                                "project_name": "我的修改"})
    assert again.status_code == 302
    Session.expire_all()
    assert Session.get(Contract, contract.id).project_name == "我的修改"
    assert Session.query(AuditLog).filter_by(action="contract.update", entity_id=contract.id).count() == 2


@pytest.mark.parametrize("number, stage", [("", DealStage.CONTRACT_SIGNED),
                                           ("2025350500A0000042", DealStage.REGISTERED)])
def test_a_contract_on_a_deal_moves_the_deal_on(client, auth, people, contract_values, make, number, stage):
    result = make.result(owner=people["researcher"])
    deal = deals.open_deal(result.id, None, people["uni"].id, people["firm"].id, people["broker"].id, "search")
    auth.login(people["staff"])
    prefilled = client.get(f"/contracts/new?deal_id={deal.id}").get_data(as_text=True)
    assert f'value="{result.title}"' in prefilled
    response = client.post("/contracts/new", data={**contract_values, "deal_id": str(deal.id),
                                                   "registration_number": number})
    assert response.status_code == 302
    Session.expire_all()
    assert deal.stage == stage
    assert deal.stage_changes[-1].to_stage == stage


def test_parties_see_their_contracts_and_others_do_not(client, auth, people, contract_values):
    auth.login(people["staff"])
    client.post("/contracts/new", data=contract_values)
    contract = Session.query(Contract).one()
    for role, status in (("researcher", 200), ("enterprise", 200), ("outsider", 404), ("other_broker", 404)):
        auth.login(people[role])
        assert client.get(f"/contracts/{contract.id}").status_code == status, role
        listed = contract.project_name in client.get("/contracts/").get_data(as_text=True)
        assert listed == (status == 200), role
    auth.login(people["researcher"])
    assert client.get(f"/contracts/{contract.id}/edit").status_code == 403
    assert client.post("/contracts/new", data=contract_values).status_code == 403


HEADER = ",".join(["合同登记号", "项目名称", "合同类型", "签订日期", "有效期止", "成交额（元）", "技术交易额（元）",
                   "技术领域", "卖方", "卖方单位性质", "卖方地区代码", "买方", "买方单位性质", "买方地区代码"])
GOOD_1 = ",".join(["2024350500A0000001", "陶瓷粉体专利转让", "技术转让", "2024-03-01", "2026-03-01", "500000",
                   "400000", "新材料及其应用", "泉州理工大学", "022", "350500", "德化陶瓷有限公司", "150", "350500"])
GOOD_2 = ",".join(["", "设备维护技术服务", "service", "2024/05/06", "", "120000.50", "120000.50", "", "闽南研究所",
                   "021", "350500", "杭州机器人有限公司", "150", "330100"])
BAD_3 = ",".join(["2024350500A0000003", "超额的合同", "技术开发", "2024-07-01", "2025-07-01", "100000", "200000", "",
                  "泉州理工大学", "022", "350500", "某公司", "150", "350500"])


def upload(client, text: str, name: str = "past.csv"):
    return client.post("/contracts/import?lang=en", data={"file": (io.BytesIO(text.encode("utf-8")), name)},
                       content_type="multipart/form-data")


def test_import_previews_row_errors_and_saves_nothing_until_valid_only(client, auth, people):
    auth.login(people["staff"])
    response = upload(client, "\n".join([HEADER, GOOD_1, GOOD_2, BAD_3]))
    assert response.status_code == 302
    preview_url = response.headers["Location"]
    page = client.get(preview_url + "?lang=en").get_data(as_text=True)
    assert "3 rows: 2 valid, 1 with errors." in page
    assert "cannot exceed the contract amount" in page
    assert contract_count() == 0

    confirm_url = preview_url + "/confirm"
    assert client.post(confirm_url, data={}).status_code == 302
    assert contract_count() == 0
    client.post(confirm_url, data={"valid_only": "y"})
    assert contract_count() == 2
    service = Session.query(Contract).filter_by(contract_type="service").one()
    assert (service.amount_fen, service.seller_party_type, service.source) == (12_000_050, "institute", "import")
    assert client.post(confirm_url, data={"valid_only": "y"}).status_code == 302
    assert contract_count() == 2  # confirming twice imports once


def test_import_reads_xlsx_and_refuses_duplicate_numbers(client, auth, people):
    auth.login(people["staff"])
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(GOOD_1.split(","))
    sheet.append(GOOD_1.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    response = client.post("/contracts/import?lang=en", data={"file": (io.BytesIO(buffer.getvalue()), "past.xlsx")},
                           content_type="multipart/form-data")
    page = client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "2 rows: 1 valid, 1 with errors." in page and "same registration number is on row 2" in page
    client.post(response.headers["Location"] + "/confirm", data={"valid_only": "y"})
    assert contract_count() == 1


def test_import_of_an_unreadable_file_says_why(client, auth, people):
    auth.login(people["staff"])
    response = upload(client, "just,some\ncolumns,nobody,knows\n")
    assert response.status_code == 302  # read in the background: its page says why it could not be
    page = client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "None of the columns is recognised" in page and "Import preview" in page
    assert 'id="read-failed"' in page
    confirm = client.post(response.headers["Location"] + "/confirm", data={"valid_only": "y"}, follow_redirects=True)
    assert "nothing to import yet" in confirm.get_data(as_text=True)
    assert contract_count() == 0
    # A file the request itself refuses at once: not a spreadsheet at all.
    refused = upload(client, "title\n", "past.txt")
    assert refused.status_code == 400 and "cannot be imported" in refused.get_data(as_text=True)


@pytest.mark.parametrize("cell, fen", [("125000.00", 12_500_000), ("1,234.50", 123_450), ("¥12万", 12_000_000),
                                       ("3.5万元", 3_500_000), ("1.2亿", 12_000_000_000), ("600000元", 60_000_000)])
def test_the_import_reads_a_bare_number_in_yuan_as_its_columns_say(cell, fen):
    assert contract_import.parse_yuan(cell) == fen


@pytest.mark.parametrize("cell", ["abc", "inf", "NaN", "0.001", "12万万"])
def test_the_import_refuses_cells_that_are_not_amounts(cell):
    with pytest.raises(ValueError):
        contract_import.parse_yuan(cell)


def test_the_amount_preview_says_what_a_box_will_save(client, auth, people):
    auth.login(people["staff"])
    assert client.get("/contracts/amount?value=60&lang=zh").get_json() == {"saved": "将保存为 ¥60万元。"}
    assert client.get("/contracts/amount?value=1.5亿&lang=zh").get_json() == {"saved": "将保存为 ¥1.5亿元。"}
    assert client.get("/contracts/amount?value=&lang=zh").get_json() == {"saved": ""}
    assert "Enter an amount in 万元" in client.get("/contracts/amount?value=60万万&lang=en").get_json()["error"]
    auth.login(people["enterprise"])
    assert client.get("/contracts/amount?value=60").status_code == 403
