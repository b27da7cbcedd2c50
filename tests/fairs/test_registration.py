"""Organizations register people with listings and availability; staff validate; sheets import in bulk."""
from __future__ import annotations

import io
from datetime import date, time

import pytest
from openpyxl import Workbook

from matchmaker.core.errors import Conflict, ValidationFailed
from matchmaker.fairs import fairs, participant_import
from models import FairParticipant, Role, Session
from models.fairs import FairStatus


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


def test_import_registers_every_row(make, world):
    researcher = make.user(Role.RESEARCHER)
    result = make.result(owner=researcher, title="高强度镁合金")
    data = _xlsx([["陈研究员", "chen@example.cn", "", "研究员", researcher.organization.name, "成果方",
                   "高强度镁合金", "", "上午"],
                  ["赵总", "zhao@example.cn", "", "", world.enterprise.organization.name, "需求方", "", "", ""]])
    outcome = participant_import.import_participants(world.staff, world.fair.id, "participants.xlsx", data,
                                                     validate=True)
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
    with pytest.raises(participant_import.ImportRejected) as exc:
        participant_import.import_participants(world.staff, world.fair.id, "p.csv", csv)
    assert list(exc.value.rows) == [3]
    assert message in " ".join(exc.value.rows[3])
    assert Session.query(FairParticipant).count() == 2


def test_dates_in_the_sheet_mean_every_session_that_day(make, world):
    csv = "\n".join(",".join(r) for r in [participant_import.TEMPLATE_HEADER, [
        "钱工", "qian@example.cn", "", "", world.enterprise.organization.name, "enterprise", "", "",
        date(2031, 5, 20).isoformat()]]).encode("utf-8")
    participant_import.import_participants(world.staff, world.fair.id, "p.csv", csv)
    qian = Session.query(FairParticipant).filter_by(email="qian@example.cn").one()
    assert len(qian.availability) == 2
