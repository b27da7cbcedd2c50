"""Compile every feature's .po catalog under matchmaker/translations into .mo (run by make)."""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent / "matchmaker" / "translations"


def compile_all(root: Path = ROOT) -> int:
    count = 0
    for po_path in sorted(root.glob("*/*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f)
        with mo_path.open("wb") as f:
            write_mo(f, catalog)
        count += 1
    return count


if __name__ == "__main__":
    print(f"compiled {compile_all()} translation catalogs", file=sys.stderr)
