"""Fairs and organizations through /api/v1: list and read fairs, register, the counterparts suggested,
meeting requests asked and answered, the schedule as JSON and as a calendar file; organizations with
their public fields only. The fair pages' rules apply: drafts are for staff, members register their own
organization's people and act only for them."""
from __future__ import annotations

import sqlalchemy as sa

from matchmaker.api import tokens
from matchmaker.fairs import fairs, meetings, schedule
from models import FairParticipant, OrgKind, Role, Session
from models.fairs import FairStatus
from tests.fairs.conftest import DAY, build_fair, world  # noqa: F401  (fixture)


def _bearer(user, scopes=("read", "write")) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.create(user, 'fairs', list(scopes))[1]}"}


def test_fairs_are_listed_and_read_drafts_only_by_staff(client, make, world):  # noqa: F811
    draft = fairs.create_fair(world.staff, {"name": "筹备中的对接会", "venue": "", "start_date": DAY,
                                            "end_date": DAY, "participant_types": ["research"]})
    assert draft.status == FairStatus.DRAFT
    member = _bearer(world.researcher)
    listed = client.get("/api/v1/fairs", headers=member).json["items"]
    assert [f["id"] for f in listed] == [world.fair.id]
    one = client.get(f"/api/v1/fairs/{world.fair.id}", headers=member).json
    assert one["registration_open"] and [s["name"] for s in one["sessions"]] == ["上午", "下午"]
    assert [p["id"] for p in one["mine"]] == [world.research.id]
    assert client.get(f"/api/v1/fairs/{draft.id}", headers=member).status_code == 404
    assert client.get(f"/api/v1/fairs/{draft.id}", headers=_bearer(world.staff)).status_code == 200
    assert client.get(f"/api/v1/fairs/{world.fair.id}").json["mine"] == []  # anonymous: public fields


def test_a_member_registers_a_colleague_and_not_another_organizations_person(client, make, world):  # noqa: F811
    colleague = make.user(Role.RESEARCHER, world.researcher.organization, name="陈博士")
    writer = _bearer(world.researcher)
    path = f"/api/v1/fairs/{world.fair.id}/register"
    made = client.post(path, headers=writer, json={"name": colleague.name, "email": colleague.email,
                                                   "participant_type": "research",
                                                   "session_ids": [world.fair.sessions[0].id]})
    assert made.status_code == 201, made.json
    assert made.json["status"] == "pending" and made.json["organization"]["id"] == world.researcher.organization_id
    again = client.post(path, headers=writer, json={"name": "x", "email": colleague.email,
                                                    "participant_type": "research"})
    assert again.status_code == 422 and "email" in again.json["errors"]
    other_org = make.org(OrgKind.ENTERPRISE)
    foreign = client.post(path, headers=writer, json={"name": "y", "email": "y@example.cn", "participant_type":
                                                      "research", "organization_id": other_org.id})
    assert foreign.status_code == 422 and "organization_id" in foreign.json["errors"]
    wrong = client.post(path, headers=writer, json={"name": "z", "email": "z@example.cn",
                                                    "participant_type": "research", "session_ids": [999999]})
    assert wrong.status_code == 422 and "availability" in wrong.json["errors"]
    reader = client.post(path, headers=_bearer(world.researcher, ("read",)), json={"participant_type": "research"})
    assert reader.status_code == 403
    fairs.set_status(world.staff, world.fair.id, FairStatus.CLOSED)
    late = client.post(path, headers=writer,
                       json={"name": "w", "email": "w@example.cn", "participant_type": "research"})
    assert late.status_code == 409
    assert Session.scalar(sa.select(sa.func.count()).select_from(FairParticipant)) == 3


def test_meeting_requests_are_asked_listed_answered_and_scheduled(client, make, world):  # noqa: F811
    company, research = _bearer(world.enterprise), _bearer(world.researcher)
    base = f"/api/v1/fairs/{world.fair.id}"
    suggested = client.get(f"{base}/suggestions", headers=company).json
    assert suggested["participant"]["id"] == world.company.id
    assert [s["participant"]["id"] for s in suggested["items"]] == [world.research.id]
    assert "email" not in str(suggested["items"][0]["participant"])
    sent = client.post(f"{base}/requests", headers=company,
                       json={"recipient_id": world.research.id, "message": "想了解故障预测算法"})
    assert sent.status_code == 201 and sent.json["status"] == "pending"
    twice = client.post(f"{base}/requests", headers=company, json={"recipient_id": world.research.id})
    assert twice.status_code == 409
    outsider = make.user(Role.ENTERPRISE)
    posing = client.post(f"{base}/requests", headers=_bearer(outsider),
                         json={"requester_id": world.company.id, "recipient_id": world.research.id})
    assert posing.status_code == 403  # may not act for another organization's participant
    assert client.get(f"{base}/requests", headers=_bearer(outsider)).status_code == 409  # not registered
    waiting = client.get(f"{base}/requests", headers=research).json
    assert [r["id"] for r in waiting["incoming"]] == [sent.json["id"]] and waiting["outgoing"] == []
    answer = f"/api/v1/fairs/requests/{sent.json['id']}/respond"
    assert client.post(answer, headers=company, json={"accept": True}).status_code == 403  # the requester
    assert client.post(answer, headers=_bearer(outsider), json={"accept": True}).status_code == 404
    accepted = client.post(answer, headers=research, json={"accept": True, "note": "好的"})
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    meeting = meetings.active_meeting(world.company.id, world.research.id)
    unplaced = client.get(f"{base}/schedule", headers=research).json["items"]
    assert [r["meeting_id"] for r in unplaced] == [meeting.id] and unplaced[0]["starts_at"] is None
    schedule.move(world.staff, meeting.id, world.fair.sessions[0].slots[1].id, 2)
    Session.expire_all()  # a real request starts with a fresh session; the test's one app context keeps one
    placed = client.get(f"{base}/schedule", headers=research).json["items"][0]
    assert placed["starts_at"] == "2031-05-20T09:20:00+08:00" and placed["table_no"] == 2
    assert placed["counterpart"]["name"] == "黄经理"
    ics = client.get(f"{base}/schedule.ics", headers=research)
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    assert b"DTSTART;TZID=Asia/Shanghai:20310520T092000" in ics.data
    as_other = client.get(f"{base}/schedule?as={world.company.id}", headers=research)
    assert as_other.status_code == 403
    assert client.get(f"{base}/schedule?as={world.company.id}", headers=_bearer(world.staff)).status_code == 200


def test_organizations_are_read_with_public_fields_only(client, make, world):  # noqa: F811
    org = make.org(OrgKind.UNIVERSITY, name="泉州理工大学", credit_code="12350500MB0000001X")
    member = _bearer(world.enterprise, ("read",))
    assert client.get("/api/v1/organizations").status_code == 401
    found = client.get("/api/v1/organizations?q=理工", headers=member)
    assert found.status_code == 200 and [o["id"] for o in found.json["items"]] == [org.id]
    one = client.get(f"/api/v1/organizations/{org.id}", headers=member)
    assert one.json["name"] == "泉州理工大学" and "12350500MB0000001X" not in one.get_data(as_text=True)
    assert world.researcher.email not in client.get("/api/v1/organizations?limit=100", headers=member).get_data(
        as_text=True)
    assert client.get("/api/v1/organizations/99999", headers=member).status_code == 404
    first = client.get("/api/v1/organizations?limit=1", headers=member).json
    rest = client.get(f"/api/v1/organizations?limit=1&cursor={first['next_cursor']}", headers=member).json
    assert first["items"][0]["id"] != rest["items"][0]["id"]
