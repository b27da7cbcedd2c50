"""Keeping the indexes current: listing changes go to an outbox in the listing's own transaction and are
embedded and indexed after it commits; a periodic reconcile repairs whatever a dead broker or worker missed.
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event

from matchmaker.core import jobs
from matchmaker.listings import events as listing_events
from matchmaker.listings.search import published_filter
from matchmaker.matching import embedding, index
from models import ListingVector, OutboxEvent, Session, listing_model, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 64  # one task embeds up to this many listings, sorted by length inside the embedder
MAX_ATTEMPTS = 5
_PENDING_KEY = "matching.outbox_pending"


# --- writing the outbox ------------------------------------------------------------------------

def record_change(kind: str, listing_id: int, reason: str = "changed") -> None:
    """Listener for listing_events: an outbox row in the caller's transaction, processed after commit."""
    session = Session()
    session.add(OutboxEvent(kind=kind, listing_id=listing_id, reason=reason))
    session.info[_PENDING_KEY] = True


def _after_commit(session: Any) -> None:
    if session.info.pop(_PENDING_KEY, False) and has_app_context():
        kick()


def _after_rollback(session: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


def install(app: Any) -> None:
    """Listen to listing changes and to commits (idempotent: safe on every app start)."""
    listing_events.on_listing_changed(app, record_change)
    factory = Session.session_factory
    if not event.contains(factory, "after_commit", _after_commit):
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_rollback", _after_rollback)


def kick() -> None:
    """Ask for the outbox to be processed now that a change has committed. Never raises."""
    if current_app.config.get("JOBS_SYNC"):
        # The committing session cannot run SQL inside its after_commit hook; a helper thread with its
        # own session can, and joining it keeps "inline" semantics for tests.
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        thread = threading.Thread(target=_run_in_app, args=(app,), name="matching-outbox")
        thread.start()
        thread.join()
        return
    jobs.dispatch("matching.process_outbox")


def _run_in_app(app: Any) -> None:
    with app.app_context():
        try:
            process_outbox()
        except Exception:
            log.exception("processing the matching outbox failed")
            Session.rollback()
        finally:
            Session.remove()


# --- processing --------------------------------------------------------------------------------

def _claim(limit: int) -> list[OutboxEvent]:
    # SKIP LOCKED lets two workers take different batches; SQLite ignores it and serialises writers.
    stmt = (sa.select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
            .order_by(OutboxEvent.id).limit(limit).with_for_update(skip_locked=True))
    return list(Session.scalars(stmt))


def process_outbox(limit: int | None = None, rounds: int = 1000) -> dict[str, int]:
    """Index pending listing changes, one committed batch at a time; safe to run twice or concurrently.

    Returns counts: events handled, listings embedded now, listings indexed and removed.
    """
    limit = limit or int(current_app.config.get("MATCH_BATCH_SIZE") or BATCH_SIZE)
    totals = {"events": 0, "embedded": 0, "indexed": 0, "removed": 0, "failed": 0}
    for _ in range(rounds):
        events = _claim(limit)
        if not events:
            Session.rollback()
            break
        try:
            counts = _process_batch(events)
            Session.commit()
        except Exception as error:  # a bad batch must not stall the outbox or kill the worker
            Session.rollback()
            log.exception("matching batch of %d events failed", len(events))
            counts = _record_failure([e.id for e in events], error)
        indexed = counts.pop("indexed_ids", None)
        for name, value in counts.items():
            totals[name] += value
        if indexed:
            _announce(indexed)
    _merge_if_due()
    return totals


def _merge_if_due() -> None:
    """After commit: fold a side's deltas into a new base once there are enough (in the background)."""
    for kind in index.SIDES:
        try:
            if index.merge_due(kind):
                jobs.dispatch("matching.merge_index", kind)
        except Exception:
            log.exception("could not queue the merge of the %s index", kind)
        finally:
            Session.rollback()


def _process_batch(events: list[OutboxEvent]) -> dict[str, Any]:
    by_kind: dict[str, set[int]] = defaultdict(set)
    for item in events:
        by_kind[item.kind].add(item.listing_id)
    counts: dict[str, Any] = {"events": len(events), "embedded": 0, "indexed": 0, "removed": 0, "failed": 0,
                              "indexed_ids": []}
    errors: dict[tuple[str, int], str] = {}
    for kind, ids in by_kind.items():
        texts, refused = searchable_texts(kind, ids)
        for listing_id, message in refused.items():
            errors[(kind, listing_id)] = message
        vectors, embedded = embedding.ensure_vectors(kind, texts)
        removals = set(ids) - set(vectors)
        index.apply_changes(kind, vectors, removals)
        counts["embedded"] += embedded
        counts["indexed"] += len(vectors)
        counts["removed"] += len(removals)
        counts["indexed_ids"] += [(kind, i) for i in vectors]
    now = utcnow()
    for item in events:
        item.processed_at = now
        item.attempts += 1
        item.error = errors.get((item.kind, item.listing_id))
    return counts


def searchable_texts(kind: str, ids: Iterable[int]) -> tuple[dict[int, str], dict[int, str]]:
    """({id: text} of the listings that should be searchable, {id: why refused} for those with no text)."""
    model = listing_model(kind)
    ids = list(ids)
    if not ids:
        return {}, {}
    rows = Session.scalars(sa.select(model).where(model.id.in_(ids), published_filter(model)))
    texts: dict[int, str] = {}
    refused: dict[int, str] = {}
    for listing in rows:
        text = embedding.text_of(listing)
        if text:
            texts[listing.id] = text
        else:
            refused[listing.id] = "no text left to embed after removing control characters and whitespace"
            log.warning("%s %s has no text to embed; it is not searchable", kind, listing.id)
    return texts, refused


def _record_failure(event_ids: list[int], error: Exception) -> dict[str, int]:
    """Count the attempt; after MAX_ATTEMPTS the event is set aside (reconcile will retry the listing)."""
    failed = 0
    for item in Session.scalars(sa.select(OutboxEvent).where(OutboxEvent.id.in_(event_ids))):
        item.attempts += 1
        item.error = f"{type(error).__name__}: {error}"[:2000]
        if item.attempts >= MAX_ATTEMPTS:
            item.processed_at = utcnow()
            failed += 1
    Session.commit()
    return {"failed": failed}


def _announce(indexed: list[tuple[str, int]]) -> None:
    """After commit: look for new strong matches of freshly indexed listings (in the background)."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, listing_id in indexed:
        by_kind[kind].append(listing_id)
    for kind, ids in by_kind.items():
        try:
            jobs.dispatch("matching.notify_matches", kind, ids)
        except Exception:
            log.exception("could not queue match notifications for %s %s", kind, ids)


# --- reconciliation ------------------------------------------------------------------------------

def reconcile() -> dict[str, int]:
    """Published listings without a current vector get one; closed or expired ones leave the index.

    Also finishes outbox events left behind while Redis or every worker was down, re-embeds
    everything after a model change (stored vectors are per model), and rebuilds a side whose
    announced lexical index cannot be read.
    """
    queued = repaired = 0
    info = embedding.get_embedder().info
    for kind in index.SIDES:
        if index.repair_lexical(kind):
            Session.commit()
            repaired += 1
        queued += _queue_differences(kind, info.name, info.dim)
    Session.commit()
    totals = process_outbox()
    totals["queued"] = queued
    totals["repaired"] = repaired
    return totals


def _queue_differences(kind: str, model_name: str, dim: int) -> int:
    model = listing_model(kind)
    texts = {listing.id: embedding.text_of(listing)
             for listing in Session.scalars(sa.select(model).where(published_filter(model)))}
    wanted = {i: embedding.content_hash(text) for i, text in texts.items() if text}
    stored = dict(Session.execute(
        sa.select(ListingVector.listing_id, ListingVector.content_hash)
        .where(ListingVector.kind == kind, ListingVector.model_name == model_name, ListingVector.dim == dim)).all())
    indexed = set(index.writer_ids(kind))
    pending = set(Session.scalars(sa.select(OutboxEvent.listing_id).where(
        OutboxEvent.kind == kind, OutboxEvent.processed_at.is_(None))))
    stale = {i for i, digest in wanted.items() if stored.get(i) != digest or i not in indexed}
    gone = indexed - set(wanted)
    todo = (stale | gone) - pending
    for listing_id in sorted(todo):
        Session.add(OutboxEvent(kind=kind, listing_id=listing_id, reason="reconcile"))
    return len(todo)


def _on_worker_ready(sender: Any = None, **_kwargs: Any) -> None:
    """A restarted worker first finishes what a dead one left (its unacked task returns much later)."""
    try:
        sender.app.send_task("matching.reconcile")
    except Exception:
        log.warning("could not queue matching.reconcile at worker start")


try:
    from celery.signals import worker_ready

    worker_ready.connect(_on_worker_ready, weak=False)
except ImportError:  # pragma: no cover - celery is a dependency; this only keeps scripts importable
    pass


def prune_processed(older_than_days: int = 30) -> int:
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = Session.execute(sa.delete(OutboxEvent).where(OutboxEvent.processed_at < cutoff))
    Session.commit()
    return int(result.rowcount or 0)


def pending_count() -> int:
    return Session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)
                          .where(OutboxEvent.processed_at.is_(None))) or 0
