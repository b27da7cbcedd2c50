"""Find user-visible strings and check that each has a Chinese translation (tests and scripts use it)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from matchmaker.config import ROOT

TRANSLATIONS = ROOT / "matchmaker" / "translations"
METHOD_MAP = [("matchmaker/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}


def extracted_messages() -> dict[str, list[str]]:
    """msgid -> places it is used, from the app code and the templates."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS, options_map={"templates/**.html": {"trimmed": "true"}}
    ):
        msgids = message if isinstance(message, tuple) else (message,)
        for msgid in msgids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def translated(lang: str = "zh") -> dict[str, str]:
    merged: dict[str, str] = {}
    for po_path in sorted(TRANSLATIONS.glob(f"*/{lang}/LC_MESSAGES/messages.po")):
        with po_path.open("rb") as f:
            for message in read_po(f):
                if message.id and message.string:
                    ids = message.id if isinstance(message.id, tuple) else (message.id,)
                    strings = message.string if isinstance(message.string, tuple) else (message.string,)
                    for msgid, text in zip(ids, strings, strict=False):
                        if text:
                            merged[msgid] = text
    return merged


def missing(lang: str = "zh") -> dict[str, list[str]]:
    have = translated(lang)
    return {msgid: places for msgid, places in extracted_messages().items() if msgid not in have}


def po_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def catalog_path(feature: str, lang: str = "zh") -> Path:
    return TRANSLATIONS / feature / lang / "LC_MESSAGES" / "messages.po"
