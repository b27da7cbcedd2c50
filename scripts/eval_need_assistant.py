"""How often the need-writing assistant guesses the right GB/T 4754 industry section, on the real Zhibei needs.

Every Zhibei need carries its section (classification). Each need's text (name + description, as an
enterprise would type it) is embedded as a query, exactly as /need/assist does, and its section guessed
by matchmaker/engine/industry_guess.py from
  - its nearest Zhibei research results (2,797, each with its section) and the other Zhibei needs
    (leave-one-out; needs with the same text are left out too), standing in for the site's published
    listings, and
  - the similarity to each section's closest name (its own or one of its divisions', matchmaker/reference).
Prints top-1 and top-3 accuracy for each source alone and mixed, beside the majority-class baseline.
The data is read by path from ../shared/data/zhibei (internal evaluation only: never copy it into the
repository); vectors are cached under var/eval/cache.

Usage: python scripts/eval_need_assistant.py [--data DIR] [--limit N] [--prototype-weight W]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from matchmaker.engine import industry_guess  # noqa: E402
from matchmaker.engine.embedder import clean_text, load_embedder  # noqa: E402
from matchmaker.matching.embedding import VectorFileCache, listing_text  # noqa: E402
from matchmaker.reference import parse_industry  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "zhibei"
CACHE = ROOT / "var" / "eval" / "cache"


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _section(row: dict) -> str | None:
    return parse_industry(row.get("classification"))[0]


def _text(row: dict) -> str:
    return listing_text(row.get("name"), None, None, row.get("context"))


def _embed(embedder, texts: list[str], role: str) -> np.ndarray:
    info = embedder.info
    slug = "".join(c if c.isalnum() else "_" for c in info.name)
    cache = VectorFileCache(CACHE / f"assistant-{slug}-{info.backend}-{role}.npz")
    embed = embedder.embed_passages if role == "passage" else embedder.embed_queries
    vectors = cache.embed(embed, texts, info.dim)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _accuracy(guesses: list[list[str]], gold: list[str]) -> tuple[float, float]:
    top1 = sum(1 for g, s in zip(guesses, gold, strict=True) if g[:1] == [s])
    top3 = sum(1 for g, s in zip(guesses, gold, strict=True) if s in g[:3])
    return top1 / len(gold), top3 / len(gold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="only the first N needs (a quick look)")
    parser.add_argument("--prototype-weight", type=float, default=industry_guess.PROTOTYPE_WEIGHT)
    parser.add_argument("--neighbours", type=int, default=industry_guess.NEIGHBOURS)
    parser.add_argument("--temperature", type=float, default=industry_guess.TEMPERATURE)
    args = parser.parse_args()

    needs = [r for r in _rows(args.data / "requirements.jsonl") if _section(r) and clean_text(_text(r))]
    if args.limit:
        needs = needs[:args.limit]
    results = [r for r in _rows(args.data / "achievements.jsonl") if _section(r) and clean_text(_text(r))]
    gold = [_section(r) or "" for r in needs]

    embedder = load_embedder(None, "auto")
    need_texts = [_text(r) for r in needs]
    queries = _embed(embedder, need_texts, "query")
    need_passages = _embed(embedder, need_texts, "passage")
    result_passages = _embed(embedder, [_text(r) for r in results], "passage")
    section_texts = industry_guess.section_texts("zh")
    owners = [code for code, _text in section_texts]
    prototypes = _embed(embedder, [text for _code, text in section_texts], "passage")

    result_sections = [_section(r) for r in results]
    need_keys = [clean_text(t) for t in need_texts]
    pool = 60
    guesses: dict[str, list[list[str]]] = {"section names only": [], "nearest results only": [],
                                           "nearest results and needs only": [], "mixed (the site's)": []}
    for i, query in enumerate(queries):
        proto = industry_guess.section_similarity(owners, (prototypes @ query).tolist())
        rsims = result_passages @ query
        top_r = np.argsort(-rsims)[:pool]
        from_results = [(result_sections[j], float(rsims[j])) for j in top_r]
        nsims = need_passages @ query
        top_n = [j for j in np.argsort(-nsims)[:pool + 5] if j != i and need_keys[j] != need_keys[i]][:pool]
        from_needs = [(gold[j], float(nsims[j])) for j in top_n]
        both = from_results + from_needs
        options = {"k": args.neighbours, "temperature": args.temperature}
        guesses["section names only"].append([c for c, _ in industry_guess.guess_sections([], proto, **options)])
        guesses["nearest results only"].append(
            [c for c, _ in industry_guess.guess_sections(from_results, {}, 0.0, **options)])
        guesses["nearest results and needs only"].append(
            [c for c, _ in industry_guess.guess_sections(both, {}, 0.0, **options)])
        guesses["mixed (the site's)"].append(
            [c for c, _ in industry_guess.guess_sections(both, proto, args.prototype_weight, **options)])

    majority, count = Counter(gold).most_common(1)[0]
    ranked = [c for c, _ in Counter(gold).most_common(3)]
    print(f"Zhibei needs with an industry section: {len(gold)} (sections: {len(set(gold))}); "
          f"neighbour pool: {len(results)} results + the other needs")
    print(f"{'method':<34} {'top-1':>6} {'top-3':>6}")
    top3_base = sum(1 for s in gold if s in ranked) / len(gold)
    print(f"{'always ' + majority + ' (majority baseline)':<34} {count / len(gold):6.3f} {top3_base:6.3f}")
    for name, guessed in guesses.items():
        top1, top3 = _accuracy(guessed, gold)
        print(f"{name:<34} {top1:6.3f} {top3:6.3f}")
    mixed = guesses["mixed (the site's)"]
    minority = [i for i, s in enumerate(gold) if s != majority]
    if minority:
        top1, top3 = _accuracy([mixed[i] for i in minority], [gold[i] for i in minority])
        print(f"{'mixed, needs outside ' + majority:<34} {top1:6.3f} {top3:6.3f}  ({len(minority)} needs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
