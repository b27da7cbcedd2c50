"""Print the user-visible strings that have no Chinese translation yet, as .po entries to fill in.

Usage: python scripts/i18n_missing.py [PATH_FILTER]   (e.g. "fairs" to see only strings used in fairs files)
"""
from __future__ import annotations

import sys

from matchmaker.core.i18n_catalog import missing, po_escape

if __name__ == "__main__":
    path_filter = sys.argv[1] if len(sys.argv) > 1 else ""
    for msgid, places in sorted(missing().items()):
        if path_filter and not any(path_filter in p for p in places):
            continue
        print(f"#: {' '.join(places[:3])}\nmsgid \"{po_escape(msgid)}\"\nmsgstr \"\"\n")
