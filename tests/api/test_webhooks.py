"""Webhooks against a real HTTP receiver on 127.0.0.1: signed deliveries of real events, retries with
backoff while the receiver fails, switching off after repeated failure (and telling the owner), manual
redelivery, and addresses that are refused."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from matchmaker.core import webhooks
from matchmaker.deals import introductions
from models import Notification, OrgKind, Role, Session, Webhook, WebhookDelivery


class Receiver:
    """An HTTP server on a free local port that records what it receives and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOKS_ALLOW_PRIVATE": True}  # the receiver lives on loopback here


def test_a_requested_introduction_reaches_both_sides_signed(app, make, receiver):
    researcher = make.user(Role.RESEARCHER, make.org(OrgKind.UNIVERSITY))
    enterprise = make.user(Role.ENTERPRISE, make.org(OrgKind.ENTERPRISE))
    with app.test_request_context():
        hook, secret = webhooks.subscribe(researcher, receiver.url, ["introduction.requested", "listing.closed"])
        result = make.result(owner=researcher, title="海水淡化膜材料")
        introductions.request(enterprise, introductions.RequestInput(kind="result", listing_id=result.id,
                                                                     message="想了解"))
        assert webhooks.deliver_due() == {"delivered": 1, "retry": 0, "failed": 0}
    [(headers, body)] = receiver.received
    expected = hmac.new(secret.encode(), headers["X-Matchmaker-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Matchmaker-Signature"] == f"sha256={expected}"
    message = json.loads(body)
    assert message["event"] == "introduction.requested" and message["data"]["listing"]["title"] == "海水淡化膜材料"
    delivery = Session.scalar(sa.select(WebhookDelivery))
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)
    assert set(hook.events) == {"introduction.requested", "listing.closed"}


def test_failing_deliveries_are_retried_with_backoff_then_switch_the_webhook_off(app, make, receiver):
    owner = make.user(Role.RESEARCHER, make.org(OrgKind.UNIVERSITY))
    receiver.status = 500
    with app.test_request_context():
        hook, _secret = webhooks.subscribe(owner, receiver.url, ["listing.published"])
        for n in range(webhooks.DISABLE_AFTER):
            webhooks.emit("listing.published", [owner.organization_id], {"id": n})
        Session.commit()
        assert webhooks.deliver_due()["retry"] == webhooks.DISABLE_AFTER
        first = Session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
        assert first.attempts == 1 and first.next_attempt_at is not None and first.response_code == 500
        assert webhooks.deliver_due() == {"delivered": 0, "retry": 0, "failed": 0}  # not due yet: backoff
        for delivery in Session.scalars(sa.select(WebhookDelivery)):  # a day later
            delivery.created_at -= timedelta(hours=25)
            delivery.next_attempt_at -= timedelta(hours=1)
        Session.commit()
        assert webhooks.deliver_due()["failed"] == webhooks.DISABLE_AFTER
        Session.refresh(hook)
        assert not hook.active and "failed" in hook.disabled_reason
        assert Session.scalar(sa.select(Notification).where(Notification.user_id == owner.id,
                                                            Notification.kind == "webhook.disabled"))
        webhooks.emit("listing.published", [owner.organization_id], {"id": 99})  # switched off: nothing queued
        assert Session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.status == "pending")) == 0
        receiver.status = 204
        webhooks.redeliver(owner, first.id)  # by hand, once the receiver is fixed
        assert webhooks.deliver_due()["delivered"] == 1
        Session.refresh(hook)
        assert hook.active and len(receiver.received) == 2 * webhooks.DISABLE_AFTER + 1


def test_the_webhooks_page_shows_the_secret_once_and_the_delivery_log(client, auth, make, receiver):
    owner = make.user(Role.ENTERPRISE, make.org(OrgKind.ENTERPRISE))
    auth.login(owner)
    page = client.post("/account/webhooks/?lang=en", data={"url": receiver.url, "events": ["deal.stage_changed"]})
    assert page.status_code == 200 and "whsec_" in page.get_data(as_text=True)
    assert "whsec_" not in client.get("/account/webhooks/").get_data(as_text=True)
    other = make.user(Role.ENTERPRISE, make.org(OrgKind.ENTERPRISE))
    auth.login(other)
    assert receiver.url not in client.get("/account/webhooks/").get_data(as_text=True)  # another org's


@pytest.mark.parametrize("url", ["ftp://example.cn/x", "javascript:alert(1)", "http://", "file:///etc/passwd"])
def test_only_http_addresses_are_accepted(app, make, url):
    owner = make.user(Role.ENTERPRISE, make.org(OrgKind.ENTERPRISE))
    with app.test_request_context(), pytest.raises(webhooks.ValidationFailed):
        webhooks.subscribe(owner, url, ["listing.published"])
    assert Session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0


def test_private_and_loopback_addresses_are_refused_unless_the_deployment_allows_them(app, make):
    owner = make.user(Role.ENTERPRISE, make.org(OrgKind.ENTERPRISE))
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    with app.test_request_context():
        for url in ("http://127.0.0.1:8080/x", "http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]/"):
            with pytest.raises(webhooks.ValidationFailed):
                webhooks.subscribe(owner, url, ["listing.published"])
