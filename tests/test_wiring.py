"""The explicit wiring: a fresh app has every feature's blueprints, jobs, periodic jobs, listeners,
detail-access checks and commands, the Celery app turns every job into a task, and a listing published
from a bare app context (as a script would) becomes searchable."""
from __future__ import annotations

from celery import Celery

from matchmaker.core import jobs, permissions
from matchmaker.deals.introductions import has_accepted_introduction
from matchmaker.features import FEATURES
from matchmaker.listings import events, lifecycle
from matchmaker.matching import matches, outbox
from models import ListingStatus, Role
from workers.tasks import register_all


def test_every_feature_is_wired_by_create_app(app):
    assert {f.__name__.rsplit(".", 1)[1] for f in FEATURES} >= {
        "main", "accounts", "listings", "imports", "matching", "deals", "stats", "fairs", "demo", "api"}
    assert {"main", "auth", "admin", "listings", "imports", "matching", "introductions", "deals", "contracts",
            "stats", "fairs", "api_tokens", "webhooks", "api_listings", "jobs"} <= set(app.blueprints)
    registry = jobs.registry(app)
    assert {"matching.process_outbox", "matching.reconcile", "matching.notify_matches",
            "introductions.remind_and_expire", "deals.remind_next_actions", "fairs.expire_requests",
            "notifications.email_digest", "webhooks.deliver", "api.prune_idempotency_keys"} <= set(registry)
    assert set(jobs.periodic(app)) <= set(registry) and jobs.periodic(app)["webhooks.deliver"] == 30
    assert outbox.record_change in events.listeners(app)
    assert has_accepted_introduction in permissions.detail_access_checks(app)
    assert {"eval", "index", "seed", "rebuild-contract-stats"} <= set(app.cli.commands)


def test_the_celery_app_registers_every_job_as_a_task(app):
    celery = Celery("wiring-test", broker="memory://")
    register_all(celery, app)
    assert set(jobs.registry(app)) <= set(celery.tasks)
    assert set(celery.conf.beat_schedule) == set(jobs.periodic(app))


def test_a_listing_published_from_a_bare_app_context_becomes_searchable(app, make):
    """No request, no view imported: a script's app context is enough for the outbox to index it."""
    staff = make.user(Role.STAFF)
    listing = make.result(status=ListingStatus.PENDING, title="基于振动信号的轴承故障预测系统",
                          summary="提前预测电机轴承故障")
    lifecycle.approve_listing(staff, listing)
    found = matches.search(staff, "电机轴承什么时候会坏", "result")
    assert found and found[0].listing.id == listing.id
