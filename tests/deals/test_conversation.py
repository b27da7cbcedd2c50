"""After acceptance, a place to talk: messages and files between the two parties and the broker of the
deal, next steps (meeting, intention signed, hand to the broker), notices as each user chose, and every
bad input refused with nothing saved."""
from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from matchmaker.core import audit
from matchmaker.deals import introductions
from models import (
    Deal,
    DealStageChange,
    IntroductionAttachment,
    IntroductionMessage,
    Notification,
    Session,
)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def office(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed date: two calls give the same bytes whatever the clock says.
        for name, text in (("[Content_Types].xml", "<Types/>"), (f"{folder}/document.xml", "<doc/>")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "ATTACHMENT_MAX_BYTES": 64 * 1024}


@pytest.fixture
def intro(make, people):
    """The firm asked about the university's confidential result and the researcher accepted: a deal
    opened, waiting in the brokers' unassigned queue."""
    result = make.result(owner=people["researcher"], confidential=True, title="陶瓷窑炉温控算法")
    asked = introductions.request(people["enterprise"], introductions.RequestInput("result", result.id, "想试用"))
    return introductions.accept(people["researcher"], asked.id)


def files_in(app) -> list[str]:
    folder = Path(app.config["ATTACHMENT_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def send(client, intro, body="", file=None, name="offer.pdf"):
    data = {"body": body}
    if file is not None:
        data["file"] = (io.BytesIO(file), name)
    return client.post(f"/introductions/{intro.id}/messages?lang=en", data=data, content_type="multipart/form-data")


def flashed(client, response) -> str:
    """The page a refused button leads back to, with the refusal flashed on it."""
    return client.get(response.headers["Location"].split("#")[0] + "?lang=en").get_data(as_text=True)


def notices(user, kind="conversation.message"):
    return Session.query(Notification).filter_by(user_id=user.id, kind=kind).count()


def test_both_sides_write_and_html_is_shown_as_text(client, auth, people, intro):
    auth.login(people["enterprise"])
    assert send(client, intro, "<script>alert(1)</script> 下周二能来工厂吗？").status_code == 302
    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 下周二能来工厂吗？" in page
    assert "<script>alert(1)" not in page
    assert notices(people["researcher"]) == 1 and notices(people["enterprise"]) == 0
    assert send(client, intro, "可以，上午十点。").status_code == 302
    assert notices(people["enterprise"]) == 1
    bodies = [m.body for m in Session.query(IntroductionMessage).order_by(IntroductionMessage.id)]
    assert bodies == ["<script>alert(1)</script> 下周二能来工厂吗？", "可以，上午十点。"]


def test_outsiders_and_other_brokers_neither_read_nor_write(client, auth, people, intro):
    auth.login(people["enterprise"])
    send(client, intro, "报价单见附件", PDF)
    attachment = Session.query(IntroductionAttachment).one()
    for visitor in ("outsider", "broker", "other_broker"):
        auth.login(people[visitor])
        assert client.get(f"/introductions/{intro.id}").status_code == 404
        assert client.get(f"/introductions/{intro.id}/files/{attachment.id}").status_code == 404
        assert send(client, intro, "我也来说两句").status_code == 404
    auth.logout()
    assert client.get(f"/introductions/{intro.id}/files/{attachment.id}").status_code == 302  # to the log-in page
    assert Session.query(IntroductionMessage).count() == 1


def test_the_broker_of_the_deal_and_staff_take_part(client, auth, people, intro):
    deal = Session.query(Deal).one()
    deal.broker_id = people["broker"].id
    Session.commit()
    auth.login(people["broker"])
    assert client.get(f"/introductions/{intro.id}").status_code == 200
    assert send(client, intro, "我来安排双方见面。").status_code == 302
    assert notices(people["researcher"]) == 1 and notices(people["enterprise"]) == 1
    auth.login(people["other_broker"])
    assert client.get(f"/introductions/{intro.id}").status_code == 404
    auth.login(people["staff"])
    assert "我来安排双方见面。" in client.get(f"/introductions/{intro.id}").get_data(as_text=True)


def test_a_file_is_listed_with_size_and_sender_and_downloads_for_participants(app, client, auth, people, intro):
    auth.login(people["researcher"])
    assert send(client, intro, "", office("word"), name="技术方案.docx").status_code == 302
    row = Session.query(IntroductionAttachment).one()
    assert (row.filename, row.file_type, row.size) == ("技术方案.docx", "docx", len(office("word")))
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    files = page[page.index('id="files"'):]
    assert "技术方案.docx" in files and people["researcher"].name in files and f"{row.size} B" in files
    for visitor in ("enterprise", "researcher", "staff"):
        auth.login(people[visitor])
        got = client.get(f"/introductions/{intro.id}/files/{row.id}")
        assert got.status_code == 200 and got.data == office("word")
        assert got.mimetype.endswith("wordprocessingml.document") and "attachment" in got.headers["Content-Disposition"]
    assert files_in(app) == [row.stored_name]


@pytest.mark.parametrize("name, content, file_type", [
    ("报价.pdf", PDF, "pdf"), ("现场.PNG", PNG, "png"), ("样品.jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "jpg"),
    ("方案.docx", office("word"), "docx"), ("数据.xlsx", office("xl"), "xlsx"), ("介绍.pptx", office("ppt"), "pptx"),
])
def test_each_allowed_kind_of_file_is_taken_by_its_content(app, client, auth, people, intro, name, content, file_type):
    auth.login(people["enterprise"])
    assert send(client, intro, "", content, name).status_code == 302
    row = Session.query(IntroductionAttachment).one()
    assert (row.filename, row.file_type, row.size) == (name, file_type, len(content))
    assert (Path(app.config["ATTACHMENT_DIR"]) / row.stored_name).read_bytes() == content


def test_a_file_name_loses_folders_and_control_characters(client, auth, people, intro):
    auth.login(people["enterprise"])
    assert send(client, intro, "", PDF, "../../etc/\u202e报价\x07.pdf").status_code == 302
    assert Session.query(IntroductionAttachment).one().filename == "报价.pdf"


@pytest.mark.parametrize("body, file, name, error", [
    ("", None, "x.pdf", "Write a message or choose a file."),
    ("   \n ", None, "x.pdf", "Write a message or choose a file."),
    ("长" * 5001, None, "x.pdf", "At most 5000 characters."),
    ("看附件", b"", "empty.pdf", "The file is empty."),
    ("看附件", PDF + b"0" * 64 * 1024, "big.pdf", "The file is larger than 64 KB."),
    ("看附件", b"MZ\x90\x00 program", "tool.exe", "Only these kinds of files can be sent"),
    ("看附件", b"hello", "notes.txt", "Only these kinds of files can be sent"),
    ("看附件", b"<html>not a pdf</html>", "offer.pdf", "The file is named .pdf but its content is not a PDF file."),
    ("看附件", PNG, "photo.pdf", "The file is named .pdf but its content is not a PDF file."),
    ("看附件", office("xl"), "sheet.docx", "The file is named .docx but its content is not a DOCX file."),
    ("看附件", b"PK\x03\x04 broken zip", "plan.xlsx", "its content is not a XLSX file."),
])
def test_bad_messages_and_files_are_refused_and_nothing_is_saved(app, client, auth, people, intro, body, file,
                                                                 name, error):
    auth.login(people["enterprise"])
    response = send(client, intro, body, file, name)
    assert response.status_code == 400
    assert error in response.get_data(as_text=True)
    assert Session.query(IntroductionMessage).count() == 0 and Session.query(IntroductionAttachment).count() == 0
    assert files_in(app) == [] and notices(people["researcher"]) == 0


def test_a_failure_while_saving_leaves_neither_rows_nor_the_file(app, client, auth, people, intro, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(audit, "record", broken)
    auth.login(people["enterprise"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert send(client, intro, "报价单", PDF).status_code == 500
    assert Session.query(IntroductionMessage).count() == 0 and Session.query(IntroductionAttachment).count() == 0
    assert files_in(app) == []


def test_no_conversation_before_acceptance(client, auth, make, people):
    result = make.result(owner=people["researcher"])
    pending = introductions.request(people["enterprise"], introductions.RequestInput("result", result.id, "你好"))
    auth.login(people["enterprise"])
    page = client.get(f"/introductions/{pending.id}?lang=en").get_data(as_text=True)
    assert 'id="conversation"' not in page
    refused = send(client, pending, "在吗？")
    assert refused.status_code == 302
    assert "The conversation opens once the introduction is accepted." in flashed(client, refused)
    assert Session.query(IntroductionMessage).count() == 0


def test_proposing_a_meeting(client, auth, people, intro):
    auth.login(people["enterprise"])
    past = client.post(f"/introductions/{intro.id}/meeting?lang=en",
                       data={"day": "2020-01-06", "at": "10:00", "note": "工厂会议室"})
    assert past.status_code == 400 and "Choose a time that has not passed yet." in past.get_data(as_text=True)
    missing = client.post(f"/introductions/{intro.id}/meeting?lang=en", data={"day": "", "at": "", "note": ""})
    assert missing.status_code == 400 and "Choose the day." in missing.get_data(as_text=True)
    assert Session.query(IntroductionMessage).count() == 0
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    assert client.post(f"/introductions/{intro.id}/meeting", data={
        "day": day.isoformat(), "at": "14:30", "note": "工厂会议室"}).status_code == 302
    message = Session.query(IntroductionMessage).one()
    assert message.kind == "meeting" and message.body == "工厂会议室"
    assert message.meeting_at.replace(tzinfo=UTC) == datetime(day.year, day.month, day.day, 6, 30, tzinfo=UTC)
    auth.login(people["researcher"])
    page = client.get(f"/introductions/{intro.id}?lang=en").get_data(as_text=True)
    assert f"Proposes a meeting on {day.isoformat()} 14:30." in page
    assert notices(people["researcher"], "conversation.meeting") == 1


def test_marking_the_intention_signed_moves_the_deal(client, auth, people, intro):
    auth.login(people["outsider"])
    assert client.post(f"/introductions/{intro.id}/intention").status_code == 404
    auth.login(people["researcher"])
    assert client.post(f"/introductions/{intro.id}/intention").status_code == 302
    deal = Session.query(Deal).one()
    assert deal.stage == "intention_signed"
    change = Session.query(DealStageChange).filter_by(to_stage="intention_signed").one()
    assert change.actor_id == people["researcher"].id
    assert notices(people["enterprise"], "conversation.intention") == 1
    again = client.post(f"/introductions/{intro.id}/intention?lang=en")
    assert "already at this stage or later" in flashed(client, again)
    assert Session.query(DealStageChange).filter_by(to_stage="intention_signed").count() == 1


def test_handing_to_the_broker_tells_every_broker_while_the_deal_has_none(client, auth, people, intro):
    auth.login(people["enterprise"])
    assert client.post(f"/introductions/{intro.id}/handover", data={"note": "请帮忙谈价格"}).status_code == 302
    for broker in ("broker", "other_broker"):
        row = Session.query(Notification).filter_by(user_id=people[broker].id, kind="conversation.handover").one()
        assert row.link == f"/deals/{Session.query(Deal).one().id}"
    assert notices(people["researcher"], "conversation.handover") == 1
    deal = Session.query(Deal).one()
    deal.broker_id = people["broker"].id
    Session.commit()
    auth.login(people["broker"])
    assert client.post(f"/introductions/{intro.id}/handover", data={"note": ""}).status_code == 403
    auth.login(people["researcher"])
    client.post(f"/introductions/{intro.id}/handover", data={"note": ""})
    assert notices(people["broker"], "conversation.handover") == 2
    assert notices(people["other_broker"], "conversation.handover") == 1  # no longer told: the deal has its broker


def test_notices_follow_each_users_setting(app, client, auth, people, intro):
    auth.login(people["researcher"])
    assert client.post("/account/profile", data={"name": "林教授", "phone": "", "locale": "", "match_notices": "daily",
                                              "message_notices": "off"}).status_code in (200, 302)
    Session.expire_all()
    assert people["researcher"].message_notices == "off"
    people["enterprise"].message_notices = "mail"
    Session.commit()
    auth.login(people["enterprise"])
    send(client, intro, "researcher hears nothing")
    assert notices(people["researcher"]) == 0
    auth.login(people["researcher"])
    send(client, intro, "请看报价")
    assert notices(people["enterprise"]) == 1
    mails = [m for m in app.extensions["mail_outbox"] if m["To"] == people["enterprise"].email]
    assert len(mails) == 1 and "请看报价" in mails[0].get_content()


def test_a_broker_takes_the_unassigned_deal_and_then_follows_its_conversation(client, auth, people, intro):
    auth.login(people["enterprise"])
    send(client, intro, "请经纪人帮忙谈价格")
    deal = Session.query(Deal).one()
    auth.login(people["broker"])
    page = client.get(f"/deals/{deal.id}?lang=en").get_data(as_text=True)
    assert "Take the deal (change its stage or next action) to follow its conversation." in page
    assert f"/introductions/{intro.id}" not in page and client.get(f"/introductions/{intro.id}").status_code == 404
    assert client.post(f"/deals/{deal.id}/stage", data={"stage": "meeting_held", "note": ""}).status_code == 302
    page = client.get(f"/deals/{deal.id}?lang=en").get_data(as_text=True)
    assert f'href="/introductions/{intro.id}#conversation"' in page
    assert "请经纪人帮忙谈价格" in client.get(f"/introductions/{intro.id}").get_data(as_text=True)
    auth.login(people["other_broker"])
    assert client.get(f"/deals/{deal.id}").status_code == 404  # taken: off the other brokers' queue


def test_the_list_of_introductions_leads_to_each_conversation(client, auth, people, intro):
    auth.login(people["enterprise"])
    send(client, intro, "第一条")
    send(client, intro, "第二条")
    for side in ("enterprise", "researcher"):
        auth.login(people[side])
        page = client.get("/introductions/?lang=en").get_data(as_text=True)
        assert f'href="/introductions/{intro.id}#conversation">Conversation (2)</a>' in page


def test_when_a_broker_asked_for_the_firm_the_firm_hears_of_new_messages(make, people):
    from matchmaker.deals import conversation

    result = make.result(owner=people["researcher"])
    asked = introductions.request(people["broker"], introductions.RequestInput(
        "result", result.id, "替企业询问", counterpart_org_id=people["firm"].id))
    introductions.accept(people["researcher"], asked.id)
    conversation.post(people["researcher"], asked.id, "欢迎来访")
    assert notices(people["enterprise"]) == 1 and notices(people["broker"]) == 1
    assert notices(people["outsider"]) == 0 and notices(people["researcher"]) == 0


def test_a_request_larger_than_the_site_takes_is_refused_in_words(app, client, auth, people, intro):
    app.config["MAX_CONTENT_LENGTH"] = 128 * 1024
    auth.login(people["enterprise"])
    refused = client.post(f"/introductions/{intro.id}/messages", content_type="multipart/form-data",
                          data={"body": "大文件", "file": (io.BytesIO(PDF + b"0" * 200 * 1024), "big.pdf")})
    assert refused.status_code == 302
    assert "文件超过 64 KB。" in client.get(refused.headers["Location"].split("#")[0]).get_data(as_text=True)
    assert Session.query(IntroductionMessage).count() == 0 and files_in(app) == []


def _statements_to_show(client, intro) -> int:
    """How many SQL statements the introduction page runs."""
    from tests.sql_count import statements

    with statements() as seen:
        assert client.get(f"/introductions/{intro.id}?lang=en").status_code == 200
    return len(seen)


def test_a_long_conversation_costs_the_page_no_more_queries_than_a_short_one(client, auth, people, intro):
    auth.login(people["enterprise"])
    for n in range(2):
        send(client, intro, f"第{n}条", PDF, f"offer-{n}.pdf")
    auth.login(people["researcher"])
    short = _statements_to_show(client, intro)
    auth.login(people["enterprise"])
    for n in range(2, 12):
        send(client, intro, f"第{n}条", PDF, f"offer-{n}.pdf")
    auth.login(people["researcher"])
    assert _statements_to_show(client, intro) == short
