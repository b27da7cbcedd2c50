"""Organizations register people with listings and availability; staff validate; sheets import in bulk."""
from __future__ import annotations

import io
import re
from datetime import date, time

import pytest
from openpyxl import Workbook

from matchmaker.core.errors import Conflict, ValidationFailed
from matchmaker.fairs import fairs, participant_import
from models import AuditLog, FairParticipant, Role, Session
from models.fairs import FairStatus
from tests.fairs.conftest import build_fair


def test_registration_attaches_listings_and_every_session_by_default(make, world):
    assert [fl.listing.title for fl in world.research.listings] == ["设备故障预测算法"]
    assert {a.session.name for a in world.research.availability} == {"上午", "下午"}
    assert world.research.user_id == world.researcher.id
    assert len(fairs.available_slot_ids(world.research)) == 6


def test_registration_can_create_a_new_listing_for_review(make, world):
    user = make.user(Role.ENTERPRISE)
    p = fairs.register(user, world.fair.id, fairs.Registration(
        name="吴总监", email=user.email, participant_type="enterprise",
        new_listings=[("need", "食品冷链温度监测", "冷库温度实时监测")]))
    listing = p.listings[0].need
    assert listing.title == "食品冷链温度监测" and listing.status == "pending"
    assert listing.organization_id == user.organization_id


def test_someone_elses_listing_cannot_be_brought(make, world):
    user = make.user(Role.ENTERPRISE)
    other = make.need()
    with pytest.raises(ValidationFailed) as exc:
        fairs.register(user, world.fair.id, fairs.Registration(
            name="x", email=user.email, participant_type="enterprise", need_ids=[other.id]))
    assert "listings" in exc.value.errors
    assert Session.query(FairParticipant).count() == 2


def test_a_typed_email_of_another_organizations_account_does_not_hand_it_the_registration(client, make, world):
    """An enterprise registers a colleague but types the address of someone at another organization: the
    participant is registered, but that account gets no access to this organization's fair schedule."""
    user = make.user(Role.ENTERPRISE)
    stranger = make.user(Role.ENTERPRISE)
    colleague = make.user(Role.ENTERPRISE, user.organization)
    typo = fairs.register(user, world.fair.id, fairs.Registration(
        name="吴总监", email=stranger.email, participant_type="enterprise"))
    mine = fairs.register(user, world.fair.id, fairs.Registration(
        name="周工", email=colleague.email.upper(), participant_type="enterprise"))
    assert typo.user_id is None and mine.user_id == colleague.id
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"] = stranger.get_id(), True
    assert client.get(f"/fairs/participants/{typo.id}/schedule").status_code in (403, 404)


def test_the_same_person_cannot_register_twice(world):
    with pytest.raises(ValidationFailed) as exc:
        fairs.register(world.researcher, world.fair.id, fairs.Registration(
            name="林教授", email=world.researcher.email.upper(), participant_type="research"))
    assert "already registered" in exc.value.errors["email"][0]


def test_registration_outside_the_window_is_refused_for_organizations(make, world):
    fairs.set_status(world.staff, world.fair.id, FairStatus.CLOSED)
    user = make.user(Role.RESEARCHER)
    with pytest.raises(Conflict):
        fairs.register(user, world.fair.id, fairs.Registration(name="x", email=user.email,
                                                               participant_type="research"))


def test_availability_window_must_lie_inside_the_session(world):
    morning = world.fair.sessions[0]
    with pytest.raises(ValidationFailed) as exc:
        fairs.set_availability(world.researcher, world.research.id, {morning.id: (time(8), time(9, 40))})
    assert "within 09:00–10:00" in exc.value.errors["availability"][0]
    fairs.set_availability(world.researcher, world.research.id, {morning.id: (time(9), time(9, 40))})
    assert len(fairs.available_slot_ids(world.research)) == 2


def _xlsx(rows: list[list[str]]) -> bytes:
    wb = Workbook()
    for row in [participant_import.TEMPLATE_HEADER, *rows]:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _import(world, filename: str, data: bytes, validate: bool = False, valid_only: bool = False):
    """Upload (the read runs at once: JOBS_SYNC), then confirm what the preview holds."""
    job_id = participant_import.upload(world.staff, world.fair.id, filename, data, validate=validate)
    preview = participant_import.load_preview(world.staff, world.fair.id, job_id)
    assert preview.read, preview.reading.message if preview.reading else None
    return preview, participant_import.confirm(world.staff, world.fair.id, job_id, valid_only)


def test_import_registers_every_row(make, world):
    researcher = make.user(Role.RESEARCHER)
    result = make.result(owner=researcher, title="高强度镁合金")
    data = _xlsx([["陈研究员", "chen@example.cn", "", "研究员", researcher.organization.name, "成果方",
                   "高强度镁合金", "", "上午"],
                  ["赵总", "zhao@example.cn", "", "", world.enterprise.organization.name, "需求方", "", "", ""]])
    _preview, outcome = _import(world, "participants.xlsx", data, validate=True)
    assert outcome.created == 2
    chen = Session.query(FairParticipant).filter_by(email="chen@example.cn").one()
    assert chen.status == "validated" and chen.listings[0].result_id == result.id
    assert [a.session.name for a in chen.availability] == ["上午"]


@pytest.mark.parametrize(("cells", "message"), [
    ({6: "不存在的成果"}, "Unknown listing"),
    ({8: "2031-06-30"}, "outside the fair's dates"),
    ({5: "嘉宾"}, "Unknown participant type"),
    ({4: "不存在的单位"}, "Unknown organization"),
])
def test_import_with_a_bad_row_saves_nothing(make, world, cells, message):
    good = ["陈研究员", "chen@example.cn", "", "", world.researcher.organization.name, "research", "", "", ""]
    bad = list(good)
    bad[1] = "bad@example.cn"
    for index, value in cells.items():
        bad[index] = value
    csv = "\n".join(",".join(r) for r in [participant_import.TEMPLATE_HEADER, good, bad]).encode("utf-8")
    job_id = participant_import.upload(world.staff, world.fair.id, "p.csv", csv)
    preview = participant_import.load_preview(world.staff, world.fair.id, job_id)
    assert [r["row"] for r in preview.rows if r["errors"]] == [3]
    assert message in " ".join(preview.rows[1]["errors"])
    with pytest.raises(Conflict, match="Some rows have errors"):
        participant_import.confirm(world.staff, world.fair.id, job_id, valid_only=False)
    assert Session.query(FairParticipant).count() == 2
    assert participant_import.confirm(world.staff, world.fair.id, job_id, valid_only=True).created == 1
    assert Session.query(FairParticipant).filter_by(email="chen@example.cn").count() == 1


def test_dates_in_the_sheet_mean_every_session_that_day(make, world):
    csv = "\n".join(",".join(r) for r in [participant_import.TEMPLATE_HEADER, [
        "钱工", "qian@example.cn", "", "", world.enterprise.organization.name, "enterprise", "", "",
        date(2031, 5, 20).isoformat()]]).encode("utf-8")
    _import(world, "p.csv", csv)
    qian = Session.query(FairParticipant).filter_by(email="qian@example.cn").one()
    assert len(qian.availability) == 2


def _selected_type(page: str) -> str:
    select = page[page.index('name="participant_type"'):]
    select = select[:select.index("</select>")]
    return select.split("selected value=\"")[1].split('"')[0] if "selected value=" in select else ""


@pytest.mark.parametrize("role, kind, expected", [
    (Role.ENTERPRISE, "enterprise", "enterprise"), (Role.RESEARCHER, "university", "research"),
    (Role.RESEARCHER, "institute", "research"), (Role.BROKER, "agency", "broker"),
])
def test_the_registration_form_starts_with_the_type_the_organization_takes(client, auth, make, world,
                                                                          role, kind, expected):
    user = make.user(role, organization=make.org(kind))
    auth.login(user)
    page = client.get(f"/fairs/{world.fair.id}/register?lang=zh").get_data(as_text=True)
    assert _selected_type(page) == expected
    # The button says what it does: 报名 (sign up for the fair), not 注册 (create an account).
    form = page[page.index('<form method="post" class="card"'):]
    buttons = re.findall(r"<button[^>]*>([^<]*)</button>", form[:form.index("</form>")])
    assert buttons == ["报名"]


def test_an_enterprise_signs_up_with_the_default_type(client, auth, make, world):
    user = make.user(Role.ENTERPRISE, name="吴总监")
    auth.login(user)
    page = client.get(f"/fairs/{world.fair.id}/register").get_data(as_text=True)
    response = client.post(f"/fairs/{world.fair.id}/register", data={
        "name": "吴总监", "email": user.email, "participant_type": _selected_type(page),
        "organization_id": str(user.organization_id), "sessions": [str(s.id) for s in world.fair.sessions]})
    assert response.status_code == 302
    assert Session.query(FairParticipant).filter_by(user_id=user.id).one().participant_type == "enterprise"


def test_staff_validate_many_registrations_at_once(client, auth, make, world):
    pending = [world.add_person(make, Role.ENTERPRISE, "enterprise", validated=False)[1] for _ in range(3)]
    other_staff, other_fair = build_fair(make, name="另一场对接会")
    stranger = fairs.register(other_staff, other_fair.id, fairs.Registration(
        name="外人", email="x@example.cn", participant_type="enterprise", organization_id=pending[0].organization_id))
    auth.login(world.staff)
    page = client.get(f"/fairs/{world.fair.id}/participants?lang=zh").get_data(as_text=True)
    assert page.count('name="participant_ids"') == 5 and "通过所选" in page
    url = f"/fairs/{world.fair.id}/participants/status"
    response = client.post(url + "?lang=en", data={"status": "validated",
                                                   "participant_ids": [str(p.id) for p in pending[:2]]},
                           follow_redirects=True)
    assert "2 registrations changed to Validated." in response.get_data(as_text=True)
    Session.expire_all()
    assert [Session.get(FairParticipant, p.id).status for p in pending] == ["validated", "validated", "pending"]
    assert Session.query(AuditLog).filter_by(action="fair.participant.status").filter(
        AuditLog.entity_id.in_([p.id for p in pending[:2]])).count() == 2
    # Another fair's participant among the ticked ones: refused, nothing changed.
    assert client.post(url, data={"status": "validated",
                                  "participant_ids": [str(pending[2].id), str(stranger.id)]}).status_code == 404
    Session.expire_all()
    assert Session.get(FairParticipant, pending[2].id).status == "pending"
    # Nothing ticked: said so.
    empty = client.post(url + "?lang=en", data={"status": "validated"}, follow_redirects=True)
    assert "Select at least one participant." in empty.get_data(as_text=True)
    # Participants cannot do it.
    auth.login(world.researcher)
    assert client.post(url, data={"status": "validated", "participant_ids": [str(pending[2].id)]}).status_code == 403
