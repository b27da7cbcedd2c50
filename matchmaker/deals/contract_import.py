"""Historical import of technology contracts from XLSX or CSV: the form's validation per row, a
preview with per-row errors, then confirmation (errors save nothing unless "valid rows only").

upload() keeps the file (core.uploads) and queues contracts.read; the preview's Job (JOB_KIND) exists
from the start and gets its rows when read_upload() has read and checked them, in one commit; until
then its page shows the reading job's progress, or why the file could not be read."""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from matchmaker import reference
from matchmaker.core import audit, permissions, uploads
from matchmaker.core.errors import Conflict, ValidationFailed
from matchmaker.core.money import parse_money
from matchmaker.deals import contracts
from matchmaker.imports.formats import EXTRA_CELLS, check_upload, read_table
from models import Job, Session, User

JOB_KIND = "contracts.import"
READ_JOB = "contracts.read"

# Field -> accepted column headers (Chinese as on the registration form, and English field names).
COLUMNS: dict[str, tuple[str, ...]] = {
    "registration_number": ("合同登记号", "登记号", "registration_number"),
    "project_name": ("项目名称", "合同名称", "project_name"),
    "contract_type": ("合同类型", "contract_type"),
    "contract_subtype": ("合同子类型", "技术子类", "contract_subtype"),
    "signing_date": ("签订日期", "signing_date"),
    "valid_from": ("有效期起", "valid_from"),
    "valid_until": ("有效期止", "valid_until"),
    "amount_fen": ("成交额（元）", "成交额(元)", "合同成交额", "成交额", "amount_yuan"),
    "tech_amount_fen": ("技术交易额（元）", "技术交易额(元)", "技术交易额", "tech_amount_yuan"),
    "payment_mode": ("支付方式", "payment_mode"),
    "ip_type": ("知识产权类型", "ip_type"),
    "tech_field": ("技术领域", "tech_field"),
    "seller_name": ("卖方", "卖方名称", "seller_name"),
    "seller_entity_type": ("卖方单位性质", "卖方法人类型", "seller_entity_type"),
    "seller_region": ("卖方地区代码", "卖方地区", "seller_region"),
    "buyer_name": ("买方", "买方名称", "buyer_name"),
    "buyer_entity_type": ("买方单位性质", "买方法人类型", "buyer_entity_type"),
    "buyer_region": ("买方地区代码", "买方地区", "buyer_region"),
    "fair_id": ("对接会编号", "fair_id"),
}
REQUIRED = ("project_name", "contract_type", "signing_date", "amount_fen", "tech_amount_fen",
            "seller_name", "seller_entity_type", "seller_region", "buyer_name", "buyer_entity_type", "buyer_region")
CODED: dict[str, reference.CodeList] = {
    "contract_type": reference.CONTRACT_TYPES,
    "contract_subtype": reference.CONTRACT_SUBTYPES,
    "payment_mode": reference.PAYMENT_MODES,
    "ip_type": reference.CONTRACT_IP_TYPES,
    "tech_field": reference.TECH_FIELDS,
    "seller_entity_type": reference.LEGAL_ENTITY_TYPES,
    "buyer_entity_type": reference.LEGAL_ENTITY_TYPES,
}
DATE_FIELDS = ("signing_date", "valid_from", "valid_until")
MONEY_FIELDS = ("amount_fen", "tech_amount_fen")
_DATE_RE = re.compile(r"\A(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\Z")


Preview = uploads.UploadPreview


def column_header(field_name: str) -> str:
    """The column a row error points at (the field name itself when it has no column)."""
    return COLUMNS.get(field_name, (field_name,))[0]


def template_headers() -> list[str]:
    return [names[0] for names in COLUMNS.values()]


# --- cell parsing --------------------------------------------------------------------------------

def parse_date(text: str) -> date:
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValueError(text)
    return date(int(match[1]), int(match[2]), int(match[3]))


def parse_yuan(text: str) -> int:
    """Yuan as written in a sheet ("1,234.50", "¥12万", "3.5万元", "1.2亿") to integer fen: a bare
    number is in yuan, as the column headers say (成交额（元）); 万 and 亿 are read as written."""
    fen = parse_money(text, "yuan")
    if fen is None:
        raise ValueError(text)
    return fen


def resolve_code(codes: reference.CodeList, text: str) -> str:
    """A code, its Chinese label or its English label; unknown text is returned for the validator."""
    value = text.strip()
    if value in codes:
        return value
    by_zh = codes.by_zh(value)
    if by_zh is not None:
        return by_zh.code
    lowered = value.lower()
    return next((item.code for item in codes if item.en.lower() == lowered), value)


def _cell_values(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed ContractInput values from one row's cells, and the cells that could not be read."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field_name, headers in COLUMNS.items():
        text = next((str(raw[h]).strip() for h in headers if h in raw and str(raw[h]).strip()), "")
        if not text:
            continue
        try:
            if field_name in DATE_FIELDS:
                values[field_name] = parse_date(text)
            elif field_name in MONEY_FIELDS:
                values[field_name] = parse_yuan(text)
            elif field_name == "fair_id":
                values[field_name] = int(text)
            elif field_name in CODED:
                values[field_name] = resolve_code(CODED[field_name], text)
            else:
                values[field_name] = text
        except ValueError:
            message = (_("Write the date as YYYY-MM-DD.") if field_name in DATE_FIELDS
                       else _("Write the amount in yuan, e.g. 125000.00.") if field_name in MONEY_FIELDS
                       else _("Write a whole number."))
            errors[field_name] = [message]
    if raw.get(EXTRA_CELLS):
        errors.setdefault("project_name", []).append(_("This row has more cells than the header has columns."))
    return values, errors


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def _from_json(values: dict[str, Any]) -> contracts.ContractInput:
    typed = {k: date.fromisoformat(v) if k in DATE_FIELDS and v else v for k, v in values.items()}
    return contracts.ContractInput(**typed)


# --- preview and confirm -------------------------------------------------------------------------

def require_importer(user: Any) -> None:
    permissions.require(user, "contract.manage", _("Only staff import technology contracts."))


def check_row(number: int, values: dict[str, Any], errors: dict[str, list[str]],
              seen_numbers: dict[str, int]) -> dict[str, Any] | None:
    """The registration form's checks on one row of a batch (a sheet, or the API's bulk create), added
    to `errors` (which holds what could not be read): required fields, `contracts.validate`, and a
    registration number that an earlier row of the batch (`seen_numbers`: number -> row) has already.
    Returns the values `contracts.add` takes when the row has no error."""
    for required in REQUIRED:
        if required not in values and required not in errors:
            errors[required] = [_("This column is required.")]
    clean = None
    try:
        clean = contracts.validate(contracts.ContractInput(**values))
    except ValidationFailed as exc:
        for key, messages in exc.errors.items():
            errors.setdefault(key, messages)
    reg = (values.get("registration_number") or "").strip().upper()
    if reg:
        if reg in seen_numbers and "registration_number" not in errors:
            errors["registration_number"] = [_("The same registration number is on row %(row)s.",
                                               row=seen_numbers[reg])]
        seen_numbers.setdefault(reg, number)
    return None if errors else clean


def save_rows(user: User, rows: list[dict[str, Any]], skipped: int, changes: dict[str, Any],
              job: Job | None = None) -> list[Any]:
    """Add checked rows (the values `check_row` returned) as imported contracts in the caller's
    transaction, with one audit entry for the batch; the caller commits."""
    require_importer(user)
    saved = [contracts.add(values, user.id, source="import") for values in rows]
    audit.record(user.id, "contract.import", entity_type="jobs" if job else "api", entity_id=job.id if job else None,
                 changes={**changes, "saved": len(saved), "skipped": skipped})
    return saved


def _read(filename: str, data: bytes, progress: uploads.ReadProgress | None = None) -> tuple[list[dict[str, Any]], int]:
    """Every row of the file with its values and errors, and how many rows have errors."""
    table = read_table(filename, data, current_app.config["IMPORT_MAX_ROWS"], progress.reading if progress else None)
    known = {h for headers in COLUMNS.values() for h in headers}
    if not known.intersection(table.headers):
        raise ValidationFailed({"file": [_("None of the columns is recognised. Use the template's column names, "
                                           "e.g. %(names)s.", names="、".join(template_headers()[:4]))]})
    seen_numbers: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for number, raw in table.rows:
        values, errors = _cell_values(raw)
        check_row(number, values, errors, seen_numbers)
        rows.append({"row": number, "values": _json_safe(values), "errors": errors})
        if progress is not None:
            progress.checking(len(rows), len(table.rows))
    return rows, sum(1 for r in rows if r["errors"])


# --- upload and read in the background ----------------------------------------------------------

def _check(params: dict[str, Any], data: bytes, progress: uploads.ReadProgress) -> tuple[list[dict[str, Any]], int]:
    return _read(params["filename"], data, progress)


UPLOADS = uploads.PreviewedUpload("contracts", READ_JOB, JOB_KIND, _check)


def upload(user: User, filename: str, data: bytes) -> int:
    """Keep the file and queue the job that reads it; returns the preview's id at once. Only the checks that
    cost nothing (extension, empty file, a workbook's zip directory) refuse a file here."""
    require_importer(user)
    return UPLOADS.upload(user.id, filename, check_upload(filename, data), data)


def read_upload(job_id: int) -> dict[str, Any]:
    """The job: read and check the stored file and give the preview its rows in one commit."""
    return UPLOADS.read_upload(job_id)


def fail_stale_reads() -> int:
    """Periodic: fail the reads that can no longer finish (core.uploads.PreviewedUpload.fail_stale_reads)."""
    return UPLOADS.fail_stale_reads()


def load_preview(user: User, job_id: int) -> Preview:
    require_importer(user)
    return UPLOADS.load(job_id)


def confirm(user: User, job_id: int, valid_only: bool) -> int:
    """Save the previewed rows in one transaction; returns how many contracts were saved."""
    require_importer(user)
    job, rows = UPLOADS.rows_to_confirm(job_id, valid_only)
    good: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        if row["errors"]:
            skipped += 1
            continue
        try:
            good.append(contracts.validate(_from_json(row["values"])))
        except ValidationFailed as exc:
            if not valid_only:  # the data changed since the preview (e.g. a number was taken)
                Session.rollback()
                raise Conflict(_("Row %(row)s is no longer valid (%(message)s); nothing was saved.",
                                 row=row["row"], message=exc.message)) from None
            skipped += 1
    saved = len(save_rows(user, good, skipped, {"filename": (job.params or {}).get("filename")}, job))
    UPLOADS.finish(job, saved, skipped)
    Session.commit()
    return saved


def template_csv() -> bytes:
    """A CSV with the column headers and one example row, for staff to fill in."""
    example = ["2025350500A0000001", "高效电机控制技术转让", "技术转让", "专利权转让", "2025-03-18", "2025-03-18",
               "2027-03-17", "1200000.00", "1000000.00", "分期支付", "专利", "先进制造", "泉州理工大学", "022",
               "350500", "海峡智能装备有限公司", "150", "350500", ""]
    lines = [",".join(template_headers()), ",".join(example)]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
