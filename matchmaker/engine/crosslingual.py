"""Cross-language lexical matching: a Latin-script query's words mapped to the catalogue's own CJK terms.

An English query shares no BM25 term with a Chinese listing, and a small multilingual embedder aligns
whole sentences across languages much worse than single terms. So the catalogue's CJK terms (the BM25
vocabulary: words and adjacent-word pairs) are embedded once, and each English word and word pair of a
query looks up its nearest terms. Those terms join the query's BM25 tokens; the English tokens stay, so
English listings still match them. On the Zhibei English needs this took nDCG@10 from 0.19 to 0.29
(docs/evaluation.md).

Pure: no database, no Flask. The term table is written by a worker and memory-mapped by readers.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Words that carry no technical meaning in a need or a search (the English side of the boilerplate list).
STOPWORDS = frozenset("""
a an the of and or for to in on with by from at as is are be been being we our us you your they their
that this these those it its into onto using use used uses need needs needed want wants wanted seek seeks
seeking looking look partner partners cooperation cooperate technology technologies technical improve
improving improved reduce reducing reduced high higher low lower new based such can could more than
which other also has have had will would should so not no up out one two all any each per via about
make making made provide providing better best good develop developing development solution solutions
company enterprise project product products research method methods system systems way ways how what
who when where there here very within without between over under some many much most only own
""".split())
TERM_PATTERN = re.compile(r"[\u4e00-\u9fff]{2,8}")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")
MAX_GRAMS = 40  # a 10,000-character query costs no more than a long need
TOP_TERMS = 2
MIN_SIMILARITY = 0.82


def latin_grams(text: str | None, limit: int = MAX_GRAMS) -> list[str]:
    """The query's Latin-script content words and adjacent content-word pairs, lower-cased, in order."""
    words = [w.lower() for w in LATIN_WORD.findall(text or "")]
    words = [w for w in words if w not in STOPWORDS and len(w) > 2]
    grams = list(dict.fromkeys(words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]))
    return grams[:limit]


def candidate_terms(vocabulary: Iterable[str]) -> list[str]:
    """The vocabulary terms worth translating to: two to eight CJK characters, sorted."""
    return sorted(term for term in vocabulary if TERM_PATTERN.fullmatch(term))


@dataclass(frozen=True)
class TermTable:
    """CJK terms and their unit vectors (row i is terms[i]), in the embedder's query space."""

    terms: list[str]
    vectors: np.ndarray
    model: str

    def translate(self, gram_vectors: np.ndarray, top: int = TOP_TERMS, threshold: float = MIN_SIMILARITY
                  ) -> list[str]:
        """For each gram vector, its `top` nearest terms at or above `threshold`; de-duplicated."""
        if not len(self.terms) or not len(gram_vectors):
            return []
        found: list[str] = []
        sims = np.asarray(gram_vectors, dtype=np.float32) @ self.vectors.T  # float32 on disk: no copy
        top = min(top, sims.shape[1])
        for row in sims:
            best = np.argpartition(-row, top - 1)[:top]
            found += [self.terms[i] for i in best[np.argsort(-row[best])] if row[i] >= threshold]
        return list(dict.fromkeys(found))

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write terms.json and vectors.npy atomically: readers see the old or the new table. float32, so
        a reader multiplies the memory-mapped file as it is (a float16 file costs a 2x copy per query)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp_vectors, tmp_terms = folder / "vectors.npy.tmp", folder / "terms.json.tmp"
        with tmp_vectors.open("wb") as handle:
            np.save(handle, np.asarray(self.vectors, dtype=np.float32))
        tmp_terms.write_text(json.dumps({"model": self.model, "terms": self.terms}, ensure_ascii=False),
                             encoding="utf-8")
        os.replace(tmp_vectors, folder / "vectors.npy")
        os.replace(tmp_terms, folder / "terms.json")

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> TermTable | None:
        """The table in `folder` (vectors memory-mapped, shared by processes), or None when there is none
        or its two files disagree (a writer between its two renames)."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError):
            return None
        if vectors.ndim != 2 or vectors.shape[0] != len(meta.get("terms", [])):
            return None
        return cls(list(meta["terms"]), vectors, str(meta.get("model", "")))


def build_table(terms: list[str], embed_queries: Callable[[list[str]], np.ndarray], model: str) -> TermTable:
    """Embed the terms as queries (what a query's grams are compared with) and normalise them."""
    vectors = np.asarray(embed_queries(terms), dtype=np.float32).reshape(len(terms), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return TermTable(terms, vectors / np.where(norms == 0, 1, norms), model)
