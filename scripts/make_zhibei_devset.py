"""Turn the real Zhibei listings into the files of the real-needs dev set (docs/evaluation.md).

Writes var/eval/zhibei/{results.jsonl,needs.jsonl} for `flask --app matchmaker eval`: every Zhibei
research result with a description of at least 30 characters, and the 300 dev needs listed in
zhibei/dev_needs.txt. The relevance grades live in the repository (eval/zhibei/qrels.tsv, ids and
grades only); the Zhibei texts never do, so this script rebuilds them from ../shared/data.
Usage: python scripts/make_zhibei_devset.py [--data DIR] [--output DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from make_eval_set import _read_jsonl, _write_jsonl  # noqa: E402  (scripts/ is on the path when a script runs)

from matchmaker.reference import parse_industry  # noqa: E402
from matchmaker.reference.zhibei import zhibei_maturity, zhibei_transfer_modes  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUTPUT = ROOT / "var" / "eval" / "zhibei"
MIN_RESULT_CHARS = 30


def _listing(row: dict[str, Any]) -> dict[str, Any]:
    section, division = parse_industry(row.get("classification"))
    listing: dict[str, Any] = {"id": row["id"], "title": (row.get("name") or "").strip(),
                               "description": (row.get("context") or "").strip()}
    if section:
        listing["industry"] = section + (division or "")
    modes = zhibei_transfer_modes(row.get("cooperationMethod"))
    if modes:
        listing["transfer_modes"] = modes
    maturity = zhibei_maturity(row.get("maturity"))
    if maturity:
        listing["maturity"] = maturity
    return listing


def build(data: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    zhibei = data / "zhibei"
    results = [_listing(row) for row in _read_jsonl(zhibei / "achievements.jsonl")
               if len((row.get("context") or "").strip()) >= MIN_RESULT_CHARS]
    wanted = [line.strip() for line in (zhibei / "dev_needs.txt").read_text(encoding="utf-8").splitlines()
              if line.strip()]
    by_id = {row["id"]: row for row in _read_jsonl(zhibei / "requirements.jsonl")}
    missing = [need_id for need_id in wanted if need_id not in by_id]
    if missing:
        raise SystemExit(f"dev needs not in requirements.jsonl: {', '.join(missing[:5])}")
    return results, [_listing(by_id[need_id]) for need_id in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the files")
    args = parser.parse_args(argv)
    results, needs = build(args.data)
    args.output.mkdir(parents=True, exist_ok=True)
    _write_jsonl(args.output / "results.jsonl", results)
    _write_jsonl(args.output / "needs.jsonl", needs)
    print(json.dumps({"results": len(results), "needs": len(needs), "output": str(args.output)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
