"""Webhooks: an organization subscribes a URL to events; each event becomes a delivery, POSTed by a
background job with an HMAC-SHA256 signature, retried with exponential backoff for a day, logged with
its response code, and redeliverable by hand. A subscription whose deliveries keep failing is switched
off and its owner told. Only http(s) URLs on public addresses are accepted unless the deployment
allows private ones (WEBHOOKS_ALLOW_PRIVATE), so the platform cannot be used to probe its own network.

Verifying a delivery (receiver side): signature = hex HMAC-SHA256(secret, f"{timestamp}.{body}"),
sent as `X-Matchmaker-Signature: sha256=<hex>` with `X-Matchmaker-Timestamp: <unix seconds>`.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from matchmaker.core import audit, notifications, permissions
from matchmaker.core.errors import NotFound, ValidationFailed
from models import Session, User, Webhook, WebhookDelivery, aware, utcnow

EVENTS = ("listing.published", "listing.closed", "introduction.requested", "introduction.accepted",
          "introduction.declined", "deal.stage_changed", "contract.registered")
RETRY_FOR = timedelta(hours=24)
DISABLE_AFTER = 5  # deliveries given up on in a row
TIMEOUT = 5.0


# --- subscribing -----------------------------------------------------------------------------------

def _public_address(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified):
            return False
    return True


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ValidationFailed({"url": [_("Give an http or https address.")]})
    if not current_app.config.get("WEBHOOKS_ALLOW_PRIVATE") and not _public_address(parts.hostname):
        raise ValidationFailed({"url": [_("This address is not reachable from the internet (a private, "
                                          "loopback or unknown host).")]})
    return url


def subscribe(user: User, url: str, events: Iterable[str]) -> tuple[Webhook, str]:
    """A subscription for the user's organization; returns it and its signing secret (shown once)."""
    if not permissions.signed_in(user) or not user.organization_id:
        raise ValidationFailed({"url": [_("Only members of an organization subscribe webhooks.")]})
    chosen = [e for e in EVENTS if e in set(events or [])]
    errors = {}
    try:
        url = check_url(url)
    except ValidationFailed as failure:
        errors.update(failure.errors)
    if not chosen:
        errors["events"] = [_("Choose at least one event.")]
    if errors:
        raise ValidationFailed(errors)
    secret = "whsec_" + secrets.token_urlsafe(24)
    hook = Webhook(organization_id=user.organization_id, url=url, secret=secret, events=chosen,
                   created_by_id=user.id)
    Session.add(hook)
    Session.flush()
    audit.record(user.id, "webhook.create", hook, {"url": [None, url], "events": [None, chosen]})
    Session.commit()
    return hook, secret


def for_user(user: User) -> list[Webhook]:
    if permissions.is_staff(user):
        return list(Session.scalars(sa.select(Webhook).order_by(Webhook.id.desc())))
    if not user.organization_id:
        return []
    return list(Session.scalars(sa.select(Webhook).where(Webhook.organization_id == user.organization_id)
                                .order_by(Webhook.id.desc())))


def _own(user: User, webhook_id: int) -> Webhook:
    hook = Session.get(Webhook, webhook_id)
    if hook is None or not (permissions.is_staff(user) or hook.organization_id == user.organization_id):
        raise NotFound(_("No such webhook."))
    return hook


def remove(user: User, webhook_id: int) -> None:
    hook = _own(user, webhook_id)
    audit.record(user.id, "webhook.delete", hook, {"url": [hook.url, None]})
    Session.delete(hook)
    Session.commit()


def recent_deliveries(user: User, webhook_id: int, limit: int = 20) -> list[WebhookDelivery]:
    _own(user, webhook_id)
    return list(Session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                                .order_by(WebhookDelivery.id.desc()).limit(limit)))


def redeliver(user: User, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again now (and switch its subscription back on)."""
    delivery = Session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(_("No such delivery."))
    hook = _own(user, delivery.webhook_id)
    hook.active, hook.disabled_reason, hook.failures = True, None, 0
    delivery.status, delivery.next_attempt_at, delivery.created_at = "pending", utcnow(), utcnow()
    Session.commit()
    return delivery


# --- emitting and delivering -----------------------------------------------------------------------

def emit(event: str, organization_ids: Iterable[int | None], data: dict[str, Any]) -> int:
    """Queue `event` for the active subscriptions of these organizations (in the caller's transaction;
    the delivery job sends it after the commit)."""
    if event not in EVENTS:
        raise KeyError(event)
    orgs = {o for o in organization_ids if o}
    if not orgs:
        return 0
    hooks = Session.scalars(sa.select(Webhook).where(Webhook.organization_id.in_(orgs), Webhook.active.is_(True)))
    added = 0
    for hook in hooks:
        if event in (hook.events or []):
            Session.add(WebhookDelivery(webhook_id=hook.id, event=event, next_attempt_at=utcnow(),
                                        payload={"event": event, "occurred_at": utcnow().isoformat(), "data": data}))
            added += 1
    return added


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def deliver_due(limit: int = 100) -> dict[str, int]:
    """Send every delivery whose time has come; the periodic job calls this."""
    now = utcnow()
    due = list(Session.scalars(sa.select(WebhookDelivery).where(
        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.id).limit(limit)))
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for delivery in due:
        counts[_attempt(delivery)] += 1
        Session.commit()
    return counts


def _attempt(delivery: WebhookDelivery) -> str:
    hook = Session.get(Webhook, delivery.webhook_id)
    body = json.dumps({"id": delivery.id, **delivery.payload}, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    delivery.attempts += 1
    code, error = None, None
    try:
        check_url(hook.url)  # addresses can change to private ones after subscribing
        response = requests.post(hook.url, data=body, timeout=TIMEOUT, allow_redirects=False, headers={
            "Content-Type": "application/json", "User-Agent": "Matchmaker-Webhooks/1",
            "X-Matchmaker-Event": delivery.event, "X-Matchmaker-Delivery": str(delivery.id),
            "X-Matchmaker-Timestamp": timestamp,
            "X-Matchmaker-Signature": f"sha256={signature(hook.secret, timestamp, body)}"})
        code = response.status_code
    except ValidationFailed as failure:
        error = "; ".join(m for ms in failure.errors.values() for m in ms)
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    delivery.response_code, delivery.error = code, (error or None) and error[:300]
    now = utcnow()
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        hook.failures = 0
        return "delivered"
    if now - aware(delivery.created_at) + _backoff(delivery.attempts) > RETRY_FOR:
        delivery.status, delivery.next_attempt_at = "failed", None
        hook.failures += 1
        if hook.failures >= DISABLE_AFTER and hook.active:
            _disable(hook)
        return "failed"
    delivery.next_attempt_at = now + _backoff(delivery.attempts)
    return "retry"


def _backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most 4 hours apart."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 240))


def _disable(hook: Webhook) -> None:
    hook.active = False
    hook.disabled_reason = f"{hook.failures} deliveries in a row failed for 24 hours"
    if hook.created_by_id:
        notifications.notify([hook.created_by_id], "webhook.disabled", {"title": hook.url},
                             link="/account/webhooks/")
