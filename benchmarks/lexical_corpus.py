"""Real listing tokens for the lexical benchmarks: CSL and ChinaXiv papers tokenised like listings.

Each paper becomes what a listing stores in `search_text` (title twice, keywords, abstract, then the
adjacent-word pairs, via listings.search.searchable_text). Tokenising ~29k papers takes a few minutes,
so the tokens are cached under var/bench-cache/ (never in the repository). Catalogues larger than the
real corpus are recombined: document i past the real ones is the first half of one real document and
the second half of another, so term statistics stay those of real text.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "var" / "bench-cache" / "lexical_tokens.json.gz"
SOURCES = (DATA / "csl" / "csl_all_abstracts.jsonl.gz", DATA / "chinaxiv" / "chinaxiv_papers.jsonl.gz")


def _papers():
    for source in SOURCES:
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            for line in handle:
                paper = json.loads(line)
                if paper.get("lang", "zh") == "zh" and paper.get("abstract"):
                    yield paper


def real_tokens() -> list[list[str]]:
    """search_text tokens of every Chinese paper with an abstract (cached)."""
    if CACHE.exists():
        with gzip.open(CACHE, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    from matchmaker.listings.search import searchable_text

    docs = []
    for paper in _papers():
        keywords = paper.get("keywords") or []
        if isinstance(keywords, str):
            keywords = keywords.replace("；", ",").replace(";", ",").split(",")
        shape = SimpleNamespace(title=paper.get("title") or "", keywords=[k.strip() for k in keywords if k.strip()],
                                summary=paper["abstract"], description=None, application_areas=None,
                                confidential=False)
        docs.append(searchable_text(shape).split())
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(CACHE, "wt", encoding="utf-8") as handle:
        json.dump(docs, handle, ensure_ascii=False)
    return docs


def catalogue(n: int, real: list[list[str]] | None = None) -> dict[int, list[str]]:
    """{listing id: tokens} for n documents: the real ones first, then recombinations."""
    real = real if real is not None else real_tokens()
    m = len(real)
    docs: dict[int, list[str]] = {}
    for i in range(n):
        if i < m:
            docs[i + 1] = real[i]
        else:
            first, second = real[i % m], real[(i * 7919 + 13) % m]
            docs[i + 1] = first[: len(first) // 2] + second[len(second) // 2:]
    return docs


if __name__ == "__main__":
    tokens = real_tokens()
    print(json.dumps({"documents": len(tokens), "tokens": sum(map(len, tokens))}))
