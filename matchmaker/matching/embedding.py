"""Embedding listings: the configured model (loaded lazily per process), content hashes, stored vectors.

Unchanged text is never embedded twice: each stored vector carries the sha256 of the text it came from
and the model's name and dimension.
"""
from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app

from matchmaker.engine.embedder import Embedder, ModelFolder, clean_text, default_model_path, load_embedder
from models import ListingVector, Session, utcnow

log = logging.getLogger(__name__)


def get_embedder() -> Embedder:
    """The configured embedder, loaded on first use in this process (never at import)."""
    config = current_app.config
    return load_embedder(config.get("EMBEDDING_MODEL") or None, config.get("EMBEDDING_BACKEND") or "auto")


def configured_model_name() -> str:
    """The configured model's name, read from its folder without loading it."""
    configured = current_app.config.get("EMBEDDING_MODEL")
    path = Path(configured).expanduser() if configured else default_model_path()
    try:
        return ModelFolder.read(path).name
    except FileNotFoundError:
        return str(path)


def listing_text(title: str | None, keywords: Iterable[str] | None = None, summary: str | None = None,
                 description: str | None = None) -> str:
    """The text that is embedded for a listing; the same function builds it for evaluation documents."""
    parts = [title, " ".join(k for k in (keywords or []) if k), summary, description]
    return clean_text("\n".join(p.strip() for p in parts if p and p.strip()))


def text_of(listing: Any) -> str:
    """What a listing is matched on: for confidential ones only the public teaser, so neither a rank nor
    a highlighted term can reveal what the hidden description says."""
    description = None if listing.confidential else listing.description
    return listing_text(listing.title, listing.keywords, listing.summary, description)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(blob, dtype="<f4")
    if vector.shape != (dim,):
        raise ValueError(f"stored vector has {vector.size} values, expected {dim}")
    return vector.astype(np.float32)


def stored_vectors(kind: str, model_name: str, listing_ids: Sequence[int] | None = None
                   ) -> dict[int, ListingVector]:
    stmt = sa.select(ListingVector).where(ListingVector.kind == kind, ListingVector.model_name == model_name)
    if listing_ids is not None:
        if not listing_ids:
            return {}
        stmt = stmt.where(ListingVector.listing_id.in_(list(listing_ids)))
    return {row.listing_id: row for row in Session.scalars(stmt)}


def ensure_vectors(kind: str, texts: dict[int, str]) -> tuple[dict[int, np.ndarray], int]:
    """Stored vectors for {listing_id: text}, embedding only texts whose hash changed.

    Returns ({id: vector}, number embedded now). Empty texts are left out (the caller reports them).
    Flushes; the caller commits.
    """
    embedder = get_embedder()
    name, dim = embedder.info.name, embedder.info.dim
    existing = stored_vectors(kind, name, list(texts))
    hashes = {lid: content_hash(text) for lid, text in texts.items() if text}
    stale = [lid for lid, digest in hashes.items()
             if lid not in existing or existing[lid].content_hash != digest or existing[lid].dim != dim]
    vectors: dict[int, np.ndarray] = {lid: from_bytes(existing[lid].vector, dim)
                                      for lid in hashes if lid not in stale}
    if stale:
        fresh = embedder.embed_passages([texts[lid] for lid in stale])
        for lid, vector in zip(stale, fresh, strict=True):
            row = existing.get(lid) or ListingVector(kind=kind, listing_id=lid, model_name=name)
            row.dim, row.content_hash, row.vector, row.updated_at = dim, hashes[lid], to_bytes(vector), utcnow()
            Session.add(row)
            vectors[lid] = vector
        Session.flush()
    return vectors, len(stale)


class VectorFileCache:
    """Passage vectors kept in a .npz file keyed by content hash (evaluation runs over ~27k texts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def embed(self, embed: Callable[[list[str]], np.ndarray], texts: Sequence[str], dim: int,
              chunk: int = 512) -> np.ndarray:
        keys = [content_hash(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}.items())
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            for (key, _), vector in zip(part, embed([t for _, t in part]), strict=True):
                self._vectors[key] = vector
            self.save()  # an interrupted run keeps what it embedded
            log.info("embedded %d/%d new texts", min(start + chunk, len(missing)), len(missing))
        if not keys:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]))
        tmp.replace(self.path)


# --- query vectors -------------------------------------------------------------------------------

_query_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
# Whole queries and the words of English ones (about 30 a query) share it: 4,096 vectors, ~6 MB.
_QUERY_CACHE_SIZE = 4096


def query_vector(text: str) -> np.ndarray:
    """The text embedded as a query (e5's "query: " side), cached per process by content hash."""
    embedder = get_embedder()
    key = (embedder.info.name, content_hash(text))
    vector = _query_cache.get(key)
    if vector is None:
        vector = embedder.embed_queries([text])[0]
        _query_cache[key] = vector
        if len(_query_cache) > _QUERY_CACHE_SIZE:
            _query_cache.popitem(last=False)
    return vector
