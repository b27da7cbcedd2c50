"""The broker's deal pipeline: a result (and maybe a need) between two parties, moving through stages
from introduction to registered contract, with notes, next actions and reminders."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from matchmaker.core import audit, notifications, permissions, webhooks
from matchmaker.core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from models import (
    DEAL_STAGE_ORDER,
    Deal,
    DealNote,
    DealOrigin,
    DealStage,
    DealStageChange,
    LostReason,
    Organization,
    ResearchResult,
    Role,
    Session,
    TechNeed,
    User,
    utcnow,
)

STAGE_LABELS = {
    DealStage.INTRODUCED: _l("Introduced"),
    DealStage.MEETING_HELD: _l("Meeting held"),
    DealStage.NEGOTIATING: _l("Negotiating"),
    DealStage.INTENTION_SIGNED: _l("Intention signed"),
    DealStage.CONTRACT_SIGNED: _l("Contract signed"),
    DealStage.REGISTERED: _l("Registered"),
    DealStage.LOST: _l("Lost"),
}

ORIGIN_LABELS = {
    DealOrigin.MATCH: _l("Match suggestion"),
    DealOrigin.SEARCH: _l("Search"),
    DealOrigin.FAIR: _l("Fair meeting"),
    DealOrigin.OFFLINE: _l("Offline"),
}

LOST_REASON_LABELS = {
    LostReason.PRICE: _l("Price"),
    LostReason.TECHNOLOGY_FIT: _l("Technology does not fit"),
    LostReason.TIMING: _l("Timing"),
    LostReason.COMPETITOR: _l("Went to a competitor"),
    LostReason.NO_RESPONSE: _l("No response"),
    LostReason.OTHER: _l("Other"),
}

STAGES = (*DEAL_STAGE_ORDER, DealStage.LOST)
MAX_NOTE = 5000


def stage_rank(stage: str) -> int:
    """Position in the pipeline; LOST (and anything unknown) ranks below every open stage."""
    return DEAL_STAGE_ORDER.index(stage) if stage in DEAL_STAGE_ORDER else -1


def label_choices(labels: dict[Any, Any]) -> list[tuple[str, str]]:
    return [(str(code), str(label)) for code, label in labels.items()]


# --- notifications (in-site; rendered in the reader's language from kind + params) ---------------

def notify_user(user_id: int, kind: str, params: dict[str, Any], link: str | None = None,
                dedupe: str | None = None) -> None:
    notifications.notify([user_id], kind, params, link=link, dedupe=dedupe)


def notify_owners(listing: Any, kind: str, params: dict[str, Any], link: str | None = None,
                  dedupe: str | None = None) -> None:
    """Everyone who manages the listing: its owner and the organization's members in the owner role."""
    owner_role = permissions.OWNER_ROLE.get(listing.kind)
    stmt = sa.select(User.id).where(User.organization_id == listing.organization_id, User.active.is_(True),
                                    User.role == owner_role)
    user_ids = set(Session.scalars(stmt))
    if listing.owner_id:
        user_ids.add(listing.owner_id)
    for user_id in sorted(user_ids):
        notify_user(user_id, kind, params, link=link, dedupe=dedupe)


# --- permissions ------------------------------------------------------------------------------

def can_manage(user: Any, deal: Deal) -> bool:
    """Staff, the deal's broker, or any broker while the deal has none (the unassigned queue)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return permissions.is_staff(user) or (user.role == Role.BROKER and deal.broker_id in (user.id, None))


def can_view(user: Any, deal: Deal) -> bool:
    if can_manage(user, deal):
        return True
    org_id = getattr(user, "organization_id", None)
    return bool(org_id) and org_id in (deal.seller_org_id, deal.buyer_org_id)


def get_for(user: Any, deal_id: int) -> Deal:
    """The deal if the user may see it; NotFound otherwise, so ids of others' deals reveal nothing."""
    deal = Session.get(Deal, deal_id)
    if deal is None or not can_view(user, deal):
        raise NotFound(_("This deal does not exist."))
    return deal


def _managed(user: Any, deal_id: int) -> Deal:
    deal = get_for(user, deal_id)
    if not can_manage(user, deal):
        raise NotAllowed(_("Only the deal's broker or staff can change it."))
    if deal.broker_id is None and user.role == Role.BROKER:
        # A broker who acts on an unassigned deal takes it: it leaves the other brokers' queue.
        audit.record(user.id, "deal.take", deal, audit.apply(deal, {"broker_id": user.id}))
    return deal


# --- opening ---------------------------------------------------------------------------------

def open_deal(result_id: int, need_id: int | None, seller_org_id: int, buyer_org_id: int,
              broker_id: int | None, origin: str, fair_id: int | None = None,
              fair_meeting_id: int | None = None, stage: str = DealStage.MEETING_HELD,
              actor_id: int | None = None, introduction_id: int | None = None, commit: bool = True) -> Deal:
    """Open a deal, or return the one already opened for this fair meeting / introduction.

    Idempotent per fair_meeting_id (and introduction_id): calling again returns the same deal and
    moves it forward when `stage` is later than its current stage (never backwards, never out of
    LOST). Pass commit=False to join the caller's transaction.
    """
    if origin not in DealOrigin.__members__.values():
        raise ValidationFailed({"origin": [_("Choose where the deal came from.")]})
    if stage not in DEAL_STAGE_ORDER:
        raise ValidationFailed({"stage": [_("Choose a stage.")]})
    existing = _existing(fair_meeting_id, introduction_id) or _same_thread(result_id, need_id, buyer_org_id)
    if existing is not None:
        if stage_rank(stage) > stage_rank(existing.stage) and existing.stage != DealStage.LOST:
            set_stage(existing, stage, actor_id, None)
        _join_thread(existing, need_id=need_id, broker_id=broker_id, fair_id=fair_id,
                     fair_meeting_id=fair_meeting_id, introduction_id=introduction_id, actor_id=actor_id)
        deal = existing
    else:
        deal = Deal(result_id=result_id, need_id=need_id, seller_org_id=seller_org_id, buyer_org_id=buyer_org_id,
                    broker_id=broker_id, origin=origin, fair_id=fair_id, fair_meeting_id=fair_meeting_id,
                    introduction_id=introduction_id, stage=stage, stage_changed_at=utcnow(),
                    created_by_id=actor_id)
        Session.add(deal)
        Session.flush()
        deal.stage_changes.append(DealStageChange(from_stage=None, to_stage=stage, actor_id=actor_id))
        audit.record(actor_id, "deal.open", deal, {
            "result_id": result_id, "need_id": need_id, "seller_org_id": seller_org_id,
            "buyer_org_id": buyer_org_id, "broker_id": broker_id, "origin": origin, "stage": stage,
            "fair_id": fair_id, "fair_meeting_id": fair_meeting_id})
    if commit:
        Session.commit()
    return deal


def _same_thread(result_id: int, need_id: int | None, buyer_org_id: int) -> Deal | None:
    """The open deal of the same thread: this result with this buyer, for the same need (or where
    either side names no need). A fair outcome for a pair an introduction already brought together
    adds to that deal instead of opening a second one, so its contract is counted once."""
    stmt = (sa.select(Deal).where(Deal.result_id == result_id, Deal.buyer_org_id == buyer_org_id,
                                  Deal.stage != DealStage.LOST).order_by(Deal.id))
    if need_id is not None:
        stmt = stmt.where(sa.or_(Deal.need_id == need_id, Deal.need_id.is_(None)))
    return Session.scalars(stmt).first()


def _join_thread(deal: Deal, *, actor_id: int | None, **links: int | None) -> None:
    """Fill in what the deal did not know yet (its need, broker, fair, meeting, introduction)."""
    filled = {name: value for name, value in links.items()
              if value is not None and getattr(deal, name) is None}
    if filled:
        audit.record(actor_id, "deal.join", deal, audit.apply(deal, filled))


def _existing(fair_meeting_id: int | None, introduction_id: int | None) -> Deal | None:
    if fair_meeting_id is not None:
        deal = Session.scalar(sa.select(Deal).where(Deal.fair_meeting_id == fair_meeting_id))
        if deal is not None:
            return deal
    if introduction_id is not None:
        return Session.scalar(sa.select(Deal).where(Deal.introduction_id == introduction_id))
    return None


@dataclass
class DealInput:
    result_id: int | None
    need_id: int | None
    buyer_org_id: int | None
    origin: str
    stage: str = DealStage.INTRODUCED
    next_action: str = ""
    next_action_date: date | None = None


def create(user: User, data: DealInput) -> Deal:
    """A broker opens a deal by hand (search, offline contact, a match they spotted)."""
    permissions.require(user, "deal.manage", _("Only brokers and staff follow deals."))
    errors: dict[str, list[str]] = {}
    result = permissions.usable_listing(user, ResearchResult, data.result_id)
    if result is None:
        errors["result_id"] = [_("No research result has this number.")]
    need = permissions.usable_listing(user, TechNeed, data.need_id) if data.need_id else None
    if data.need_id and need is None:
        errors["need_id"] = [_("No technical need has this number.")]
    buyer_id = data.buyer_org_id or (need.organization_id if need is not None else None)
    if not buyer_id or Session.get(Organization, buyer_id) is None:
        errors["buyer_org_id"] = [_("Choose the buying organization.")]
    elif result is not None and buyer_id == result.organization_id:
        errors["buyer_org_id"] = [_("Buyer and seller must be different organizations.")]
    # A confidential listing's owner stays hidden until the owner opens its details (an accepted
    # introduction); a deal would name the owner, so only those who may see the details open one.
    for field, listing in (("result_id", result), ("need_id", need)):
        if listing is not None and field not in errors and not permissions.can_view_details(user, listing):
            errors[field] = [_("This listing is confidential: request an introduction; the deal opens by itself "
                               "when the owner accepts it.")]
    if errors:
        raise ValidationFailed(errors)
    assert result is not None and buyer_id is not None
    broker_id = user.id if user.role == Role.BROKER else None
    deal = open_deal(result.id, need.id if need else None, result.organization_id, buyer_id, broker_id,
                     data.origin, stage=data.stage, actor_id=user.id, commit=False)
    if data.next_action.strip() or data.next_action_date:
        _apply_next_action(deal, data.next_action, data.next_action_date, user.id)
    Session.commit()
    return deal


# --- stages ----------------------------------------------------------------------------------

def set_stage(deal: Deal, stage: str, actor_id: int | None, note: str | None) -> None:
    """Record a stage change (timestamped, audited); adds to the session, does not commit."""
    old = deal.stage
    deal.stage = stage
    if stage != DealStage.LOST:
        deal.lost_reason = deal.lost_note = None
    deal.stage_changed_at = utcnow()
    deal.stage_changes.append(DealStageChange(from_stage=old, to_stage=stage, actor_id=actor_id, note=note))
    audit.record(actor_id, "deal.stage", deal, {"stage": [old, stage], **({"note": note} if note else {})})
    webhooks.emit("deal.stage_changed", (deal.seller_org_id, deal.buyer_org_id), {
        "deal_id": deal.id, "from": old, "to": stage, "result_id": deal.result_id, "need_id": deal.need_id})


def change_stage(user: User, deal_id: int, stage: str, note: str = "", lost_reason: str | None = None,
                 lost_note: str = "") -> Deal:
    deal = _managed(user, deal_id)
    if stage not in STAGES:
        raise ValidationFailed({"stage": [_("Choose a stage.")]})
    if stage == deal.stage:
        raise Conflict(_("The deal is already at this stage."))
    if stage == DealStage.LOST:
        if lost_reason not in LostReason.__members__.values():
            raise ValidationFailed({"lost_reason": [_("Say why the deal was lost.")]})
        if lost_reason == LostReason.OTHER and not lost_note.strip():
            raise ValidationFailed({"lost_note": [_("Explain the reason in a few words.")]})
        deal.lost_reason, deal.lost_note = lost_reason, lost_note.strip() or None
    set_stage(deal, stage, user.id, note.strip() or None)
    Session.commit()
    return deal


def advance_to(deal: Deal, stage: str, actor_id: int | None) -> bool:
    """Move forward to `stage` when it is later (contracts call this). A lost deal moves too: a
    recorded contract proves it was won after all. Adds to the session, does not commit."""
    if stage_rank(stage) <= stage_rank(deal.stage):
        return False
    set_stage(deal, stage, actor_id, None)
    return True


# --- notes and next actions ---------------------------------------------------------------------

def add_note(user: User, deal_id: int, body: str) -> DealNote:
    deal = _managed(user, deal_id)
    body = (body or "").strip()
    if not body:
        raise ValidationFailed({"body": [_("Write the note first.")]})
    if len(body) > MAX_NOTE:
        raise ValidationFailed({"body": [_("At most %(n)s characters.", n=MAX_NOTE)]})
    note = DealNote(deal=deal, author_id=user.id, body=body)
    Session.add(note)
    Session.flush()
    audit.record(user.id, "deal.note", deal, {"note_id": note.id})
    Session.commit()
    return note


def set_next_action(user: User, deal_id: int, text: str, when: date | None) -> Deal:
    deal = _managed(user, deal_id)
    _apply_next_action(deal, text, when, user.id)
    Session.commit()
    return deal


def _apply_next_action(deal: Deal, text: str, when: date | None, actor_id: int) -> None:
    text = (text or "").strip()
    if when is not None and not text:
        raise ValidationFailed({"next_action": [_("Say what the next action is.")]})
    changes = audit.apply(deal, {"next_action": text or None, "next_action_date": when})
    if "next_action_date" in changes:
        deal.next_action_reminded_at = None  # a new date earns a new reminder
    if changes:
        audit.record(actor_id, "deal.next_action", deal, changes)


# --- reading ---------------------------------------------------------------------------------

def _visible(user: Any) -> Any:
    """Deals the user follows: staff all, brokers theirs, members their organization's."""
    stmt = sa.select(Deal)
    if permissions.is_staff(user):
        return stmt
    if user.role == Role.BROKER:
        return stmt.where(sa.or_(Deal.broker_id == user.id, Deal.broker_id.is_(None)))
    org_id = user.organization_id or -1
    return stmt.where(sa.or_(Deal.seller_org_id == org_id, Deal.buyer_org_id == org_id))


def board(user: Any) -> dict[str, list[Deal]]:
    """Open deals by stage, plus the last 20 lost ones, for the board view."""
    columns: dict[str, list[Deal]] = {stage: [] for stage in STAGES}
    rows = Session.scalars(_visible(user).where(Deal.stage != DealStage.LOST)
                           .order_by(Deal.next_action_date.is_(None), Deal.next_action_date, Deal.id.desc())
                           .limit(1000))
    for deal in rows:
        columns[deal.stage].append(deal)
    columns[DealStage.LOST] = list(Session.scalars(
        _visible(user).where(Deal.stage == DealStage.LOST).order_by(Deal.stage_changed_at.desc()).limit(20)))
    return columns


def listing(user: Any, stage: str | None = None, overdue: bool = False) -> list[Deal]:
    stmt = _visible(user)
    if stage in STAGES:
        stmt = stmt.where(Deal.stage == stage)
    if overdue:
        stmt = stmt.where(Deal.next_action_date < date.today(), Deal.stage.notin_(_CLOSED_STAGES))
    return list(Session.scalars(stmt.order_by(Deal.stage_changed_at.desc(), Deal.id.desc()).limit(500)))


_CLOSED_STAGES = (DealStage.REGISTERED, DealStage.LOST)


def is_overdue(deal: Deal, today: date | None = None) -> bool:
    return (deal.next_action_date is not None and deal.stage not in _CLOSED_STAGES
            and deal.next_action_date < (today or date.today()))


def remind_next_actions(today: date | None = None) -> int:
    """Tell each broker once when a deal's next action date has passed."""
    today = today or date.today()
    stmt = sa.select(Deal).where(Deal.next_action_date < today, Deal.next_action_reminded_at.is_(None),
                                 Deal.stage.notin_(_CLOSED_STAGES), Deal.broker_id.is_not(None))
    deals = list(Session.scalars(stmt))
    for deal in deals:
        deal.next_action_reminded_at = utcnow()
        notify_user(deal.broker_id, "deal.next_action_due",  # type: ignore[arg-type]
                    {"title": deal.title, "deal_id": deal.id, "action": deal.next_action or "",
                     "date": deal.next_action_date.isoformat()},  # type: ignore[union-attr]
                    link=f"/deals/{deal.id}", dedupe=f"deal:{deal.id}:next:{deal.next_action_date}")
    Session.commit()
    return len(deals)
