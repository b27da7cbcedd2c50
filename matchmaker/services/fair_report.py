"""The fair report: registrations, meeting funnel, no-show rate, intentions, contracts and their value,
as figures for the page and as an XLSX workbook."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from matchmaker.services.fair_meetings import meeting_status_label, outcome_label
from matchmaker.services.fairs import get_fair, participant_type_label
from models import FairMeeting, FairParticipant, MeetingRequest, Session
from models.fairs import MeetingOutcome, MeetingStatus, RegistrationStatus, RequestStatus


@dataclass
class Figures:
    registrations: int = 0
    validated: int = 0
    checked_in: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    requests_accepted: int = 0
    requests_declined: int = 0
    requests_expired: int = 0
    meetings: int = 0          # agreed (accepted requests and staff-made), not cancelled
    scheduled: int = 0
    held: int = 0
    no_show: int = 0
    follow_ups: int = 0
    intentions: int = 0
    contracts_at_meetings: int = 0
    contracts: int = 0         # registered technology contracts attributed to the fair
    contract_amount_fen: int = 0
    contract_tech_amount_fen: int = 0

    @property
    def no_show_rate(self) -> float | None:
        """Share of meetings that were due and did not happen (held + no-show as the base)."""
        due = self.held + self.no_show
        return self.no_show / due if due else None

    def funnel(self) -> list[tuple[str, int]]:
        return [
            (_("Meeting requests sent"), self.requests),
            (_("Requests accepted"), self.requests_accepted),
            (_("Meetings agreed"), self.meetings),
            (_("Meetings scheduled"), self.scheduled),
            (_("Meetings held"), self.held),
            (_("Intentions signed"), self.intentions),
            (_("Contracts signed"), self.contracts_at_meetings),
        ]


def _count(stmt: sa.Select) -> int:
    return int(Session.scalar(stmt) or 0)


def figures(fair_id: int) -> Figures:
    fair = get_fair(fair_id)
    f = Figures()
    people = sa.select(FairParticipant.participant_type, FairParticipant.status,
                       FairParticipant.checked_in_at).where(FairParticipant.fair_id == fair.id)
    for ptype, status, checked_in_at in Session.execute(people):
        f.registrations += 1
        f.validated += status == RegistrationStatus.VALIDATED
        f.checked_in += checked_in_at is not None
        f.by_type[ptype] = f.by_type.get(ptype, 0) + 1
    for status, n in Session.execute(sa.select(MeetingRequest.status, sa.func.count())
                                     .where(MeetingRequest.fair_id == fair.id).group_by(MeetingRequest.status)):
        f.requests += n
        if status == RequestStatus.ACCEPTED:
            f.requests_accepted = n
        elif status == RequestStatus.DECLINED:
            f.requests_declined = n
        elif status == RequestStatus.EXPIRED:
            f.requests_expired = n
    rows = Session.execute(sa.select(FairMeeting.status, FairMeeting.outcome, FairMeeting.slot_id)
                           .where(FairMeeting.fair_id == fair.id, FairMeeting.status != MeetingStatus.CANCELLED))
    for status, outcome, slot_id in rows:
        f.meetings += 1
        f.scheduled += slot_id is not None
        f.held += status == MeetingStatus.HELD
        f.no_show += status == MeetingStatus.NO_SHOW
        f.follow_ups += outcome == MeetingOutcome.FOLLOW_UP
        f.intentions += outcome == MeetingOutcome.INTENTION
        f.contracts_at_meetings += outcome == MeetingOutcome.CONTRACT
    _add_contracts(f, fair.id)
    return f


def _add_contracts(f: Figures, fair_id: int) -> None:
    try:
        from models.deals import Contract
    except ImportError:  # contracts are another feature; the report works without them
        return
    n, amount, tech = Session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(Contract.amount_fen), 0),
        sa.func.coalesce(sa.func.sum(Contract.tech_amount_fen), 0)).where(Contract.fair_id == fair_id)).one()
    f.contracts, f.contract_amount_fen, f.contract_tech_amount_fen = int(n), int(amount), int(tech)


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def xlsx(fair_id: int) -> bytes:
    """A workbook with the summary figures and one row per meeting."""
    fair = get_fair(fair_id)
    f = figures(fair.id)
    wb = Workbook()
    ws = wb.active
    ws.title = _("Summary")[:31]
    ws.append([fair.name])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([_("Dates"), f"{fair.start_date.isoformat()} – {fair.end_date.isoformat()}"])
    rate = f.no_show_rate
    summary = [
        (_("Registrations"), f.registrations), (_("Validated"), f.validated), (_("Checked in"), f.checked_in),
        *[(participant_type_label(t), n) for t, n in sorted(f.by_type.items())],
        *f.funnel(),
        (_("No-shows"), f.no_show),
        (_("No-show rate"), f"{rate:.1%}" if rate is not None else "—"),
        (_("Follow-ups planned"), f.follow_ups),
        (_("Technology contracts registered"), f.contracts),
        (_("Contract value (yuan)"), f.contract_amount_fen / 100),
        (_("Technology transaction value (yuan)"), f.contract_tech_amount_fen / 100),
    ]
    for label, value in summary:
        ws.append([label, value])
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 24

    sheet = wb.create_sheet(_("Meetings")[:31])
    header = [_("Meeting"), _("Time"), _("Table"), _("Participant"), _("Organization"), _("Counterpart"),
              _("Organization"), _("Status"), _("Outcome")]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    stmt = sa.select(FairMeeting).where(FairMeeting.fair_id == fair.id).order_by(FairMeeting.id)
    for m in Session.scalars(stmt):
        sheet.append([m.id, m.slot.starts_at.strftime("%Y-%m-%d %H:%M") if m.slot else "", m.table_no or "",
                      m.a.name, m.a.organization.name, m.b.name, m.b.organization.name,
                      meeting_status_label(m.status), outcome_label(m.outcome)])
    for col, width in zip("ABCDEFGHI", (9, 18, 7, 14, 28, 14, 28, 10, 14), strict=True):
        sheet.column_dimensions[col].width = width
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
