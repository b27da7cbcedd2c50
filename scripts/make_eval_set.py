"""Turn the need→solution pairs and all CSL + ChinaXiv documents into an evaluation set.

Writes var/eval/{results.jsonl,needs.jsonl,qrels.tsv} for `flask --app matchmaker eval`.
Usage: python scripts/make_eval_set.py [--data DIR] [--output DIR] [--limit-pairs N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUTPUT = ROOT / "var" / "eval"
_SPACE = re.compile(r"\s+")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _squash(text: str | None) -> str:
    return _SPACE.sub("", text or "")


def load_documents(data: Path) -> list[dict[str, Any]]:
    """CSL then ChinaXiv, de-duplicated on title and on the start of the abstract."""
    documents: list[dict[str, Any]] = []
    seen: set[str] = set()
    sources = (("csl", data / "csl" / "csl_all_abstracts.jsonl.gz"),
               ("cx", data / "chinaxiv" / "chinaxiv_papers.jsonl.gz"))
    for prefix, path in sources:
        for number, row in enumerate(_read_jsonl(path)):
            abstract = (row.get("abstract") or "").strip()
            if not abstract:
                continue
            title = (row.get("title") or "").strip()
            keys = [f"a:{_squash(abstract)[:80]}"] + ([f"t:{title}"] if title else [])
            if any(key in seen for key in keys):
                continue
            seen.update(keys)
            documents.append({
                "id": row.get("id") or f"{prefix}-{number}",
                "title": title,
                "description": abstract,
                "keywords": [k for k in (row.get("keywords") or []) if isinstance(k, str)],
            })
    return documents


class _DocumentFinder:
    """Finds the document a pair's solution was cut from: by id, by title, then by abstract text."""

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.by_id = {d["id"]: d for d in documents}
        self.by_title = {d["title"]: d for d in documents if d["title"]}
        self.by_head: dict[str, dict[str, Any]] = {}
        self.by_tail: dict[str, dict[str, Any]] = {}
        for doc in documents:
            text = _squash(doc["description"])
            self.by_head.setdefault(text[:40], doc)
            self.by_tail.setdefault(text[-40:], doc)

    def find(self, pair: dict[str, Any]) -> dict[str, Any] | None:
        doc = self.by_id.get(pair.get("source_ref") or "")
        title = (pair.get("solution_title") or "").strip()
        if doc is None and title:
            doc = self.by_title.get(title)
        if doc is None:
            # The need sentence was cut from the start, middle or end of the abstract, so it still
            # begins or ends like the solution text.
            text = _squash(pair["solution_text"])
            doc = self.by_tail.get(text[-40:]) or self.by_head.get(text[:40])
        return doc


def build(data: Path, limit_pairs: int | None = None) -> tuple[list[dict], list[dict], list[tuple[str, str]]]:
    documents = load_documents(data)
    finder = _DocumentFinder(documents)
    needs: list[dict[str, Any]] = []
    qrels: list[tuple[str, str]] = []
    pairs = list(_read_jsonl(data / "pairs" / "need_solution_pairs_zh.jsonl"))
    for pair in pairs[:limit_pairs] if limit_pairs else pairs:
        doc = finder.find(pair)
        if doc is None:
            continue
        # The document's abstract still holds the need sentence word for word; the solution text is
        # the abstract without it, so the need must be found by meaning, not by copying.
        doc["description"] = pair["solution_text"].strip()
        if pair.get("solution_title"):
            doc["title"] = pair["solution_title"].strip()
        needs.append({"id": pair["pair_id"], "title": pair["need"].strip(), "description": ""})
        qrels.append((pair["pair_id"], doc["id"]))
    return documents, needs, qrels


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the files")
    parser.add_argument("--limit-pairs", type=int, default=None, help="only the first N pairs")
    args = parser.parse_args(argv)
    documents, needs, qrels = build(args.data, args.limit_pairs)
    args.output.mkdir(parents=True, exist_ok=True)
    _write_jsonl(args.output / "results.jsonl", documents)
    _write_jsonl(args.output / "needs.jsonl", needs)
    with (args.output / "qrels.tsv").open("w", encoding="utf-8") as handle:
        handle.writelines(f"{need_id}\t0\t{result_id}\t1\n" for need_id, result_id in qrels)
    print(json.dumps({"results": len(documents), "needs": len(needs), "output": str(args.output)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
