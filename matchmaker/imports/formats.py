"""Reading uploaded tables (CSV, XLSX, JSON Lines) into numbered rows of raw cell values.

Everything that makes a file unreadable as a whole raises ImportFileError with a message for the
uploader; what a single row says is judged later, row by row, by matchmaker.imports.importer.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

from flask_babel import gettext as _

from matchmaker.core.errors import DomainError

ACCEPTED_EXTENSIONS = (".csv", ".xlsx", ".jsonl")
# Tried in order: UTF-8 (with or without the BOM Excel writes), then GB18030, a superset of the GBK
# that Chinese Excel uses for "CSV" by default.
ENCODINGS = ("utf-8-sig", "gb18030")

# What an .xlsx may unpack to. A workbook is a zip of XML: a few hundred KB can unpack to gigabytes
# (a "decompression bomb") or to a sheet a million columns wide, which openpyxl would pad cell by cell.
# The caps are far above any real listing table (20,000 rows of long Chinese descriptions is ~60-80 MB).
XLSX_MAX_UNPACKED = 100 * 1024 * 1024
XLSX_MAX_ENTRIES = 1000
XLSX_MAX_COLUMNS = 200
XLSX_BLANK_ROW_SLACK = 1000  # blank rows between data rows that are skipped, beyond the row limit


class ImportFileError(DomainError):
    """The file cannot be imported at all; nothing is saved."""


# Called with (rows read so far, rows the file holds or None if unknown) as rows are read; may raise to stop.
Progress = Callable[[int, int | None], None]


def _no_progress(_done: int, _total: int | None) -> None:
    return None


@dataclass
class RawTable:
    file_format: str
    headers: list[str]
    # (row number as the uploader sees it: sheet row or line, {header: value}) in file order.
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def file_format(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in ACCEPTED_EXTENSIONS:
        raise ImportFileError(_("Files of type %(ext)s cannot be imported. Upload a .csv, .xlsx or .jsonl file.",
                                ext=suffix or _("(no extension)")))
    return suffix[1:]


def check_upload(filename: str, data: bytes) -> str:
    """The checks that cost next to nothing, done while the uploader waits: the extension, an empty file,
    and for a workbook what its zip directory says it unpacks to. Returns the format."""
    fmt = file_format(filename)
    if not data or not data.strip():
        raise ImportFileError(_("The file is empty."))
    if fmt == "xlsx":
        _check_xlsx_size(data)
    return fmt


def read_table(filename: str, data: bytes, max_rows: int, progress: Progress | None = None) -> RawTable:
    """Parse the whole file; raises ImportFileError for anything that stops it being read."""
    fmt = check_upload(filename, data)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "jsonl": _read_jsonl}[fmt]
    table = reader(data, max_rows, progress or _no_progress)
    if not table.rows:
        if not table.headers:
            raise ImportFileError(_("The file is empty."))
        raise ImportFileError(_("The file has a header but no rows to import."))
    return table


def _too_many(max_rows: int) -> ImportFileError:
    return ImportFileError(_("The file has more than %(max)s rows. Split it into smaller files.", max=max_rows))


def decode_text(data: bytes) -> str:
    # Excel's "Unicode text" and UTF-16 CSV exports start with a byte-order mark.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = "\x00"
        if "\x00" not in text:
            return text
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # NUL bytes mean a binary file or UTF-16, whatever decoded "successfully"
            return text
    raise ImportFileError(_("The file's text encoding could not be read. Save it as UTF-8, UTF-16 or GB18030 "
                            "text and upload it again."))


def _cell(value: Any) -> Any:
    """Spreadsheet cells as text (dates as ISO, whole numbers without ".0"); None as ""."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header(values: list[Any]) -> list[str]:
    headers = [_cell(v) for v in values]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise ImportFileError(_("The first row must name the columns, but it is empty."))
    return headers


def _row_dict(headers: list[str], values: list[Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in zip(headers, values, strict=False):
        if name and name not in row:
            row[name] = _cell(value)
    extra = [_cell(v) for v in values[len(headers):] if _cell(v)]
    if extra:
        row[EXTRA_CELLS] = extra
    return row


# Key under which a row keeps cells beyond the header's last column (reported as a row error).
EXTRA_CELLS = "__extra_cells__"


def _read_csv(data: bytes, max_rows: int, progress: Progress) -> RawTable:
    text = decode_text(data)
    lines = text.count("\n") + 1  # an estimate for the progress bar: quoted cells may span lines
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    table: RawTable | None = None
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if table is None:
                table = RawTable("csv", _header(values))
                continue
            if len(table.rows) >= max_rows:
                raise _too_many(max_rows)
            table.rows.append((reader.line_num, _row_dict(table.headers, values)))
            progress(len(table.rows), max(lines - 1, len(table.rows)))
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file is malformed near line %(line)s (%(detail)s).",
                                line=reader.line_num, detail=str(exc))) from None
    if table is None:
        raise ImportFileError(_("The file is empty."))
    return table


def _unreadable_xlsx() -> ImportFileError:
    return ImportFileError(_("The file is not a readable Excel .xlsx workbook. Open it in Excel and save it "
                             "again as .xlsx, or export it as CSV."))


def _check_xlsx_size(data: bytes) -> None:
    """Refuse a workbook that would unpack to more than XLSX_MAX_UNPACKED before any XML is parsed. The
    sizes come from the zip directory; zipfile never inflates an entry past its stated size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _unreadable_xlsx() from None
    if len(entries) > XLSX_MAX_ENTRIES or sum(entry.file_size for entry in entries) > XLSX_MAX_UNPACKED:
        raise ImportFileError(_("The workbook unpacks to more than %(mb)s MB. Keep only the sheet with the rows "
                                "to import, or export it as CSV.", mb=XLSX_MAX_UNPACKED // (1024 * 1024)))


def _read_xlsx(data: bytes, max_rows: int, progress: Progress) -> RawTable:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # zip, XML and openpyxl errors all mean "not a readable .xlsx"
        raise _unreadable_xlsx() from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError(_("The file is empty."))
        # Excel records the used range; a sheet that declares more than we take is refused before reading.
        if (sheet.max_column or 0) > XLSX_MAX_COLUMNS:
            raise ImportFileError(_("The sheet is %(n)s columns wide; at most %(max)s can be imported. Remove the "
                                    "columns that are not part of the table.", n=sheet.max_column,
                                    max=XLSX_MAX_COLUMNS))
        if (sheet.max_row or 0) > max_rows + XLSX_BLANK_ROW_SLACK:
            raise _too_many(max_rows)
        table: RawTable | None = None
        declared = sheet.max_row - 1 if sheet.max_row and sheet.max_row > 1 else None
        # Files that declare no range are read at most XLSX_MAX_COLUMNS wide: no row is padded further.
        rows = sheet.iter_rows(values_only=True, max_col=XLSX_MAX_COLUMNS)
        for number, values in enumerate(rows, start=1):
            cells = list(values)
            if number > max_rows + XLSX_BLANK_ROW_SLACK:
                raise _too_many(max_rows)
            if not any(_cell(v) for v in cells):
                continue
            if table is None:
                table = RawTable("xlsx", _header(cells))
                continue
            if len(table.rows) >= max_rows:
                raise _too_many(max_rows)
            table.rows.append((number, _row_dict(table.headers, cells)))
            progress(len(table.rows), max(declared, len(table.rows)) if declared else None)
    except DomainError:  # ours: a refusal, or the progress callback stopping the read
        raise
    except Exception:
        raise _unreadable_xlsx() from None
    finally:
        workbook.close()
    if table is None:
        raise ImportFileError(_("The file is empty."))
    return table


def _read_jsonl(data: bytes, max_rows: int, progress: Progress) -> RawTable:
    text = decode_text(data)
    headers: dict[str, None] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFileError(_("Line %(line)s is not valid JSON (%(detail)s). Each line must hold one "
                                    "JSON object.", line=number, detail=exc.msg)) from None
        if not isinstance(record, dict):
            raise ImportFileError(_("Line %(line)s is not a JSON object. Each line must hold one JSON object.",
                                    line=number))
        if len(rows) >= max_rows:
            raise _too_many(max_rows)
        headers.update(dict.fromkeys(str(k) for k in record))
        rows.append((number, {str(k): _json_value(v) for k, v in record.items()}))
        progress(len(rows), len(lines))
    return RawTable("jsonl", list(headers), rows)


def _json_value(value: Any) -> Any:
    # Lists (keywords, modes) stay lists; everything else is read as text like a spreadsheet cell.
    if isinstance(value, list):
        return [_cell(v) for v in value if _cell(v)]
    if isinstance(value, bool):
        return "true" if value else "false"
    return _cell(value)
