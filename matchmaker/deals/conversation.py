"""After acceptance, a place to talk: the two parties of an introduction and the broker of its deal
write to each other, send files, propose a meeting, mark the intention signed and hand the deal to
the broker. Every new line tells the others, as their message notices say."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import audit, jobs, mail, permissions
from matchmaker.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from matchmaker.core.notifications import notify
from matchmaker.deals import attachments, deals, introductions
from models import (
    Deal,
    DealStage,
    Introduction,
    IntroductionAttachment,
    IntroductionMessage,
    IntroductionStatus,
    MessageKind,
    Role,
    Session,
    User,
    utcnow,
)

MAX_MESSAGE = 5000
MAX_MEETING_NOTE = 500
MEETING_HORIZON_DAYS = 366

NOTICE_KINDS = {
    MessageKind.TEXT: "conversation.message",
    MessageKind.MEETING: "conversation.meeting",
    MessageKind.INTENTION: "conversation.intention",
    MessageKind.HANDOVER: "conversation.handover",
}


# --- who takes part ------------------------------------------------------------------------------

def deal_of(intro: Introduction) -> Deal | None:
    return Session.scalar(sa.select(Deal).where(Deal.introduction_id == intro.id))


def is_deal_broker(user: Any, intro: Introduction) -> bool:
    if not permissions.signed_in(user) or user.role != Role.BROKER:
        return False
    deal = deal_of(intro)
    return deal is not None and deal.broker_id == user.id


def can_take_part(user: Any, intro: Introduction) -> bool:
    """The two parties, the broker who asked, the broker of the deal, and staff."""
    return introductions.can_view(user, intro) and permissions.signed_in(user)


def _open_for(user: Any, intro_id: int) -> Introduction:
    """The introduction if the user takes part in it (NotFound otherwise: ids reveal nothing) and its
    conversation is open (accepted)."""
    intro = introductions.get_for(user, intro_id)
    if intro.status != IntroductionStatus.ACCEPTED:
        raise Conflict(_("The conversation opens once the introduction is accepted."))
    return intro


def participants(intro: Introduction) -> set[int]:
    """Everyone a new line should reach: the members of both organizations in their side's role (a
    broker may have asked on the counterpart's behalf), the requester, the brokers involved, and
    whoever has written in the conversation."""
    listing = intro.listing
    other_kind = "need" if listing.kind == "result" else "result"
    sides = ((intro.owner_org_id, permissions.OWNER_ROLE[listing.kind]),
             (intro.counterpart_org_id, permissions.OWNER_ROLE[other_kind]))
    ids = set(Session.scalars(sa.select(User.id).where(sa.or_(*(
        sa.and_(User.organization_id == org_id, User.role == role) for org_id, role in sides)))))
    ids |= {uid for uid in (listing.owner_id, intro.requested_by_id, intro.broker_id) if uid}
    deal = deal_of(intro)
    if deal is not None and deal.broker_id:
        ids.add(deal.broker_id)
    ids |= {uid for uid in Session.scalars(sa.select(IntroductionMessage.author_id).where(
        IntroductionMessage.introduction_id == intro.id).distinct()) if uid}
    return ids


# --- reading ---------------------------------------------------------------------------------

@dataclass
class Thread:
    messages: list[IntroductionMessage]
    files: list[IntroductionAttachment]
    deal: Deal | None
    can_mark_intention: bool
    can_hand_over: bool


def thread(user: Any, intro: Introduction) -> Thread | None:
    """What the introduction page shows a participant once accepted (None before, or to others)."""
    if intro.status != IntroductionStatus.ACCEPTED or not can_take_part(user, intro):
        return None
    messages = list(Session.scalars(sa.select(IntroductionMessage).where(
        IntroductionMessage.introduction_id == intro.id).order_by(IntroductionMessage.id)
        .options(so.selectinload(IntroductionMessage.author),
                 so.selectinload(IntroductionMessage.attachments).selectinload(IntroductionAttachment.uploaded_by))))
    files = [f for m in messages for f in m.attachments]
    deal = deal_of(intro)
    open_deal = deal is not None and deal.stage != DealStage.LOST
    can_mark = open_deal and deals.stage_rank(deal.stage) < deals.stage_rank(DealStage.INTENTION_SIGNED)
    return Thread(messages, files, deal, bool(can_mark), bool(open_deal and not _is_broker_or_staff(user)))


def message_counts(intro_ids: list[int]) -> dict[int, int]:
    """How many lines each conversation holds (for the list of introductions)."""
    if not intro_ids:
        return {}
    rows = Session.execute(sa.select(IntroductionMessage.introduction_id, sa.func.count())
                           .where(IntroductionMessage.introduction_id.in_(intro_ids))
                           .group_by(IntroductionMessage.introduction_id))
    return {intro_id: count for intro_id, count in rows}


def _is_broker_or_staff(user: Any) -> bool:
    return permissions.is_staff(user) or user.role == Role.BROKER


def attachment_for(user: Any, intro_id: int, attachment_id: int) -> tuple[IntroductionAttachment, Any]:
    """A file of the conversation and its path, for a participant or staff; NotFound for anyone else."""
    intro = introductions.get_for(user, intro_id)
    row = Session.get(IntroductionAttachment, attachment_id)
    if row is None or row.introduction_id != intro.id or not can_take_part(user, intro):
        raise NotFound(_("This file does not exist."))
    path = attachments.path_of(row.stored_name)
    if path is None:
        raise NotFound(_("This file does not exist."))
    return row, path


# --- writing ---------------------------------------------------------------------------------

@dataclass
class Upload:
    filename: str
    stream: IO[bytes]


def post(user: User, intro_id: int, body: str, upload: Upload | None = None) -> IntroductionMessage:
    """A message (text shown as typed, never as HTML), with at most one file. Checked in full before
    anything is written; if saving fails the file is removed again."""
    intro = _open_for(user, intro_id)
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    checked = None
    if upload is not None:
        try:
            checked = attachments.check(upload.filename, upload.stream)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if len(body) > MAX_MESSAGE:
        errors["body"] = [_("At most %(n)s characters.", n=MAX_MESSAGE)]
    elif not body and checked is None and "file" not in errors:
        errors["body"] = [_("Write a message or choose a file.")]
    if errors:
        raise ValidationFailed(errors)
    message = IntroductionMessage(introduction_id=intro.id, author_id=user.id, kind=MessageKind.TEXT, body=body)
    Session.add(message)
    stored = None
    try:
        if checked is not None:
            stored = attachments.new_stored_name(checked.file_type)
            message.attachments.append(IntroductionAttachment(
                introduction_id=intro.id, uploaded_by_id=user.id, filename=checked.filename,
                file_type=checked.file_type, size=checked.size, sha256=checked.sha256, stored_name=stored))
            attachments.write(stored, checked.data)
        Session.flush()
        audit.record(user.id, "introduction.message", intro,
                     {"message_id": message.id, **({"file": checked.filename} if checked else {})})
        _tell_others(user, intro, message)
        Session.commit()
    except BaseException:
        Session.rollback()
        if stored is not None:
            attachments.remove(stored)
        raise
    _mail_after_commit(message)
    return message


@dataclass
class MeetingInput:
    day: date | None
    at: time | None
    note: str = ""


def propose_meeting(user: User, intro_id: int, data: MeetingInput) -> IntroductionMessage:
    """A message proposing a meeting at a date and time (the site's time zone), in the future."""
    intro = _open_for(user, intro_id)
    errors: dict[str, list[str]] = {}
    if data.day is None:
        errors["day"] = [_("Choose the day.")]
    if data.at is None:
        errors["at"] = [_("Choose the time.")]
    note = (data.note or "").strip()
    if len(note) > MAX_MEETING_NOTE:
        errors["note"] = [_("At most %(n)s characters.", n=MAX_MEETING_NOTE)]
    when = None
    if data.day is not None and data.at is not None:
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        try:
            when = datetime.combine(data.day, data.at, tzinfo=zone).astimezone(UTC)
        except (OverflowError, ValueError):
            errors["day"] = [_("Choose a day in the coming year.")]
        else:
            now = utcnow()
            if when <= now:
                errors["day"] = [_("Choose a time that has not passed yet.")]
            elif when > now + timedelta(days=MEETING_HORIZON_DAYS):
                errors["day"] = [_("Choose a day in the coming year.")]
    if errors:
        raise ValidationFailed(errors)
    return _step(user, intro, MessageKind.MEETING, note, meeting_at=when)


def mark_intention_signed(user: User, intro_id: int) -> IntroductionMessage:
    """A party (or the broker) records that the intention was signed: the deal moves on to
    INTENTION_SIGNED through the deals service, and the conversation says who did it."""
    intro = _open_for(user, intro_id)
    deal = deal_of(intro)
    if deal is None:
        raise Conflict(_("No deal follows this introduction, so there is nothing to mark."))
    if deal.stage == DealStage.LOST:
        raise Conflict(_("The deal was marked lost; ask its broker to reopen it."))
    if not deals.advance_to(deal, DealStage.INTENTION_SIGNED, user.id):
        raise Conflict(_("The deal is already at this stage or later."))
    return _step(user, intro, MessageKind.INTENTION, "")


def hand_to_broker(user: User, intro_id: int, note: str = "") -> IntroductionMessage:
    """A party asks the broker to take the deal on: its broker is told, or, while it has none, every
    broker (it waits in the unassigned queue on their board)."""
    intro = _open_for(user, intro_id)
    deal = deal_of(intro)
    if deal is None:
        raise Conflict(_("No deal follows this introduction, so there is nothing to hand over."))
    if _is_broker_or_staff(user):
        raise NotAllowed(_("The parties hand the deal to the broker."))
    note = (note or "").strip()
    if len(note) > MAX_MEETING_NOTE:
        raise ValidationFailed({"note": [_("At most %(n)s characters.", n=MAX_MEETING_NOTE)]})
    extra: set[int] = set()
    if deal.broker_id is None:
        extra = set(Session.scalars(sa.select(User.id).where(User.role == Role.BROKER, User.active.is_(True))))
    return _step(user, intro, MessageKind.HANDOVER, note, extra_recipients=extra, link=f"/deals/{deal.id}")


def _step(user: User, intro: Introduction, kind: str, body: str, meeting_at: datetime | None = None,
          extra_recipients: set[int] | None = None, link: str | None = None) -> IntroductionMessage:
    message = IntroductionMessage(introduction_id=intro.id, author_id=user.id, kind=kind, body=body,
                                  meeting_at=meeting_at)
    Session.add(message)
    try:
        Session.flush()
        audit.record(user.id, f"introduction.{kind}", intro, {"message_id": message.id})
        _tell_others(user, intro, message, extra_recipients or set(), link)
        Session.commit()
    except BaseException:
        Session.rollback()
        raise
    _mail_after_commit(message)
    return message


# --- telling the others ------------------------------------------------------------------------

def _tell_others(user: User, intro: Introduction, message: IntroductionMessage, extra: set[int] | None = None,
                 link: str | None = None) -> None:
    recipients = (participants(intro) | (extra or set())) - {user.id}
    if not recipients:
        return
    wanted = list(Session.scalars(sa.select(User.id).where(
        User.id.in_(recipients), User.active.is_(True), User.message_notices != "off")))
    params = {"title": intro.listing.title, "intro_id": intro.id, "author": user.name,
              "message_id": message.id}
    if message.meeting_at is not None:
        params["at"] = message.meeting_at.isoformat()
    notify(wanted, NOTICE_KINDS[MessageKind(message.kind)], params,
           link=link or f"/introductions/{intro.id}#message-{message.id}")


def _mail_after_commit(message: IntroductionMessage) -> None:
    if mail.enabled():
        jobs.dispatch("conversation.mail_message", message.id)


def mail_message(message_id: int) -> int:
    """The background job: an email to each participant who asked for one (message notices "mail")."""
    from flask_babel import force_locale

    from matchmaker.core import notifications

    message = Session.get(IntroductionMessage, message_id)
    if message is None:
        return 0
    intro = message.introduction
    rows = list(Session.scalars(sa.select(User).where(
        User.id.in_(participants(intro) - {message.author_id or 0}), User.active.is_(True),
        User.message_notices == "mail")))
    site = current_app.config["SITE_URL"].rstrip("/")
    kind = NOTICE_KINDS[MessageKind(message.kind)]
    sent = 0
    for user in rows:
        if not user.email or not can_take_part(user, intro):
            continue
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            params = {"title": intro.listing.title, "author": message.author.name if message.author else ""}
            subject = _(notifications.MESSAGES[kind], **params)
            body = "\n\n".join(part for part in (message.body, f"{site}/introductions/{intro.id}") if part)
            mail.send(user.email, subject, body)
        sent += 1
    return sent
