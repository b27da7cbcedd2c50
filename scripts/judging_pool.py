"""Pool unjudged candidates into batch files for judges, and merge their grades into the qrels.

The real-needs dev set grows by judging (../shared/docs/JUDGING.md): every ranker's top k is pooled,
the pairs nobody judged yet go to judges in batches, and their grades join eval/zhibei/qrels.tsv.

    # 1. write the rankers' top 10s (TREC run files) with `flask eval --run-out`, one file per mode/set;
    # 2. batches of the unjudged pairs (each need's text, then its candidates in a shuffled order):
    python scripts/judging_pool.py batches --needs var/eval/zhibei/needs.jsonl \
        --results var/eval/zhibei/results.jsonl --qrels eval/zhibei/qrels.tsv --run a.run --run b.run \
        --output var/eval/batches
    # 3. judges write `NEED_ID<TAB>CANDIDATE_ID<TAB>GRADE` lines; merge them (checked against the batches):
    python scripts/judging_pool.py merge --qrels eval/zhibei/qrels.tsv --batches var/eval/batches judged/*.tsv

Runs of rewritten needs (vague, English) pool against the original need: the batch shows the
original text, since the qrels grade the original need. The texts stay under var/ (the Zhibei data
may not be republished); only ids and grades reach the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

GRADES = {"0", "1", "2"}


def read_jsonl(path: Path) -> dict[str, dict]:
    rows = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                rows[str(row["id"])] = row
    return rows


def read_qrels(path: Path) -> dict[tuple[str, str], int]:
    judged = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 4:
                judged[(parts[0], parts[2])] = int(parts[3])
    return judged


def pool(runs: list[Path], depth: int, judged: set[tuple[str, str]], wanted: set[str] | None
         ) -> dict[str, list[str]]:
    """Per need, the documents in some run's top `depth` that nobody judged yet (first-seen order)."""
    pooled: dict[str, list[str]] = defaultdict(list)
    for run in runs:
        for line in run.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) < 6 or int(parts[3]) > depth:
                continue
            need, doc = parts[0], parts[2]
            if (wanted is None or need in wanted) and (need, doc) not in judged and doc not in pooled[need]:
                pooled[need].append(doc)
    return pooled


def describe(row: dict, limit: int) -> str:
    text = (row.get("description") or "").strip().replace("\n", " ")
    if len(text) > limit:
        text = text[:limit] + "…"
    industry = f"  [industry: {row['industry']}]" if row.get("industry") else ""
    return f"{row.get('title', '').strip()}{industry}\n    {text}"


def write_batches(pooled: dict[str, list[str]], needs: dict[str, dict], results: dict[str, dict],
                  per_batch: int, output: Path, seed: int) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    order = [need for need in needs if pooled.get(need)]
    paths = []
    for start in range(0, len(order), per_batch):
        lines = []
        for need in order[start:start + per_batch]:
            docs = list(pooled[need])
            rng.shuffle(docs)  # a judge never sees where a candidate ranked
            lines.append(f"=== NEED {need}: {describe(needs[need], 1500)}\n")
            lines += [f"--- CANDIDATE {doc}: {describe(results[doc], 400)}\n" for doc in docs]
            lines.append("\n")
        path = output / f"batch_{start // per_batch + 1:03d}.txt"
        path.write_text("".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def batch_pairs(batches: Path) -> set[tuple[str, str]]:
    pairs, need = set(), None
    for path in sorted(batches.glob("batch_*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("=== NEED "):
                need = line[len("=== NEED "):].split(":", 1)[0]
            elif line.startswith("--- CANDIDATE "):
                pairs.add((need, line[len("--- CANDIDATE "):].split(":", 1)[0]))
    return pairs


def merge(qrels_path: Path, batches: Path, judged_files: list[Path]) -> dict[str, int]:
    """Add judges' grades to the qrels; a line for a pair not in a batch, or a bad grade, is an error."""
    allowed = batch_pairs(batches)
    qrels = read_qrels(qrels_path)
    added, errors = {}, []
    for path in judged_files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[2] not in GRADES or (parts[0], parts[1]) not in allowed:
                errors.append(f"{path}:{number}: {line!r}")
                continue
            added[(parts[0], parts[1])] = int(parts[2])
    if errors:
        raise SystemExit("not merged, fix these lines first:\n" + "\n".join(errors[:20]))
    new = {pair: grade for pair, grade in added.items() if pair not in qrels}
    qrels.update(new)
    lines = [f"{need}\t0\t{doc}\t{grade}\n" for (need, doc), grade in sorted(qrels.items())]
    qrels_path.write_text("".join(lines), encoding="utf-8")
    missing = len(allowed - set(added) - set(qrels))
    return {"added": len(new), "relevant_added": sum(1 for g in new.values() if g > 0),
            "pairs_in_batches_not_judged": missing, "qrels": len(qrels)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("batches", help="write batch files of unjudged pooled pairs")
    make.add_argument("--needs", type=Path, required=True)
    make.add_argument("--results", type=Path, required=True)
    make.add_argument("--qrels", type=Path, required=True)
    make.add_argument("--run", type=Path, action="append", required=True, help="a TREC run file (repeatable)")
    make.add_argument("--depth", type=int, default=10)
    make.add_argument("--only", type=Path, help="a file of need ids to pool (one per line)")
    make.add_argument("--per-batch", type=int, default=15, help="needs per batch")
    make.add_argument("--seed", type=int, default=7)
    make.add_argument("--output", type=Path, required=True)
    join = commands.add_parser("merge", help="merge judged lines into the qrels")
    join.add_argument("--qrels", type=Path, required=True)
    join.add_argument("--batches", type=Path, required=True)
    join.add_argument("judged", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "merge":
        print(json.dumps(merge(args.qrels, args.batches, args.judged)))
        return 0
    needs, results = read_jsonl(args.needs), read_jsonl(args.results)
    wanted = None
    if args.only:
        wanted = {line.strip() for line in args.only.read_text(encoding="utf-8").splitlines() if line.strip()}
    pooled = pool(args.run, args.depth, set(read_qrels(args.qrels)), wanted)
    unknown = [need for need in pooled if need not in needs]
    if unknown:
        raise SystemExit(f"runs name needs that are not in {args.needs}: {', '.join(unknown[:5])}")
    paths = write_batches(pooled, needs, results, args.per_batch, args.output, args.seed)
    print(json.dumps({"needs": sum(1 for docs in pooled.values() if docs),
                      "pairs": sum(len(docs) for docs in pooled.values()), "batches": len(paths)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
