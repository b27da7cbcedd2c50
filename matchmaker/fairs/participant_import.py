"""Bulk registration for a fair from a CSV/XLSX sheet: one participant per row with their listings and
sessions. Every row is checked first; any error means nothing is saved and each row's errors are listed."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import audit
from matchmaker.core.errors import DomainError
from matchmaker.fairs.fairs import Registration, add_participant, check_registration, get_fair, require_staff
from matchmaker.imports.formats import read_table
from models import Fair, Organization, ResearchResult, Session, TechNeed, User
from models.fairs import ParticipantType, RegistrationStatus

# Accepted column names (Chinese first, as bureaus write them) -> field.
COLUMNS = {
    "姓名": "name", "name": "name",
    "邮箱": "email", "电子邮箱": "email", "email": "email",
    "电话": "phone", "手机": "phone", "phone": "phone",
    "职务": "job_title", "job title": "job_title", "job_title": "job_title",
    "单位": "organization", "机构": "organization", "organization": "organization",
    "类型": "type", "参会类型": "type", "type": "type",
    "科技成果": "results", "成果": "results", "results": "results",
    "技术需求": "needs", "需求": "needs", "needs": "needs",
    "可参加场次": "sessions", "场次": "sessions", "sessions": "sessions", "availability": "sessions",
}
TYPE_WORDS = {
    "成果方": ParticipantType.RESEARCH, "科研方": ParticipantType.RESEARCH, "research": ParticipantType.RESEARCH,
    "需求方": ParticipantType.ENTERPRISE, "企业方": ParticipantType.ENTERPRISE,
    "enterprise": ParticipantType.ENTERPRISE,
    "技术经纪人": ParticipantType.BROKER, "经纪人": ParticipantType.BROKER, "broker": ParticipantType.BROKER,
    "观察员": ParticipantType.OBSERVER, "observer": ParticipantType.OBSERVER,
}
SPLIT = re.compile(r"[;；\n]+")
TEMPLATE_HEADER = ["姓名", "邮箱", "电话", "职务", "单位", "类型", "科技成果", "技术需求", "可参加场次"]


class ImportRejected(DomainError):
    """At least one row is wrong; `rows` maps the row number to its messages. Nothing was saved."""

    def __init__(self, rows: dict[int, list[str]]) -> None:
        super().__init__(_("%(n)s rows have errors; nothing was imported. Correct them and upload again.",
                           n=len(rows)))
        self.rows = rows


@dataclass
class ImportResult:
    created: int
    rows: dict[int, list[str]] = field(default_factory=dict)


def _normalise(row: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for header, value in row.items():
        key = COLUMNS.get(str(header).strip().lower()) or COLUMNS.get(str(header).strip())
        if key:
            out[key] = str(value or "").strip()
    return out


def _listings(model: Any, org_id: int, cell: str, errors: list[str]) -> list[int]:
    ids = []
    for ref in filter(None, (part.strip() for part in SPLIT.split(cell))):
        stmt = sa.select(model).where(model.organization_id == org_id)
        stmt = stmt.where(model.id == int(ref)) if ref.isdigit() else stmt.where(model.title == ref)
        listing = Session.scalar(stmt.limit(1))
        if listing is None:
            errors.append(_("Unknown listing %(ref)s: no listing of this organization has this number or title.",
                            ref=ref))
        else:
            ids.append(listing.id)
    return ids


def _sessions(fair: Fair, cell: str, errors: list[str]) -> dict[int, None] | None:
    """Session names, or dates meaning every session that day; empty means every session."""
    parts = [p.strip() for p in SPLIT.split(cell) if p.strip()]
    if not parts:
        return None
    chosen: dict[int, None] = {}
    by_name = {s.name: s for s in fair.sessions}
    for part in parts:
        if part in by_name:
            chosen[by_name[part].id] = None
            continue
        try:
            day = date.fromisoformat(part)
        except ValueError:
            errors.append(_("Unknown session %(name)s.", name=part))
            continue
        if not fair.start_date <= day <= fair.end_date:
            errors.append(_("%(day)s is outside the fair's dates (%(start)s to %(end)s).", day=part,
                            start=fair.start_date.isoformat(), end=fair.end_date.isoformat()))
            continue
        chosen.update({s.id: None for s in fair.sessions if s.day == day})
    return chosen


def _row_registration(fair: Fair, row: dict[str, str], errors: list[str]) -> Registration | None:
    org = Session.scalar(sa.select(Organization).where(Organization.name == row.get("organization", "")))
    if org is None:
        errors.append(_("Unknown organization %(name)s.", name=row.get("organization", "") or "—"))
    ptype = TYPE_WORDS.get(row.get("type", "").lower()) or TYPE_WORDS.get(row.get("type", ""))
    if ptype is None:
        errors.append(_("Unknown participant type %(type)s.", type=row.get("type", "") or "—"))
    availability = _sessions(fair, row.get("sessions", ""), errors)
    if org is None or ptype is None:
        return None
    return Registration(
        name=row.get("name", ""), email=row.get("email", ""), participant_type=ptype, organization_id=org.id,
        phone=row.get("phone"), job_title=row.get("job_title"),
        result_ids=_listings(ResearchResult, org.id, row.get("results", ""), errors),
        need_ids=_listings(TechNeed, org.id, row.get("needs", ""), errors),
        availability=availability)


def import_participants(actor: User, fair_id: int, filename: str, data: bytes,
                        validate: bool = False) -> ImportResult:
    """Register every row or none. `validate` marks the imported registrations as validated."""
    require_staff(actor)
    fair = get_fair(fair_id)
    table = read_table(filename, data, int(current_app.config.get("IMPORT_MAX_ROWS", 20000)))
    problems: dict[int, list[str]] = {}
    ready: list[Registration] = []
    seen: dict[str, int] = {}
    for number, raw in table.rows:
        row = _normalise(raw)
        errors: list[str] = []
        reg = _row_registration(fair, row, errors)
        if reg is not None:
            for messages in check_registration(actor, fair, reg).values():
                errors.extend(m for m in messages if m not in errors)
            email = reg.email.strip().lower()
            if email in seen:
                errors.append(_("The same email is also on row %(row)s.", row=seen[email]))
            seen.setdefault(email, number)
        if errors:
            problems[number] = errors
        elif reg is not None:
            ready.append(reg)
    if problems:
        raise ImportRejected(problems)
    for reg in ready:
        participant = add_participant(actor, fair, reg)
        if validate:
            participant.status = RegistrationStatus.VALIDATED
    audit.record(actor.id, "fair.import", fair, {"file": [None, filename], "created": [None, len(ready)]})
    Session.commit()
    return ImportResult(created=len(ready))


def template_csv() -> bytes:
    return (",".join(TEMPLATE_HEADER) + "\n").encode("utf-8-sig")
