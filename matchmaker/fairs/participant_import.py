"""Bulk registration for a fair from a CSV/XLSX sheet: one participant per row with their listings and
sessions. The request only keeps the file (core.uploads.PreviewedUpload); a background job reads and checks
every row into a preview with each row's errors; staff then import every row (none while any row has an
error), only the valid ones, or discard the upload. Nothing is saved half-way."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import audit, uploads
from matchmaker.core.errors import Conflict, NotFound
from matchmaker.fairs.fairs import Registration, add_participant, check_registration, get_fair, require_staff
from matchmaker.imports.formats import ImportFileError, check_upload, read_table
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


JOB_KIND = "fairs.participant_import"
READ_JOB = "fairs.participant_read"
# The columns a sheet cannot do without (field -> the column name the template uses).
REQUIRED_COLUMNS = {"name": "姓名", "email": "邮箱", "organization": "单位", "type": "类型"}


@dataclass
class ImportResult:
    created: int
    skipped: int = 0


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


def _check_row(actor: User, fair: Fair, row: dict[str, str], seen: dict[str, int],
               number: int) -> tuple[Registration | None, list[str]]:
    """The registration form's checks on one row, and an e-mail an earlier row (`seen`) already has."""
    errors: list[str] = []
    reg = _row_registration(fair, row, errors)
    if reg is not None:
        for messages in check_registration(actor, fair, reg).values():
            errors.extend(m for m in messages if m not in errors)
        email = reg.email.strip().lower()
        if email in seen:
            errors.append(_("The same email is also on row %(row)s.", row=seen[email]))
        seen.setdefault(email, number)
    return reg, errors


def _registration_json(reg: Registration | None) -> dict[str, Any] | None:
    if reg is None:
        return None
    return {"name": reg.name, "email": reg.email, "participant_type": reg.participant_type,
            "organization_id": reg.organization_id, "phone": reg.phone, "job_title": reg.job_title,
            "result_ids": reg.result_ids, "need_ids": reg.need_ids,
            "sessions": None if reg.availability is None else list(reg.availability)}


def _registration(values: dict[str, Any]) -> Registration:
    sessions = values.get("sessions")
    return Registration(
        name=values["name"], email=values["email"], participant_type=values["participant_type"],
        organization_id=values["organization_id"], phone=values.get("phone"), job_title=values.get("job_title"),
        result_ids=list(values.get("result_ids") or []), need_ids=list(values.get("need_ids") or []),
        availability=None if sessions is None else {int(sid): None for sid in sessions})


def _check(params: dict[str, Any], data: bytes, progress: uploads.ReadProgress) -> tuple[list[dict[str, Any]], int]:
    """The reading job: every row of the sheet with what it registers and its errors."""
    actor = Session.get(User, params["user_id"])
    fair = get_fair(params["fair_id"])
    table = read_table(params["filename"], data, int(current_app.config["IMPORT_MAX_ROWS"]), progress.reading)
    present = {COLUMNS.get(str(h).strip().lower()) or COLUMNS.get(str(h).strip()) for h in table.headers}
    missing = [header for key, header in REQUIRED_COLUMNS.items() if key not in present]
    if missing:
        raise ImportFileError(_("The sheet has no column %(missing)s. Use the template's columns: %(columns)s.",
                                missing="、".join(missing), columns="、".join(TEMPLATE_HEADER)))
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, raw in table.rows:
        cells = _normalise(raw)
        reg, errors = _check_row(actor, fair, cells, seen, number)
        rows.append({"row": number, "cells": cells, "registration": _registration_json(reg), "errors": errors})
        progress.checking(len(rows), len(table.rows))
    return rows, sum(1 for r in rows if r["errors"])


UPLOADS = uploads.PreviewedUpload("participants", READ_JOB, JOB_KIND, _check)


def upload(actor: User, fair_id: int, filename: str, data: bytes, validate: bool = False) -> int:
    """Keep the sheet and queue its reading; returns the preview's id at once. Only the checks that cost
    nothing (extension, empty file, a workbook's zip directory) refuse a file here. `validate` marks the
    imported registrations as validated."""
    require_staff(actor)
    fair = get_fair(fair_id)
    return UPLOADS.upload(actor.id, filename, check_upload(filename, data), data, fair_id=fair.id,
                          validate=bool(validate))


def read_upload(job_id: int) -> dict[str, Any]:
    return UPLOADS.read_upload(job_id)


def fail_stale_reads() -> int:
    return UPLOADS.fail_stale_reads()


def _own_preview(fair_id: int, job_id: int) -> None:
    job, _reading = UPLOADS.preview(job_id)
    if (job.params or {}).get("fair_id") != fair_id:
        raise NotFound(_("This import does not exist."))


def load_preview(actor: User, fair_id: int, job_id: int) -> uploads.UploadPreview:
    require_staff(actor)
    _own_preview(fair_id, job_id)
    return UPLOADS.load(job_id)


def confirm(actor: User, fair_id: int, job_id: int, valid_only: bool) -> ImportResult:
    """Register the previewed rows in one transaction: every row, or with `valid_only` the rows without
    errors. Each row is checked again (someone may have registered the same e-mail meanwhile)."""
    require_staff(actor)
    _own_preview(fair_id, job_id)
    job, rows = UPLOADS.rows_to_confirm(job_id, valid_only)
    fair = get_fair(fair_id)
    ready: list[Registration] = []
    seen: dict[str, int] = {}
    skipped = 0
    for row in rows:
        if row["errors"] or row.get("registration") is None:
            skipped += 1
            continue
        reg = _registration(row["registration"])
        errors = [m for ms in check_registration(actor, fair, reg).values() for m in ms]
        email = reg.email.strip().lower()
        if email in seen:
            errors.append(_("The same email is also on row %(row)s.", row=seen[email]))
        seen.setdefault(email, row["row"])
        if errors:
            if not valid_only:
                raise Conflict(_("Row %(row)s is no longer valid (%(message)s); nothing was saved.",
                                 row=row["row"], message=" ".join(errors)))
            skipped += 1
            continue
        ready.append(reg)
    for reg in ready:
        participant = add_participant(actor, fair, reg)
        if (job.params or {}).get("validate"):
            participant.status = RegistrationStatus.VALIDATED
    audit.record(actor.id, "fair.import", fair, {"file": [None, (job.params or {}).get("filename")],
                                                 "created": [None, len(ready)], "skipped": [None, skipped]})
    UPLOADS.finish(job, len(ready), skipped)
    Session.commit()
    return ImportResult(created=len(ready), skipped=skipped)


def discard(actor: User, fair_id: int, job_id: int) -> None:
    require_staff(actor)
    _own_preview(fair_id, job_id)
    UPLOADS.discard(job_id)


def template_csv() -> bytes:
    return (",".join(TEMPLATE_HEADER) + "\n").encode("utf-8-sig")
