"""Operating the matching indexes: rebuild from stored vectors, report their state."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from matchmaker.matching import embedding, index, outbox
from models import IndexState, ListingVector, Session


def rebuild_indexes(side: str | None = None) -> dict[str, Any]:
    """Rebuild one side or both from stored vectors and announce the new generation."""
    report: dict[str, Any] = {}
    for name in [side] if side else list(index.SIDES):
        state = index.rebuild(name)
        Session.commit()
        report[name] = {"generation": state.generation, "count": state.count, "path": state.path}
    return report


def status() -> dict[str, Any]:
    """Per index: model, generation, size, snapshot; stored vectors per model; outbox backlog."""
    states = Session.scalars(sa.select(IndexState).order_by(IndexState.side, IndexState.model_name))
    vectors = Session.execute(sa.select(ListingVector.model_name, ListingVector.kind, sa.func.count())
                              .group_by(ListingVector.model_name, ListingVector.kind)).all()
    return {
        "model": embedding.configured_model_name(),
        "indexes": [{"side": s.side, "model": s.model_name, "dim": s.dim, "generation": s.generation,
                     "count": s.count, "path": s.path, "built_at": s.built_at.isoformat(), **index.describe(s)}
                    for s in states],
        "vectors": [{"model": m, "kind": k, "count": c} for m, k, c in vectors],
        "outbox_pending": outbox.pending_count(),
    }
