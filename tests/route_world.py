"""A world for walking every route: users of every kind, listings in every status with hidden texts planted
as unique markers (each naming the visitors who may see it), and the URL map filled with their real ids.
Used by the route walker and the form fuzzer."""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from matchmaker.deals import conversation, deals, introductions
from models import DealStage, Fair, ListingStatus, OrgKind, Role, Session
from models.fairs import FairStatus

UNPUBLISHED = (ListingStatus.DRAFT, ListingStatus.PENDING, ListingStatus.REJECTED, ListingStatus.EXPIRED)
MISSING_ID = 987654  # an id no table holds: must answer 404, not 500
VISITORS = ("anonymous", "deactivated_owner", "researcher", "enterprise", "outsider_researcher",
            "outsider_enterprise", "broker", "staff", "admin")
OWNER_SIDE = {"result": ("researcher", "staff", "admin"), "need": ("enterprise", "staff", "admin")}


RESULT_ONLY = ("inventor", "patent")  # hidden parts only research results have


def result_secrets(marker: str) -> dict[str, Any]:
    return {"inventors": f"{marker}inventor", "patent_numbers": [f"{marker}patent"]}


@dataclass
class World:
    users: dict[str, Any] = field(default_factory=dict)
    listings: list[tuple[str, int]] = field(default_factory=list)  # (kind, id)
    # marker -> visitors who may see it
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)


def build_world(make) -> World:
    w = World()
    uni, firm = make.org(OrgKind.UNIVERSITY), make.org(OrgKind.ENTERPRISE)
    other_uni, other_firm = make.org(OrgKind.UNIVERSITY), make.org(OrgKind.ENTERPRISE)
    w.users = {
        "researcher": make.user(Role.RESEARCHER, uni),
        "deactivated_owner": make.user(Role.RESEARCHER, uni, active=False),
        "enterprise": make.user(Role.ENTERPRISE, firm),
        "outsider_researcher": make.user(Role.RESEARCHER, other_uni),
        "outsider_enterprise": make.user(Role.ENTERPRISE, other_firm),
        "broker": make.user(Role.BROKER),
        "staff": make.user(Role.STAFF),
        "admin": make.user(Role.ADMIN),
    }
    for kind, factory, owner in (("result", make.result, w.users["researcher"]),
                                 ("need", make.need, w.users["enterprise"])):
        may_see = OWNER_SIDE[kind]
        for status in UNPUBLISHED:
            marker = f"HIDDEN{kind}{status}"
            extra = result_secrets(marker) if kind == "result" else {}
            listing = factory(owner=owner, status=status, title=f"{marker}title", description=f"{marker}text",
                              contact_phone=f"{marker}phone", **extra)
            w.secrets.update({f"{marker}{part}": may_see for part in ("title", "text", "phone")
                              + (RESULT_ONLY if kind == "result" else ())})
            w.listings.append((kind, listing.id))
        marker = f"CONFIDENTIAL{kind}"
        extra = result_secrets(marker) if kind == "result" else {}
        secret = factory(owner=owner, confidential=True, title=f"保密{kind}", summary="公开的简介",
                         description=f"{marker}text", contact_name=f"{marker}contact",
                         contact_phone=f"{marker}phone", contact_email=f"{marker}@example.cn", **extra)
        for suffix in ("text", "contact", "phone", "@example.cn") + (RESULT_ONLY if kind == "result" else ()):
            w.secrets[f"{marker}{suffix}"] = may_see
        open_listing = factory(owner=owner, title=f"公开{kind}", description="公开的详细说明")
        closed = factory(owner=owner, status=ListingStatus.CLOSED, title=f"已关闭{kind}")
        w.listings += [(kind, secret.id), (kind, open_listing.id), (kind, closed.id)]
        w.ids.setdefault(f"{kind}_open", []).append(open_listing.id)
        w.ids.setdefault(f"{kind}_confidential", []).append(secret.id)

    # An introduction the enterprise asked for, still pending: its message is between the two sides.
    intro = introductions.request(w.users["enterprise"], introductions.RequestInput(
        kind="result", listing_id=w.ids["result_confidential"][0], message="INTROMESSAGE想了解授权条件"))
    w.secrets["INTROMESSAGE"] = ("researcher", "enterprise", "staff", "admin")
    # A deal the broker follows, with a note on its next step.
    deal = deals.open_deal(w.ids["result_open"][0], w.ids["need_open"][0], uni.id, firm.id, w.users["broker"].id,
                           "match", stage=DealStage.INTRODUCED, actor_id=w.users["broker"].id)
    deal.next_action = "DEALNOTE约定下周二现场考察"
    Session.commit()
    w.secrets["DEALNOTE"] = ("researcher", "enterprise", "broker", "staff", "admin")
    # An accepted introduction about the open result joins that deal: its conversation, with a file, is
    # between the two sides and the deal's broker.
    talk = introductions.request(w.users["enterprise"], introductions.RequestInput(
        kind="result", listing_id=w.ids["result_open"][0], message="想谈授权"))
    introductions.accept(w.users["researcher"], talk.id)
    message = conversation.post(w.users["enterprise"], talk.id, "TALKMESSAGE下周二来厂里看看？", conversation.Upload(
        "TALKFILE报价.pdf", io.BytesIO(b"%PDF-1.4\nTALKFILECONTENT\n%%EOF\n")))
    conversation.propose_meeting(w.users["researcher"], talk.id, conversation.MeetingInput(
        date.today() + timedelta(days=30), time(10, 0), "TALKMEETING厂区会议室"))
    for marker in ("TALKMESSAGE", "TALKFILE", "TALKFILECONTENT", "TALKMEETING"):
        w.secrets[marker] = ("researcher", "enterprise", "broker", "staff", "admin")
    fair = Fair(name="秋季对接会", start_date=date(2031, 10, 20), end_date=date(2031, 10, 20),
                status=FairStatus.OPEN)
    Session.add(fair)
    Session.commit()
    w.ids.update(intro_id=[intro.id, talk.id], deal_id=[deal.id], fair_id=[fair.id],
                 attachment_id=[message.attachments[0].id])
    return w


def log_in(client, user) -> None:
    with client.session_transaction() as sess:
        sess.clear()
        if user is not None:
            sess["_user_id"] = user.get_id()
            sess["_fresh"] = True


def urls(app, world: World, method: str = "GET", listings: list[tuple[str, int]] | None = None,
         missing: bool = True) -> list[str]:
    """Every rule answering `method`, with each id parameter filled by real ids (of `listings`, all by default)
    and, when `missing`, one id that names nothing."""
    extra = [MISSING_ID] if missing else []
    values: dict[str, list[Any]] = {
        "lang": ["en", "zh"], "filename": ["css/site.css"], "token": ["not-a-real-token"], "fmt": ["csv", "jsonl"],
        "intro_id": world.ids["intro_id"] + extra, "deal_id": world.ids["deal_id"] + extra,
        "fair_id": world.ids["fair_id"] + extra, "attachment_id": world.ids["attachment_id"] + extra,
        "decision": ["approve", "reject"], "action": ["pin", "cancel"],
    }
    urls: list[str] = []
    for rule in app.url_map.iter_rules():
        if method not in rule.methods:
            continue
        args = set(rule.arguments)
        if {"kind", "listing_id"} <= args:
            combos = [{"kind": k, "listing_id": i} for k, i in (listings or world.listings)]
            combos += [{"kind": "result", "listing_id": i} for i in extra]
        elif "kind" in args:
            combos = [{"kind": "result"}, {"kind": "need"}]
        else:
            combos = [{}]
        for name in args - {"kind", "listing_id"}:
            options = values.get(name, [1, *extra])
            combos = [{**c, name: v} for c in combos for v in options]
        for combo in combos:
            urls.append(build(rule.rule, combo))
    return sorted(set(urls))


def text(response) -> str:
    """What a visitor can read in a response: pages and CSV as text, downloads (.xlsx) unzipped."""
    data = response.get_data()
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8", "replace")


def build(rule: str, values: dict[str, Any]) -> str:
    return re.sub(r"<(?:[^:<>]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule)
