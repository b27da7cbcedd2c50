"""Printable outputs of a fair: each participant's schedule (with a check-in QR code), a sheet per
table, and an ICS calendar per participant."""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from icalendar import Calendar, Event

from matchmaker.fairs.fairs import get_fair, get_participant, participant_meetings
from models import FairMeeting, FairParticipant, FairSlot, Session, utcnow
from models.fairs import MeetingStatus, RegistrationStatus


@dataclass
class ScheduleRow:
    meeting: FairMeeting
    slot: FairSlot | None
    table_no: int | None
    counterpart: FairParticipant
    listing_titles: list[str]


def _titles(meeting: FairMeeting, *people: FairParticipant) -> list[str]:
    """The listings the meeting is about, else what the people bring to the fair."""
    titles = [x.title for x in (meeting.result, meeting.need) if x is not None]
    if titles:
        return titles
    return [fl.listing.title for p in people for fl in p.listings if fl.listing is not None][:4]


def participant_rows(participant_id: int) -> list[ScheduleRow]:
    """The participant's meetings, scheduled ones by time, then the ones still without a slot."""
    rows = []
    for meeting in participant_meetings(participant_id):
        other = meeting.other(participant_id)
        rows.append(ScheduleRow(meeting, meeting.slot, meeting.table_no, other, _titles(meeting, other)))
    rows.sort(key=lambda r: (r.slot is None, r.slot.starts_at if r.slot else datetime.max, r.meeting.id))
    return rows


def printable_participants(fair_id: int) -> list[FairParticipant]:
    """Everyone validated with at least one meeting, by organization then name (the desk's order)."""
    fair = get_fair(fair_id)
    people = Session.scalars(sa.select(FairParticipant).where(
        FairParticipant.fair_id == fair.id, FairParticipant.status == RegistrationStatus.VALIDATED))
    return sorted((p for p in people if participant_meetings(p.id)), key=lambda p: (p.organization.name, p.name))


@dataclass
class TableSheet:
    session_name: str
    day: str
    table_no: int
    rows: list[tuple[FairSlot, FairMeeting | None]]


def table_sheets(fair_id: int) -> list[TableSheet]:
    fair = get_fair(fair_id)
    placed = Session.scalars(sa.select(FairMeeting).where(
        FairMeeting.fair_id == fair.id, FairMeeting.slot_id.is_not(None),
        FairMeeting.status != MeetingStatus.CANCELLED))
    at = {(m.slot_id, m.table_no): m for m in placed}
    sheets = []
    for session in fair.sessions:
        for table in range(1, session.tables + 1):
            rows = [(slot, at.get((slot.id, table))) for slot in session.slots]
            if any(m is not None for _slot, m in rows):
                sheets.append(TableSheet(session.name, session.day.isoformat(), table, rows))
    return sheets


def qr_svg(data: str) -> str:
    """An inline <svg> QR code (no files, prints sharply)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


def qr_data_uri(data: str) -> str:
    """The same code as an SVG data URI, for places where inline markup is not wanted."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def calendar_ics(participant_id: int, checkin_url: str | None = None) -> bytes:
    """One VEVENT per scheduled meeting, in the fair's time zone (defined in the file by a VTIMEZONE)."""
    participant = get_participant(participant_id)
    fair = participant.fair
    tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
    cal = Calendar()
    cal.add("prodid", "-//Matchmaker//Fair schedule//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{fair.name} · {participant.name}")
    for row in participant_rows(participant.id):
        if row.slot is None:
            continue
        event = Event()
        event.add("uid", f"fair-{fair.id}-meeting-{row.meeting.id}@matchmaker")
        event.add("dtstart", row.slot.starts_at.replace(tzinfo=tz))
        event.add("dtend", row.slot.ends_at.replace(tzinfo=tz))
        table = _("Table %(table)s", table=row.table_no)
        event.add("summary", f"{row.counterpart.name} · {row.counterpart.organization.name} · {table}")
        event.add("location", f"{fair.venue} {table}".strip())
        description = "\n".join(row.listing_titles)
        if checkin_url:
            description += f"\n{checkin_url}"
        event.add("description", description.strip())
        event.add("dtstamp", _as_utc(fair.schedule_updated_at or utcnow()))
        cal.add_component(event)
    # The VTIMEZONE its TZID names, so every calendar app reads the fair's wall-clock times right.
    cal.add_missing_timezones()
    return cal.to_ical()


def _as_utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
