"""Keyword side of matching: jieba tokenisation and a BM25 index over listing texts.

BM25 catches exact technical terms (材料牌号, model numbers, acronyms) that embeddings blur.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

import jieba
import numpy as np
from scipy import sparse

STOPWORDS: frozenset[str] = frozenset(
    # Chinese function words, plus words every listing uses and so never tell listings apart.
    "的 了 和 与 及 等 是 在 对 中 为 或 有 将 可 以 于 其 该 本 从 由 被 把 并 也 都 而 就 "
    "这 那 之 个 种 着 上 下 不 无 我 我们 你 他 她 它 他们 一 一种 一个 一些 及其 以及 并且 "
    "或者 如果 因为 所以 但是 通过 进行 采用 利用 使用 基于 具有 可以 能够 需要 实现 提供 "
    "相关 目前 现有 主要 包括 方面 问题 方法 技术 研究 应用 项目 成果 需求 企业 公司 希望 "
    "the a an of and or to in for on with by is are was were be been this that these those "
    "from as at it its we our you your they their which based using use used can may via "
    "into than then also not no such".split()
)

_WORD = re.compile(r"[0-9a-z\u4e00-\u9fff]")
_jieba_lock = threading.Lock()
_jieba_ready = False


def _ensure_jieba() -> None:
    """Load jieba's dictionary once, without its start-up chatter on stderr."""
    global _jieba_ready
    if _jieba_ready:
        return
    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True


def _keep(token: str) -> bool:
    return bool(_WORD.search(token)) and token not in STOPWORDS


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lowercased, without punctuation, spaces or stopwords.

    Search mode also yields the sub-words of long words (故障诊断 → 故障, 诊断, 故障诊断), so a
    need saying 故障 still meets a result saying 故障诊断.
    """
    _ensure_jieba()
    return [t for t in (token.strip().lower() for token in jieba.cut_for_search(text)) if _keep(t)]


def word_sequence(text: str) -> list[str | None]:
    """Precise-mode tokens in order, lowercased; None marks a break (punctuation or stopword).

    Used to find shared multi-word phrases; whitespace between words is not a break.
    """
    _ensure_jieba()
    sequence: list[str | None] = []
    for raw in jieba.cut(text):
        token = raw.strip().lower()
        if token:
            sequence.append(token if _keep(token) else None)
    return sequence


_LATIN = re.compile(r"[0-9a-z]")


def join_words(words: Iterable[str], latin_gap: str = " ") -> str:
    """Words written as one text: Chinese runs together, two latin words keep `latin_gap` between them
    (故障+诊断 → 故障诊断, machine+learning → "machine learning")."""
    text = ""
    for word in words:
        if text and _LATIN.fullmatch(text[-1]) and _LATIN.fullmatch(word[0]):
            text += latin_gap
        text += word
    return text


def phrase_tokens(text: str) -> list[str]:
    """Adjacent word pairs of the precise-mode segmentation, each as one token.

    Single words cannot tell a text about 全过程管理 from one that says 全过程 here and 管理 there.
    Indexed beside the words, a shared pair counts as one more, rarer term, so listings that share
    a phrase rank above listings that merely share its words (docs/evaluation.md). A pair of Chinese
    words is written like the word jieba sometimes keeps whole, so 故障诊断 meets 故障+诊断.
    """
    sequence = word_sequence(text)
    return [join_words((left, right), latin_gap="_")
            for left, right in zip(sequence, sequence[1:], strict=False) if left and right]


def bm25_weights(rows: np.ndarray, cols: np.ndarray, tf: np.ndarray, lengths: np.ndarray, n_terms: int,
                 k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Okapi BM25 weight of each (document row, term column, tf) posting, and the IDF of each column.

    The one formula every BM25 index here uses (in float32), so in-memory and on-disk indexes over the
    same documents score alike.
    """
    n_docs = len(lengths)
    tf = np.asarray(tf, dtype=np.float32)
    lengths = np.asarray(lengths, dtype=np.float32)
    avg_length = float(lengths.mean()) if n_docs and lengths.mean() > 0 else 1.0
    df = np.bincount(cols, minlength=n_terms).astype(np.float32)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    norm = k1 * (1 - b + b * lengths[rows] / avg_length)
    return idf[cols] * tf * (k1 + 1) / (tf + norm), idf


class BM25Scoring:
    """Queries over a BM25 index: subclasses give the score vector over their rows and the row ids.

    ``_ids[row]`` is the listing id of a row; ``idf`` maps a term to its IDF.
    """

    _ids: np.ndarray
    idf: Mapping[str, float]

    def __len__(self) -> int:
        return len(self._ids)

    def live_ids(self) -> np.ndarray:
        """The ids of every document, sorted."""
        return np.sort(self._ids)

    def _score_vector(self, query: str | Iterable[str]) -> np.ndarray:
        raise NotImplementedError

    def _rows(self, ids: Iterable[int]) -> np.ndarray:
        raise NotImplementedError

    def scores(self, query: str | Iterable[str],
               ids: Iterable[int] | None = None) -> dict[int, float]:
        """Positive BM25 scores of the query against all documents, or only against ``ids``."""
        scores = self._score_vector(query)
        rows = np.flatnonzero(scores > 0) if ids is None else self._rows(ids)
        rows = rows[scores[rows] > 0]
        return dict(zip(self._ids[rows].tolist(), scores[rows].tolist(), strict=True))

    def top(self, query: str | Iterable[str], k: int,
            allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
        """The k best (id, score) with a positive score, best first (ties by id)."""
        scores = self._score_vector(query)
        rows = np.flatnonzero(scores > 0) if allowed is None else self._rows(allowed)
        rows = rows[scores[rows] > 0]
        if len(rows) > k:
            rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
        rows = rows[np.lexsort((self._ids[rows], -scores[rows]))]
        return list(zip(self._ids[rows].tolist(), scores[rows].tolist(), strict=True))

    def idf_of(self, term: str) -> float:
        """IDF of a term; unseen terms count as the rarest."""
        return self.idf.get(term, self.max_idf)

    @property
    def max_idf(self) -> float:
        n = len(self._ids)
        return math.log1p((n + 0.5) / 0.5)


class BM25Index(BM25Scoring):
    """Okapi BM25 over a fixed set of documents keyed by listing id, built in memory.

    Per-document term weights are precomputed into a sparse matrix, so scoring a query is one
    column slice and a row sum: milliseconds for tens of thousands of listings. Workers write the
    site's index to disk instead (engine.lexical_store), with the same weights.
    """

    def __init__(self, doc_tokens: Mapping[int, Iterable[str]], k1: float = 1.5, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self._ids = np.fromiter(doc_tokens.keys(), dtype=np.int64, count=len(doc_tokens))
        self._row_of = {int(listing_id): row for row, listing_id in enumerate(self._ids)}
        counts = [Counter(tokens) for tokens in doc_tokens.values()]
        self._vocab: dict[str, int] = {}
        for counter in counts:
            for term in counter:
                self._vocab.setdefault(term, len(self._vocab))
        self._weights, self.idf = self._weigh(counts)

    @classmethod
    def build(cls, texts: Mapping[int, str], **options: float) -> BM25Index:
        """Tokenise and index {listing id: text}."""
        return cls({listing_id: tokenize(text) for listing_id, text in texts.items()}, **options)

    def _weigh(self, counts: list[Counter[str]]) -> tuple[sparse.csc_matrix, dict[str, float]]:
        rows, cols, tfs = [], [], []
        for row, counter in enumerate(counts):
            for term, tf in counter.items():
                rows.append(row)
                cols.append(self._vocab[term])
                tfs.append(tf)
        n_docs, n_terms = len(counts), len(self._vocab)
        row_index = np.asarray(rows, dtype=np.int64)
        col_index = np.asarray(cols, dtype=np.int64)
        lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.float32)
        values, idf = bm25_weights(row_index, col_index, np.asarray(tfs), lengths, n_terms, self.k1, self.b)
        matrix = sparse.csc_matrix((values, (row_index, col_index)), shape=(n_docs, n_terms))
        idf_map = {term: float(idf[col]) for term, col in self._vocab.items()}
        return matrix, idf_map

    def _query_columns(self, query: str | Iterable[str]) -> list[int]:
        tokens = tokenize(query) if isinstance(query, str) else query
        return sorted({self._vocab[t] for t in tokens if t in self._vocab})

    def _score_vector(self, query: str | Iterable[str]) -> np.ndarray:
        columns = self._query_columns(query)
        if not columns or not len(self._ids):
            return np.zeros(len(self._ids), dtype=np.float32)
        return np.asarray(self._weights[:, columns].sum(axis=1)).ravel()

    def _rows(self, ids: Iterable[int]) -> np.ndarray:
        return np.asarray([self._row_of[i] for i in ids if i in self._row_of], dtype=np.int64)
