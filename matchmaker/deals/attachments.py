"""Files sent in an introduction's conversation: what they really are (judged by their first bytes and,
for Office files, the parts inside the zip, never by the name alone), and where they are kept."""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import gettext as _

from matchmaker.core.errors import ValidationFailed

# type -> (the extensions a name may carry, the MIME type served)
FILE_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "pdf": ((".pdf",), "application/pdf"),
    "docx": ((".docx",), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ((".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": ((".pptx",), "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "png": ((".png",), "image/png"),
    "jpg": ((".jpg", ".jpeg"), "image/jpeg"),
}
ALLOWED = "PDF, Word (.docx), Excel (.xlsx), PowerPoint (.pptx), PNG, JPG"
# The folder each Office format keeps its main part in, inside the zip.
_OFFICE_PARTS = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
_MAX_NAME = 200


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    file_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def max_bytes() -> int:
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def sniff(data: bytes) -> str | None:
    """The allowed type the content is, or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        for file_type, folder in _OFFICE_PARTS.items():
            if any(name.startswith(folder) for name in names):
                return file_type
    return None


def clean_name(filename: str) -> str:
    """The name as shown and offered on download: no folders, no control characters, not too long."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > _MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: _MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 5 else name[:_MAX_NAME]
    return name


def check(filename: str, stream: IO[bytes], field: str = "file") -> CheckedFile:
    """Read an upload and judge it: not empty, within the size limit, one of the allowed types by its
    content, and named with that type's extension. ValidationFailed otherwise."""
    limit = max_bytes()
    data = stream.read(limit + 1)
    name = clean_name(filename)
    if not data:
        raise ValidationFailed({field: [_("The file is empty.")]})
    if len(data) > limit:
        raise ValidationFailed({field: [_("The file is larger than %(limit)s.", limit=human_size(limit))]})
    if not name:
        raise ValidationFailed({field: [_("The file has no name.")]})
    ext = os.path.splitext(name)[1].lower()
    claimed = next((t for t, (exts, _mime) in FILE_TYPES.items() if ext in exts), None)
    if claimed is None:
        raise ValidationFailed({field: [_("Only these kinds of files can be sent: %(types)s.", types=ALLOWED)]})
    actual = sniff(data)
    if actual != claimed:
        raise ValidationFailed({field: [_("The file is named %(ext)s but its content is not a %(type)s file.",
                                          ext=ext, type=claimed.upper())]})
    return CheckedFile(name, actual, data)


# --- storage --------------------------------------------------------------------------------------

def folder() -> Path:
    path = Path(current_app.config["ATTACHMENT_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_stored_name(file_type: str) -> str:
    return f"{secrets.token_hex(16)}.{file_type}"


def write(stored_name: str, data: bytes) -> Path:
    """Write the bytes under a temporary name, then move them into place, so a reader never finds
    half a file."""
    base = folder()
    final = base / stored_name
    partial = base / f".{stored_name}.part"
    try:
        partial.write_bytes(data)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final


def remove(stored_name: str) -> None:
    (folder() / stored_name).unlink(missing_ok=True)


def path_of(stored_name: str) -> Path | None:
    path = folder() / stored_name
    return path if path.is_file() else None


def mimetype(file_type: str) -> str:
    return FILE_TYPES.get(file_type, ((), "application/octet-stream"))[1]


def human_size(size: int) -> str:
    """12 KB, 3.4 MB: how the file list shows a size."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
