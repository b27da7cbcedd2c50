"""Small pieces every XLSX download shares: valid sheet names, a bold header row, the file's bytes.
openpyxl is imported when a workbook is written, not when the app starts."""
from __future__ import annotations

import io
from typing import Any


def sheet_title(text: str) -> str:
    # Excel forbids some characters in sheet names and caps them at 31 characters.
    for bad in "[]:*?/\\":
        text = text.replace(bad, " ")
    return text[:31]


def bold_header(sheet: Any) -> None:
    from openpyxl.styles import Font

    for cell in sheet[1]:
        cell.font = Font(bold=True)


def to_bytes(book: Any) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
