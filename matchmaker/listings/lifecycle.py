"""Research results and technical needs: validation, the review lifecycle, confidentiality and expiry.

draft → pending (submit) → published (staff approve) | rejected (staff reject, with a reason; the
owner edits and resubmits) → closed (owner or staff, with a reason) | expired (the hourly job; the
owner renews). Each public function is one transaction: it audits, announces matching-relevant
changes through listing_events before its commit, and commits once.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, mail, permissions, webhooks
from matchmaker.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from matchmaker.listings.events import listing_changed
from matchmaker.listings.search import local_today
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    IP_STATUS,
    MATURITY,
    REGIONS,
    TECH_FIELDS,
    TRANSFER_MODES,
    default_trl,
    division_section,
)
from models import (
    MAX_ID,
    CloseReason,
    ListingStatus,
    Notification,
    Organization,
    OrgKind,
    Session,
    User,
    listing_model,
    utcnow,
)

KINDS = ("result", "need")
LANGUAGES = ("zh", "en")

STATUS_LABELS = {
    ListingStatus.DRAFT: _l("Draft"),
    ListingStatus.PENDING: _l("Under review"),
    ListingStatus.REJECTED: _l("Rejected"),
    ListingStatus.PUBLISHED: _l("Published"),
    ListingStatus.CLOSED: _l("Closed"),
    ListingStatus.EXPIRED: _l("Expired"),
}
CLOSE_REASON_LABELS = {
    CloseReason.TRANSFERRED: _l("Transferred / solved"),
    CloseReason.WITHDRAWN: _l("Withdrawn"),
    CloseReason.OTHER: _l("Other"),
}
KIND_LABELS = {"result": _l("Research result"), "need": _l("Technical need")}

# The organizations whose members may own each kind (staff may file on behalf of any of them).
OWNER_ORG_KINDS = {
    "result": frozenset({OrgKind.UNIVERSITY, OrgKind.INSTITUTE}),
    "need": frozenset({OrgKind.ENTERPRISE}),
}

COMMON_FIELDS = (
    "title", "summary", "description", "keywords", "industry_section", "industry_division", "tech_field",
    "transfer_modes", "region", "language", "valid_until", "confidential", "contact_name", "contact_phone",
    "contact_email",
)
KIND_FIELDS = {
    "result": ("maturity", "trl", "ip_status", "patent_numbers", "price_fen", "inventors", "application_areas"),
    "need": ("budget_min_fen", "budget_max_fen", "min_maturity", "min_trl", "deadline"),
}
# Changing what a listing says needs another look by staff once it has been public.
REVIEWED_FIELDS = frozenset({"title", "summary", "description", "keywords", "patent_numbers", "inventors",
                             "application_areas"})
# What an outsider never sees of a confidential listing (the teaser is title, summary and codes).
SECRET_FIELDS = frozenset({"description", "application_areas", "patent_numbers", "inventors", "contact_name",
                           "contact_phone", "contact_email", "organization", "owner", "owner_id",
                           "organization_id", "text_for_matching"})

MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 40
MAX_AMOUNT_FEN = 10**9 * 1_000_000  # one trillion 万元 guards against typos past BIGINT

# Chinese patent application numbers (12 or 8 digits + check digit, optional ZL/CN and dot),
# publication numbers (CN + 6-9 digits + kind code), foreign/PCT numbers and software copyrights.
PATENT_PATTERNS = tuple(re.compile(p) for p in (
    r"(?:ZL|CN)?(?:\d{12}|\d{8})\.?[\dX]",
    r"CN\d{6,9}[ABCUSY]\d?",
    r"(?:US|EP|JP|KR|WO|DE|GB|FR)\d{4,12}(?:[A-Z]\d?)?",
    r"PCT/[A-Z]{2}\d{4}/\d{5,6}",
    r"\d{4}SR\d{6,7}",
))
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_RE = re.compile(r"\+?[\d\-() ]{7,20}")


# --- reads -----------------------------------------------------------------------------------

def get_listing(kind: str, listing_id: int) -> Any:
    if kind not in KINDS:
        raise NotFound(_("No such listing."))
    listing = Session.get(listing_model(kind), listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    return listing


def get_visible(user: Any, kind: str, listing_id: int) -> Any:
    """The listing if `user` may see it at all (outsiders see published and closed ones)."""
    listing = permissions.usable_listing(user, listing_model(kind), listing_id) if kind in KINDS else None
    if listing is None:
        raise NotFound(_("No such listing."))
    return listing


class ListingView:
    """A listing as one viewer may see it: secret fields read as empty unless details are allowed.

    Templates and exports read listings through this, so a forgotten check cannot leak a
    confidential description or contact.
    """

    def __init__(self, listing: Any, details: bool) -> None:
        self._listing = listing
        self.details = details
        self.locked = listing.confidential and not details

    def __getattr__(self, name: str) -> Any:
        if self.locked and name in SECRET_FIELDS:
            return [] if name == "patent_numbers" else None
        return getattr(self._listing, name)


def view_for(listing: Any, viewer: Any) -> ListingView:
    return ListingView(listing, permissions.can_view_details(viewer, listing))


def my_listings(user: Any) -> dict[str, list[Any]]:
    """Every listing of the user's organization, all states, newest first (staff: their own org)."""
    if not getattr(user, "organization_id", None):
        return {kind: [] for kind in KINDS}
    found = {}
    for kind in KINDS:
        model = listing_model(kind)
        stmt = (sa.select(model).where(model.organization_id == user.organization_id)
                .order_by(model.updated_at.desc(), model.id.desc()))
        found[kind] = list(Session.scalars(stmt))
    return found


def review_queue() -> list[tuple[str, Any]]:
    """Pending listings of both kinds, oldest submission first (first come, first reviewed)."""
    queue = []
    for kind in KINDS:
        model = listing_model(kind)
        queue += [(kind, x) for x in Session.scalars(sa.select(model).where(model.status == ListingStatus.PENDING))]
    return sorted(queue, key=lambda item: (item[1].submitted_at or item[1].created_at, item[1].id))


def default_valid_until() -> date:
    return local_today() + timedelta(days=int(current_app.config["LISTING_VALIDITY_DAYS"]))


# --- validation ------------------------------------------------------------------------------

def split_keywords(text: str | None) -> list[str]:
    """ "振动监测，预测性维护、PHM" -> three keywords; duplicates dropped, order kept."""
    parts = re.split(r"[,，、;；\n\r]+", unicodedata.normalize("NFKC", text or ""))
    seen: dict[str, None] = {}
    for part in parts:
        word = " ".join(part.split())
        if word and word.lower() not in {k.lower() for k in seen}:
            seen[word] = None
    return list(seen)


def normalize_patent_number(text: str) -> str:
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text)).upper()


def valid_patent_number(text: str) -> bool:
    number = normalize_patent_number(text)
    return any(p.fullmatch(number) for p in PATENT_PATTERNS)


def split_patent_numbers(text: str | None) -> list[str]:
    parts = re.split(r"[,，、;；\n\r]+", text or "")
    return [normalize_patent_number(p) for p in parts if p.strip()]


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def _check_code(errors: _Errors, values: dict[str, Any], field: str, codes: Any) -> None:
    if values.get(field) and values[field] not in codes:
        errors.add(field, _("Unknown code %(code)s.", code=values[field]))


def _check_text(errors: _Errors, values: dict[str, Any], field: str, limit: int, required: bool = False) -> None:
    text = (values.get(field) or "").strip()
    values[field] = text or (None if field.startswith("contact_") or field in ("inventors", "application_areas")
                             else "")
    if required and not text:
        errors.add(field, _("This field is required."))
    elif len(text) > limit:
        errors.add(field, _("At most %(limit)s characters.", limit=limit))


def _check_industry(errors: _Errors, values: dict[str, Any]) -> None:
    _check_code(errors, values, "industry_section", INDUSTRY_SECTIONS)
    _check_code(errors, values, "industry_division", INDUSTRY_DIVISIONS)
    division = values.get("industry_division")
    if division and division in INDUSTRY_DIVISIONS:
        section = division_section(division)
        if not values.get("industry_section"):
            values["industry_section"] = section
        elif values["industry_section"] != section:
            errors.add("industry_division", _("This division does not belong to the chosen section."))


def _check_amount(errors: _Errors, values: dict[str, Any], field: str) -> None:
    amount = values.get(field)
    if amount is None:
        return
    if not isinstance(amount, int):
        errors.add(field, _("Enter a number."))
    elif amount < 0:
        errors.add(field, _("The amount cannot be negative."))
    elif amount > MAX_AMOUNT_FEN:
        errors.add(field, _("The amount is too large."))


def _check_trl(errors: _Errors, values: dict[str, Any], trl_field: str, maturity_field: str) -> None:
    trl = values.get(trl_field)
    if trl is None:
        values[trl_field] = default_trl(values.get(maturity_field))
    elif not isinstance(trl, int) or not 1 <= trl <= 9:
        errors.add(trl_field, _("TRL is a level from 1 to 9."))


def _check_dates(errors: _Errors, values: dict[str, Any], kind: str) -> None:
    today = local_today()
    if values.get("valid_until") is None:
        values["valid_until"] = default_valid_until()
    elif values["valid_until"] < today:
        errors.add("valid_until", _("The validity date is in the past."))
    if kind == "need" and values.get("deadline") is not None and values["deadline"] < today:
        errors.add("deadline", _("The deadline is in the past."))


def _check_keywords(errors: _Errors, values: dict[str, Any]) -> None:
    keywords = values.get("keywords") or []
    values["keywords"] = keywords
    if len(keywords) > MAX_KEYWORDS:
        errors.add("keywords", _("At most %(n)s keywords.", n=MAX_KEYWORDS))
    if any(len(k) > MAX_KEYWORD_LENGTH for k in keywords):
        errors.add("keywords", _("Each keyword has at most %(n)s characters.", n=MAX_KEYWORD_LENGTH))


def _check_contact(errors: _Errors, values: dict[str, Any]) -> None:
    email = values.get("contact_email")
    if email and not _EMAIL_RE.fullmatch(email):
        errors.add("contact_email", _("Enter a valid email address."))
    phone = values.get("contact_phone")
    if phone and not _PHONE_RE.fullmatch(phone):
        errors.add("contact_phone", _("Enter a valid phone number."))


def _check_result(errors: _Errors, values: dict[str, Any]) -> None:
    _check_code(errors, values, "maturity", MATURITY)
    _check_code(errors, values, "ip_status", IP_STATUS)
    _check_trl(errors, values, "trl", "maturity")
    _check_amount(errors, values, "price_fen")
    _check_text(errors, values, "inventors", 300)
    _check_text(errors, values, "application_areas", 5000)
    numbers = values.get("patent_numbers") or []
    values["patent_numbers"] = numbers
    bad = [n for n in numbers if not valid_patent_number(n)]
    if bad:
        errors.add("patent_numbers", _("Not a patent or registration number: %(numbers)s",
                                       numbers="、".join(bad)))


def _check_need(errors: _Errors, values: dict[str, Any]) -> None:
    _check_code(errors, values, "min_maturity", MATURITY)
    _check_trl(errors, values, "min_trl", "min_maturity")
    _check_amount(errors, values, "budget_min_fen")
    _check_amount(errors, values, "budget_max_fen")
    low, high = values.get("budget_min_fen"), values.get("budget_max_fen")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.add("budget_max_fen", _("The maximum budget is below the minimum."))


def clean_values(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """Checked, normalized listing fields of `kind`; raises ValidationFailed({field: [messages]})."""
    allowed = COMMON_FIELDS + KIND_FIELDS[kind]
    values = {k: values.get(k) for k in allowed}
    errors = _Errors()
    _check_text(errors, values, "title", 200, required=True)
    _check_text(errors, values, "summary", 1000, required=True)
    _check_text(errors, values, "description", 20000)
    for field, limit in (("contact_name", 100), ("contact_phone", 30), ("contact_email", 254)):
        _check_text(errors, values, field, limit)
    _check_keywords(errors, values)
    _check_industry(errors, values)
    _check_code(errors, values, "tech_field", TECH_FIELDS)
    _check_code(errors, values, "region", REGIONS)
    modes = values.get("transfer_modes") or []
    values["transfer_modes"] = [m for m in TRANSFER_MODES.codes if m in modes]  # list order, no duplicates
    if len(values["transfer_modes"]) != len(set(modes)):
        errors.add("transfer_modes", _("Unknown transfer mode."))
    values["language"] = values.get("language") or "zh"
    if values["language"] not in LANGUAGES:
        errors.add("language", _("Unknown language."))
    values["confidential"] = bool(values.get("confidential"))
    _check_contact(errors, values)
    _check_dates(errors, values, kind)
    (_check_result if kind == "result" else _check_need)(errors, values)
    errors.raise_if_any()
    return values


# --- permissions -----------------------------------------------------------------------------

def _require(user: Any, action: str, listing: Any = None) -> None:
    permissions.require(user, action, _("You do not have permission to do this."), listing)


def _owning_organization(user: User, kind: str, organization_id: int | None) -> int:
    if permissions.is_staff(user):
        org_id = organization_id or user.organization_id
        org = Session.get(Organization, org_id) if isinstance(org_id, int) and 0 < org_id <= MAX_ID else None
        if org is None:
            raise ValidationFailed({"organization_id": [_("Choose the organization this listing belongs to.")]})
        if org.kind not in OWNER_ORG_KINDS[kind]:
            raise ValidationFailed({"organization_id": [
                _("Choose a university or institute: research results belong to a university or institute.")
                if kind == "result" else _("Choose an enterprise: technical needs belong to an enterprise.")]})
        return org.id
    org = user.organization
    if org is None or org.kind not in OWNER_ORG_KINDS[kind]:
        raise NotAllowed(_("Only members of a university or institute list research results, and only "
                           "enterprise members post technical needs."))
    return org.id


# --- lifecycle -------------------------------------------------------------------------------

def _shingles(text: str) -> set[str]:
    chars = "".join(ch for ch in unicodedata.normalize("NFKC", text or "").lower() if ch.isalnum())
    return {chars[i:i + 2] for i in range(len(chars) - 1)} or ({chars} if chars else set())


def near_duplicates(user: User, kind: str, values: dict[str, Any], limit: int = 3) -> list[Any]:
    """The organization's own listings of this kind (not closed) that say nearly the same: the same title,
    or titles and summaries that share nine in ten character pairs. A second posting of one need splits
    its introductions and counts twice in the statistics."""
    org_id = values.get("organization_id") if permissions.is_staff(user) else user.organization_id
    if not org_id:
        return []
    model = listing_model(kind)
    title = _shingles(values.get("title") or "")
    text = title | _shingles(values.get("summary") or "")
    if not title:
        return []
    found = []
    for other in Session.scalars(sa.select(model).where(model.organization_id == org_id,
                                                        model.status != ListingStatus.CLOSED)
                                 .order_by(model.id.desc()).limit(500)):
        other_title = _shingles(other.title)
        other_text = other_title | _shingles(other.summary or "")
        same_title = other_title == title
        overlap = len(text & other_text) / max(1, min(len(text), len(other_text)))
        if same_title or overlap >= 0.9:
            found.append(other)
        if len(found) >= limit:
            break
    return found


def create_listing(user: User, kind: str, values: dict[str, Any], submit: bool = False) -> Any:
    """A new draft (or, with submit, a listing waiting for review) owned by the user's organization."""
    if kind not in KINDS:
        raise NotFound(_("No such listing."))
    _require(user, f"{kind}.create")
    org_id = _owning_organization(user, kind, values.get("organization_id"))
    cleaned = clean_values(kind, values)
    listing = listing_model(kind)(organization_id=org_id, owner_id=user.id, status=ListingStatus.DRAFT)
    Session.add(listing)
    changes = audit.apply(listing, cleaned)
    audit.record(user.id, "listing.create", listing, changes)
    if submit:
        _submit(user, listing)
    Session.commit()
    return listing


def update_listing(user: User, listing: Any, values: dict[str, Any], submit: bool = False) -> bool:
    """Save edits; returns True when a public listing went back to review because its text changed."""
    _require(user, "listing.edit", listing)
    if listing.status == ListingStatus.CLOSED:
        raise Conflict(_("A closed listing cannot be edited."))
    cleaned = clean_values(listing.kind, values)
    changes = audit.apply(listing, cleaned)
    back_to_review = (listing.status in (ListingStatus.PUBLISHED, ListingStatus.EXPIRED)
                      and not permissions.is_staff(user) and bool(REVIEWED_FIELDS & changes.keys()))
    if back_to_review:
        changes["status"] = [listing.status, ListingStatus.PENDING]
        listing.status = ListingStatus.PENDING
        listing.submitted_at = utcnow()
    if "valid_until" in changes:
        listing.expiry_reminded_at = None
    if changes:
        audit.record(user.id, "listing.update", listing, changes)
    if submit and listing.status in (ListingStatus.DRAFT, ListingStatus.REJECTED):
        _submit(user, listing)
    if changes:
        listing_changed(listing.kind, listing.id)
    Session.commit()
    return back_to_review


def _transition(user: User | None, listing: Any, action: str, allowed: tuple[str, ...], target: str,
                message: Any, **details: Any) -> None:
    """Move to `target` from one of `allowed`, or raise Conflict(message); `message` is lazy."""
    if listing.status not in allowed:
        raise Conflict(str(message))
    before = listing.status
    listing.status = target
    audit.record(user.id if user else None, f"listing.{action}", listing,
                 {"status": [before, target], **details})


def _submit(user: User, listing: Any) -> None:
    _check_still_valid(listing)
    _transition(user, listing, "submit", (ListingStatus.DRAFT, ListingStatus.REJECTED), ListingStatus.PENDING,
                _l("Only drafts and rejected listings can be submitted for review."))
    listing.submitted_at = utcnow()


def _check_still_valid(listing: Any) -> None:
    if listing.valid_until is not None and listing.valid_until < local_today():
        raise ValidationFailed({"valid_until": [_("The validity date is in the past.")]})


def submit_listing(user: User, listing: Any) -> None:
    _require(user, "listing.submit", listing)
    _submit(user, listing)
    Session.commit()


def approve_listing(user: User, listing: Any) -> None:
    _require(user, "listing.review", listing)
    _check_still_valid(listing)
    _transition(user, listing, "approve", (ListingStatus.PENDING,), ListingStatus.PUBLISHED,
                _l("Only listings under review can be approved."))
    listing.published_at = utcnow()
    listing.review_note = None
    listing_changed(listing.kind, listing.id)
    _emit(listing, "listing.published")
    Session.commit()


def _emit(listing: Any, event: str) -> None:
    webhooks.emit(event, [listing.organization_id], {
        "kind": listing.kind, "id": listing.id, "title": listing.title, "status": str(listing.status),
        "url": f"/{listing.kind}/{listing.id}"})


def reject_listing(user: User, listing: Any, reason: str) -> None:
    _require(user, "listing.review", listing)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [_("Tell the owner why the listing was rejected.")]})
    if len(reason) > 2000:
        raise ValidationFailed({"reason": [_("At most %(limit)s characters.", limit=2000)]})
    _transition(user, listing, "reject", (ListingStatus.PENDING,), ListingStatus.REJECTED,
                _l("Only listings under review can be rejected."), reason=reason)
    listing.review_note = reason
    Session.commit()


def close_listing(user: User, listing: Any, reason: str) -> None:
    _require(user, "listing.close", listing)
    if reason not in CloseReason.__members__.values():
        raise ValidationFailed({"reason": [_("Choose why the listing is closed.")]})
    open_states = tuple(s for s in ListingStatus if s != ListingStatus.CLOSED)
    _transition(user, listing, "close", open_states, ListingStatus.CLOSED,
                _l("This listing is already closed."), reason=reason)
    listing.close_reason = reason
    listing.closed_at = utcnow()
    listing_changed(listing.kind, listing.id)
    _emit(listing, "listing.closed")
    Session.commit()


def renew_listing(user: User, listing: Any, valid_until: date | None = None) -> None:
    """Extend the validity; an expired listing is public again at once (staff approved it before)."""
    _require(user, "listing.renew", listing)
    if listing.status not in (ListingStatus.PUBLISHED, ListingStatus.EXPIRED):
        raise Conflict(_("Only published or expired listings can be renewed."))
    new_date = valid_until or default_valid_until()
    if new_date <= local_today():
        raise ValidationFailed({"valid_until": [_("The new validity date must be in the future.")]})
    changes: dict[str, Any] = audit.diff(listing, {"valid_until": new_date})
    listing.valid_until = new_date
    listing.expiry_reminded_at = None
    if listing.status == ListingStatus.EXPIRED:
        # Only published listings expire, so staff approved this one already: no second review.
        changes["status"] = [listing.status, ListingStatus.PUBLISHED]
        listing.status = ListingStatus.PUBLISHED
        listing.published_at = listing.published_at or utcnow()
    audit.record(user.id, "listing.renew", listing, changes)
    listing_changed(listing.kind, listing.id)
    Session.commit()


# --- expiry ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Mail:
    to: str
    subject: str
    body: str


def _recipients(listing: Any) -> list[User]:
    owner = listing.owner
    if owner is not None and owner.active:
        return [owner]
    role = permissions.OWNER_ROLE[listing.kind]
    stmt = sa.select(User).where(User.organization_id == listing.organization_id, User.role == role,
                                 User.active.is_(True))
    return list(Session.scalars(stmt))


def _notify(listing: Any, kind_key: str, subject: str, body: str) -> list[_Mail]:
    """Notification rows for the owners (deduplicated per validity date) and the mails to send."""
    mails = []
    for user in _recipients(listing):
        key = f"{kind_key}:{listing.kind}:{listing.id}:{listing.valid_until}:{user.id}"
        if Session.scalar(sa.select(Notification.id).where(Notification.dedupe_key == key)):
            continue
        Session.add(Notification(
            user_id=user.id, kind=kind_key, dedupe_key=key, link=f"/{listing.kind}/{listing.id}",
            params={"listing_kind": listing.kind, "listing_id": listing.id, "title": listing.title,
                    "valid_until": listing.valid_until.isoformat() if listing.valid_until else None},
            emailed_at=utcnow()))
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            mails.append(_Mail(user.email, _(subject, title=listing.title),
                               _(body, title=listing.title, date=str(listing.valid_until))))
    return mails


def N_(message: str) -> str:
    """Marks a msgid for extraction; it is translated later, in each recipient's language."""
    return message


_EXPIRING_SUBJECT = N_('Your listing "%(title)s" expires soon')
_EXPIRING_BODY = N_('Your listing "%(title)s" is valid until %(date)s. If it is still current, open '
                    '"My listings" and renew it; otherwise close it so nobody contacts you about it.')
_EXPIRED_SUBJECT = N_('Your listing "%(title)s" has expired')
_EXPIRED_BODY = N_('Your listing "%(title)s" passed its validity date %(date)s and is no longer shown. '
                   'Renew it under "My listings" to publish it again.')


def expire_listings() -> dict[str, int]:
    """Expire published listings past their validity and remind owners once before that happens."""
    today = local_today()
    remind_by = today + timedelta(days=int(current_app.config["EXPIRY_REMINDER_DAYS"]))
    mails: list[_Mail] = []
    expired = reminded = 0
    for kind in KINDS:
        model = listing_model(kind)
        published = sa.select(model).where(model.status == ListingStatus.PUBLISHED)
        for listing in Session.scalars(published.where(model.valid_until < today)).all():
            _transition(None, listing, "expire", (ListingStatus.PUBLISHED,), ListingStatus.EXPIRED, "")
            mails += _notify(listing, "listing_expired", _EXPIRED_SUBJECT, _EXPIRED_BODY)
            listing_changed(kind, listing.id)
            expired += 1
        due = published.where(model.valid_until >= today, model.valid_until <= remind_by,
                              model.expiry_reminded_at.is_(None))
        for listing in Session.scalars(due).all():
            listing.expiry_reminded_at = utcnow()
            audit.record(None, "listing.remind", listing, {"valid_until": listing.valid_until})
            mails += _notify(listing, "listing_expiring", _EXPIRING_SUBJECT, _EXPIRING_BODY)
            reminded += 1
    Session.commit()
    for m in mails:  # after the commit: a failed commit must not have told anyone anything
        mail.send(m.to, m.subject, m.body)
    return {"expired": expired, "reminded": reminded}

