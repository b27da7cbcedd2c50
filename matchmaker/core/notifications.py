"""In-site notifications: rendering each kind in the reader's language, reading them, the email digest."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from matchmaker.core import mail
from matchmaker.core.errors import NotFound
from models import Notification, Session, User, aware, utcnow


def N_(message: str) -> str:
    """Marks a msgid for extraction; it is translated when shown, in the reader's language."""
    return message


# kind -> message; placeholders come from the notification's params (missing ones read as empty).
MESSAGES: dict[str, str] = {
    "match.new": N_('New strong match for "%(title)s": %(other_title)s'),
    "listing_expiring": N_('Your listing "%(title)s" expires on %(valid_until)s'),
    "listing_expired": N_('Your listing "%(title)s" has expired'),
    "introduction.requested": N_('Someone asked for an introduction about "%(title)s"'),
    "introduction.accepted": N_('Your introduction request about "%(title)s" was accepted'),
    "introduction.declined": N_('Your introduction request about "%(title)s" was declined'),
    "introduction.expired": N_('Your introduction request about "%(title)s" expired without an answer'),
    "introduction.reminder": N_('An introduction request about "%(title)s" is waiting for your answer'),
    "deal.next_action_due": N_('The next action on deal "%(title)s" is overdue: %(action)s'),
    "fair.request.received": N_('%(requester)s asked to meet you at "%(fair)s"'),
    "fair.request.accepted": N_('%(recipient)s accepted your meeting request at "%(fair)s"'),
    "fair.request.declined": N_('%(recipient)s declined your meeting request at "%(fair)s"'),
    "fair.request.expired": N_('The meeting request between you and %(other)s at "%(fair)s" expired unanswered'),
    "fair.schedule.changed": N_('Your meeting schedule at "%(fair)s" changed: %(count)s meetings placed or moved'),
    "fair.meeting.moved": N_('Your meeting with %(other)s at "%(fair)s" was moved to %(at)s, table %(table)s'),
    "fair.meeting.cancelled": N_('Your meeting with %(other)s at "%(fair)s" was cancelled'),
    "membership.requested": N_('%(name)s asked to join %(organization)s'),
    "membership.approved": N_('You are now a member of %(organization)s'),
    "membership.rejected": N_('Your request to join %(organization)s was not approved'),
    "conversation.message": N_('%(author)s wrote about "%(title)s"'),
    "conversation.meeting": N_('%(author)s proposed a meeting about "%(title)s"'),
    "conversation.intention": N_('%(author)s marked the intention signed for "%(title)s"'),
    "conversation.handover": N_('%(author)s handed the deal "%(title)s" to the broker'),
    "help.requested": N_('An owner asks a broker to find a counterpart for "%(title)s"'),
    "help.taken": N_('Broker %(broker)s is looking for a counterpart for "%(title)s"'),
    "webhook.disabled": N_('Webhook deliveries to %(title)s kept failing, so the webhook was switched off'),
    "fair.meeting.unscheduled": N_('Your meeting with %(other)s at "%(fair)s" on %(at)s was taken out of the '
                                   'schedule; staff will give it a new time'),
}
FALLBACK = N_("Update: %(title)s")
DIGEST_KINDS = ("match.new",)  # other kinds send their own mail when they happen
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def notify(user_ids: Iterable[int], kind: str, params: dict[str, Any], link: str | None = None,
           dedupe: str | None = None, **fields: Any) -> int:
    """The one writer of notification rows, in the caller's transaction (it commits).

    With `dedupe`, each user gets the event at most once ever (key "<dedupe>:u<user id>"), however
    often the caller runs; without it every call notifies. Returns how many rows were added.
    """
    added = 0
    for user_id in sorted(set(user_ids)):
        key = f"{dedupe}:u{user_id}" if dedupe is not None else None
        if key is not None and (Session.scalar(sa.select(Notification.id).where(Notification.dedupe_key == key))
                                is not None or any(getattr(row, "dedupe_key", None) == key for row in Session.new)):
            continue
        Session.add(Notification(user_id=user_id, kind=kind, params=params, link=link, dedupe_key=key, **fields))
        added += 1
    return added


def render(notification: Notification) -> str:
    """The notification's message in the current locale."""
    msgid = MESSAGES.get(notification.kind, FALLBACK)
    params = notification.params or {}
    values = {name: str(params.get(name) if params.get(name) is not None else "")
              for name in _PLACEHOLDER.findall(msgid)}
    return _(msgid, **values)


@dataclass(frozen=True)
class Page:
    items: list[Notification]
    number: int
    pages: int
    unread: int


def for_user(user: Any, page: int = 1, per_page: int = 20) -> Page:
    base = sa.select(Notification).where(Notification.user_id == user.id)
    total = Session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    items = list(Session.scalars(base.order_by(Notification.created_at.desc(), Notification.id.desc())
                                 .offset((number - 1) * per_page).limit(per_page)))
    unread = Session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0
    return Page(items, number, pages, unread)


def window(user: Any, offset: int, limit: int) -> tuple[list[Notification], int]:
    """`limit` of the user's notifications from `offset`, newest first, and how many are unread."""
    rows = list(Session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                .order_by(Notification.created_at.desc(), Notification.id.desc())
                                .offset(offset).limit(limit)))
    unread = Session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0
    return rows, unread


def mark_read(user: Any, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (idempotent); returns it for its link."""
    row = Session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such notification."))
    if row.read_at is None:
        row.read_at = utcnow()
        Session.commit()
    return row


def mark_all_read(user: Any) -> int:
    result = Session.execute(sa.update(Notification)
                             .where(Notification.user_id == user.id, Notification.read_at.is_(None))
                             .values(read_at=utcnow()))
    Session.commit()
    return int(result.rowcount or 0)


_DIGEST_SUBJECT = N_("New matches for your listings")
_DIGEST_INTRO = N_("These new matches were found for your listings since the last message:")
_DIGEST_LISTING = N_('For "%(title)s":')
_DIGEST_FOOTER = N_("You get these messages %(cadence)s. Change that on your profile page, or stop them "
                    "with this link: %(url)s")

# How often a user hears of new strong matches: the minimum time between two mails (None: never).
MATCH_NOTICES: dict[str, timedelta | None] = {
    "instant": timedelta(0), "daily": timedelta(hours=23), "weekly": timedelta(days=6, hours=23), "off": None}
MATCH_NOTICE_LABELS = {"instant": N_("as soon as they are found"), "daily": N_("at most once a day"),
                       "weekly": N_("at most once a week"), "off": N_("never")}
# How a user hears of new lines in the conversations of their accepted introductions (profile page):
# "bell" a notification each time, "mail" that and an email, "off" neither.
MESSAGE_NOTICES = ("bell", "mail", "off")
_UNSUBSCRIBE_SALT = "match-notices-off"


def unsubscribe_token(user: User) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT).dumps({"uid": user.id})


def unsubscribe(token: str) -> User:
    """Turn match notices off for the user a mailed link names (no log-in needed, as mail clients open it)."""
    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        raise NotFound(_("This link is not valid.")) from None
    user = Session.get(User, int(data.get("uid", 0))) if isinstance(data, dict) else None
    if user is None:
        raise NotFound(_("This link is not valid."))
    user.match_notices = "off"
    Session.commit()
    return user


def wants_match_notices(user: User) -> bool:
    return MATCH_NOTICES.get(user.match_notices or "daily", MATCH_NOTICES["daily"]) is not None


def _due(user: User, now: Any) -> bool:
    gap = MATCH_NOTICES.get(user.match_notices or "daily", MATCH_NOTICES["daily"])
    if gap is None:
        return False
    last = aware(user.digest_sent_at)
    return last is None or now - last >= gap


def send_digest() -> int:
    """One email per user whose cadence is due, with their new, unmailed match notifications grouped
    by their own listing (only when SMTP is set up). A user's rows wait until their digest is due;
    rows of users who turned notices off, or cannot be mailed, are marked and never sent."""
    if not mail.enabled():
        return 0
    rows = list(Session.scalars(sa.select(Notification).where(
        Notification.kind.in_(DIGEST_KINDS), Notification.emailed_at.is_(None))
        .order_by(Notification.user_id, Notification.created_at)))
    by_user: dict[int, list[Notification]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    sent = 0
    now = utcnow()
    for user_id, items in by_user.items():
        user = Session.get(User, user_id)
        reachable = user is not None and user.active and user.email and wants_match_notices(user)
        if reachable and not _due(user, now):
            continue  # kept for the next digest
        for row in items:
            row.emailed_at = now
        if not reachable:
            continue
        user.digest_sent_at = now
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            lines = [_(_DIGEST_INTRO)]
            by_listing: dict[str, list[Notification]] = {}
            for row in items:
                by_listing.setdefault(str((row.params or {}).get("title") or ""), []).append(row)
            for title, group in by_listing.items():
                lines += ["", _(_DIGEST_LISTING, title=title)]
                lines += [f"- {(row.params or {}).get('other_title', '')}" for row in group]
            url = f"{current_app.config['SITE_URL'].rstrip('/')}/notifications/off/{unsubscribe_token(user)}"
            cadence = _(MATCH_NOTICE_LABELS.get(user.match_notices or "daily", MATCH_NOTICE_LABELS["daily"]))
            lines += ["", _(_DIGEST_FOOTER, cadence=cadence, url=url)]
            mail.send(user.email, _(_DIGEST_SUBJECT), "\n".join(lines))
        sent += 1
    Session.commit()
    return sent
