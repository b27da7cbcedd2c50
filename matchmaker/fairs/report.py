"""The fair report: registrations, meetings and no-shows, the outcomes recorded at the tables, the
fair's contacts followed to registered contracts (as the statistics count them) and the contracts
linked to the fair, as figures for the page and as an XLSX workbook."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from matchmaker.core.xlsx import bold_header, sheet_title, to_bytes
from matchmaker.fairs.fairs import get_fair, participant_type_label
from matchmaker.fairs.meetings import meeting_status_label, outcome_label
from matchmaker.stats import funnel
from matchmaker.stats.scope import FunnelStep, Scope
from models import Contract, FairMeeting, FairParticipant, MeetingRequest, Session
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
    unmarked: int = 0          # scheduled and neither marked held nor no-show yet
    # Outcomes recorded at the tables during the fair, one per meeting.
    follow_ups: int = 0
    intentions_at_meetings: int = 0
    contracts_at_meetings: int = 0
    # The fair's contacts followed to today, as the statistics dashboard counts them for this fair:
    # requests → accepted → held → intention → a registered contract linked to the meeting's deal.
    funnel: list[FunnelStep] = field(default_factory=list)
    # Registered technology contracts whose fair is this one (Contract.fair_id), however they came about.
    contracts: int = 0
    contract_amount_fen: int = 0
    contract_tech_amount_fen: int = 0

    @property
    def marked(self) -> int:
        """Meetings marked held or no-show: the only ones whose attendance is known."""
        return self.held + self.no_show

    @property
    def no_show_rate(self) -> float | None:
        """Share of the marked meetings that did not happen; None until a meeting is marked (unmarked
        meetings are unknown, not attended)."""
        return self.no_show / self.marked if self.marked else None

    def no_show_text(self) -> str:
        """The rate in words, with the base it is computed on."""
        if not self.marked:
            return _("not yet recorded (%(n)s meetings not marked)", n=self.unmarked)
        return _("%(rate)s of %(marked)s marked meetings (%(n)s not yet marked)",
                 rate=f"{self.no_show_rate:.1%}", marked=self.marked, n=self.unmarked)

    def step(self, key: str) -> FunnelStep:
        return next(s for s in self.funnel if s.key == key)

    @property
    def contracts_from_meetings(self) -> int:
        """Registered contracts linked to the deals this fair's meetings opened."""
        return self.step("contracts").contracts or 0

    @property
    def contracts_from_meetings_amount_fen(self) -> int:
        return self.step("contracts").amount_fen or 0


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
        f.unmarked += slot_id is not None and status == MeetingStatus.PLANNED
        f.follow_ups += outcome == MeetingOutcome.FOLLOW_UP
        f.intentions_at_meetings += outcome == MeetingOutcome.INTENTION
        f.contracts_at_meetings += outcome == MeetingOutcome.CONTRACT
    f.funnel = funnel.funnel(Scope(period="all", fair_id=fair.id))
    n, amount, tech = Session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(Contract.amount_fen), 0),
        sa.func.coalesce(sa.func.sum(Contract.tech_amount_fen), 0)).where(Contract.fair_id == fair.id)).one()
    f.contracts, f.contract_amount_fen, f.contract_tech_amount_fen = int(n), int(amount), int(tech)
    return f


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def xlsx(fair_id: int) -> bytes:
    """A workbook with the summary figures and one row per meeting."""
    fair = get_fair(fair_id)
    f = figures(fair.id)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title(_("Summary"))
    ws.append([fair.name])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([_("Dates"), f"{fair.start_date.isoformat()} – {fair.end_date.isoformat()}"])
    summary = [
        (_("Registrations"), f.registrations), (_("Validated"), f.validated), (_("Checked in"), f.checked_in),
        *[(participant_type_label(t), n) for t, n in sorted(f.by_type.items())],
        (_("Meeting requests sent"), f.requests), (_("Requests accepted"), f.requests_accepted),
        (_("Meetings agreed"), f.meetings), (_("Meetings scheduled"), f.scheduled), (_("Meetings held"), f.held),
        (_("No-shows"), f.no_show),
        (_("Meetings not yet marked held or no-show"), f.unmarked),
        (_("No-show rate"), f"{f.no_show_rate:.1%}" if f.no_show_rate is not None else _("not yet recorded")),
        (_("Outcome recorded at the meeting: follow-up"), f.follow_ups),
        (_("Outcome recorded at the meeting: intention signed"), f.intentions_at_meetings),
        (_("Outcome recorded at the meeting: contract signed"), f.contracts_at_meetings),
        *[(_("Followed to today: %(step)s", step=step.label), step.count) for step in f.funnel],
        (_("Registered contracts linked to deals of the fair meetings"), f.contracts_from_meetings),
        (_("Their contract value (yuan)"), f.contracts_from_meetings_amount_fen / 100),
        (_("Technology contracts registered with a link to this fair"), f.contracts),
        (_("Contract value (yuan)"), f.contract_amount_fen / 100),
        (_("Technology transaction value (yuan)"), f.contract_tech_amount_fen / 100),
    ]
    for label, value in summary:
        ws.append([label, value])
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 24

    sheet = wb.create_sheet(sheet_title(_("Meetings")))
    header = [_("Meeting"), _("Time"), _("Table"), _("Participant"), _("Organization"), _("Counterpart"),
              _("Organization"), _("Status"), _("Outcome")]
    sheet.append(header)
    bold_header(sheet)
    stmt = sa.select(FairMeeting).where(FairMeeting.fair_id == fair.id).order_by(FairMeeting.id)
    for m in Session.scalars(stmt):
        sheet.append([m.id, m.slot.starts_at.strftime("%Y-%m-%d %H:%M") if m.slot else "", m.table_no or "",
                      m.a.name, m.a.organization.name, m.b.name, m.b.organization.name,
                      meeting_status_label(m.status), outcome_label(m.outcome)])
    for col, width in zip("ABCDEFGHI", (9, 18, 7, 14, 28, 14, 28, 10, 14), strict=True):
        sheet.column_dimensions[col].width = width
    return to_bytes(wb)
