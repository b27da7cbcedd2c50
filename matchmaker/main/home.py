"""Figures and latest listings for the home page."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from models import ListingStatus, ResearchResult, Session, TechNeed


def overview(latest: int = 6) -> dict[str, Any]:
    def published(model: Any) -> Any:
        return sa.select(model).where(model.status == ListingStatus.PUBLISHED)

    def count(model: Any) -> int:
        stmt = sa.select(sa.func.count()).select_from(model).where(model.status == ListingStatus.PUBLISHED)
        return Session.scalar(stmt) or 0

    return {
        "result_count": count(ResearchResult),
        "need_count": count(TechNeed),
        "latest_results": list(Session.scalars(
            published(ResearchResult).order_by(ResearchResult.published_at.desc()).limit(latest))),
        "latest_needs": list(Session.scalars(
            published(TechNeed).order_by(TechNeed.published_at.desc()).limit(latest))),
    }
