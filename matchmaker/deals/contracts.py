"""Technology contracts (技术合同) with the registration form's (JJ-001) fields: validation shared by
the form and the historical import, audited edits with optimistic locking, links to deals."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from matchmaker import reference
from matchmaker.core import audit, permissions, webhooks
from matchmaker.core.errors import Conflict, NotFound, ValidationFailed
from matchmaker.deals import deals
from matchmaker.stats import summary
from models import (
    Contract,
    Deal,
    DealStage,
    Fair,
    Organization,
    ResearchResult,
    Session,
    TechNeed,
    User,
)

MAX_AMOUNT_FEN = 10**17  # a sanity bound far above any real contract (10^15 yuan)


@dataclass
class ContractInput:
    """Typed values from the form or an import row; the service checks the rules."""

    contract_type: str = ""
    contract_subtype: str | None = None
    project_name: str = ""
    registration_number: str | None = None
    signing_date: date | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    amount_fen: int | None = None
    tech_amount_fen: int | None = None
    payment_mode: str | None = None
    ip_type: str | None = None
    tech_field: str | None = None
    seller_org_id: int | None = None
    seller_name: str = ""
    seller_entity_type: str = ""
    seller_region: str = ""
    buyer_org_id: int | None = None
    buyer_name: str = ""
    buyer_entity_type: str = ""
    buyer_region: str = ""
    deal_id: int | None = None
    result_id: int | None = None
    need_id: int | None = None
    fair_id: int | None = None


FIELD_NAMES = tuple(f.name for f in fields(ContractInput))


def region_known(code: str | None) -> bool:
    """A GB/T 2260 code we can place: listed, or well-formed under a known province."""
    if not code:
        return False
    return code in reference.REGIONS or reference.region_province(code) in reference.PROVINCE_CODES


_REGISTRATION_MESSAGES = {
    "format": lambda: _("A registration number has 18 characters: year, 6-digit region code, one capital "
                        "letter, 7-digit serial (e.g. 2026350500A0001234)."),
    "year": lambda: _("The year at the start of the registration number is not possible."),
    "region": lambda: _("The region code inside the registration number is unknown."),
}


def _clean_text(value: str | None) -> str:
    return (value or "").strip()


def _fill_party(data: ContractInput, side: str) -> None:
    """A chosen organization supplies the party's name, legal-entity type and region when blank."""
    org_id = getattr(data, f"{side}_org_id")
    if not org_id:
        return
    org = Session.get(Organization, org_id)
    if org is None:
        return
    for field, value in (("name", org.name), ("entity_type", org.entity_type), ("region", org.region)):
        if not _clean_text(getattr(data, f"{side}_{field}")) and value:
            setattr(data, f"{side}_{field}", value)


def validate(data: ContractInput, contract_id: int | None = None, today: date | None = None) -> dict[str, Any]:
    """Check every rule; return the column values or raise ValidationFailed({field: [messages]})."""
    _fill_party(data, "seller")
    _fill_party(data, "buyer")
    _fill_from_deal(data)
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data.contract_type not in reference.CONTRACT_TYPES:
        fail("contract_type", _("Choose a contract type from the list."))
    subtype = data.contract_subtype or None
    if subtype is not None:
        if subtype not in reference.CONTRACT_SUBTYPES:
            fail("contract_subtype", _("Choose a sub-type from the list."))
        elif reference.subtype_type(subtype) != data.contract_type:
            fail("contract_subtype", _("This sub-type does not belong to the contract type."))
    project = _clean_text(data.project_name)
    if not project:
        fail("project_name", _("Enter the project name."))
    elif len(project) > 300:
        fail("project_name", _("At most %(n)s characters.", n=300))

    number = _clean_text(data.registration_number).upper() or None
    if number is not None:
        problem = reference.check_registration_number(number, today=today)
        if problem:
            fail("registration_number", _REGISTRATION_MESSAGES[problem]())
        elif _number_taken(number, contract_id):
            fail("registration_number", _("Another contract already has this registration number."))

    _check_dates(data, fail)
    _check_amounts(data, fail)
    for field, codes, message in (
        ("payment_mode", reference.PAYMENT_MODES, _l("Choose a payment mode from the list.")),
        ("ip_type", reference.CONTRACT_IP_TYPES, _l("Choose an IP type from the list.")),
        ("tech_field", reference.TECH_FIELDS, _l("Choose a technology field from the list.")),
    ):
        value = getattr(data, field) or None
        if value is not None and value not in codes:
            fail(field, str(message))
    for side in ("seller", "buyer"):
        _check_party(data, side, fail)
    _check_links(data, fail)
    if errors:
        raise ValidationFailed(errors)

    values = {name: getattr(data, name) for name in FIELD_NAMES}
    values.update(
        contract_subtype=subtype, project_name=project, registration_number=number,
        payment_mode=data.payment_mode or None, ip_type=data.ip_type or None, tech_field=data.tech_field or None,
        seller_name=_clean_text(data.seller_name), buyer_name=_clean_text(data.buyer_name),
        seller_entity_type=_clean_text(data.seller_entity_type), buyer_entity_type=_clean_text(data.buyer_entity_type),
        seller_region=_clean_text(data.seller_region), buyer_region=_clean_text(data.buyer_region),
    )
    values["seller_party_type"] = reference.party_type(values["seller_entity_type"])
    return values


def _fill_from_deal(data: ContractInput) -> None:
    """A contract on a deal belongs to the deal's thread: the listings and the fair left empty are the
    deal's, so the fair report and the statistics count it where the deal came from (a value given is kept)."""
    deal = Session.get(Deal, data.deal_id) if data.deal_id else None
    if deal is None:
        return
    for name in ("result_id", "need_id", "fair_id"):
        if not getattr(data, name) and getattr(deal, name) is not None:
            setattr(data, name, getattr(deal, name))


def _number_taken(number: str, contract_id: int | None) -> bool:
    stmt = sa.select(Contract.id).where(Contract.registration_number == number)
    if contract_id is not None:
        stmt = stmt.where(Contract.id != contract_id)
    return Session.scalar(stmt.limit(1)) is not None


def _check_dates(data: ContractInput, fail: Any) -> None:
    if data.signing_date is None:
        fail("signing_date", _("Enter the signing date."))
    if data.valid_from and data.valid_until and data.valid_from > data.valid_until:
        fail("valid_until", _("The validity period ends before it starts."))
    if data.signing_date and data.valid_until and data.signing_date > data.valid_until:
        fail("signing_date", _("The signing date is after the end of the validity period."))


def _check_amounts(data: ContractInput, fail: Any) -> None:
    for field, message in (("amount_fen", _l("Enter the contract amount.")),
                           ("tech_amount_fen", _l("Enter the technology transaction amount."))):
        value = getattr(data, field)
        if value is None:
            fail(field, str(message))
        elif value < 0:
            fail(field, _("Amounts cannot be negative."))
        elif value > MAX_AMOUNT_FEN:
            fail(field, _("This amount is too large."))
    if (data.amount_fen is not None and data.tech_amount_fen is not None and 0 <= data.amount_fen
            and data.tech_amount_fen > data.amount_fen):
        fail("tech_amount_fen", _("The technology transaction amount cannot exceed the contract amount."))


def _check_party(data: ContractInput, side: str, fail: Any) -> None:
    if getattr(data, f"{side}_org_id") and Session.get(Organization, getattr(data, f"{side}_org_id")) is None:
        fail(f"{side}_org_id", _("Choose an organization from the list."))
    name = _clean_text(getattr(data, f"{side}_name"))
    if not name:
        fail(f"{side}_name", _("Enter the party's name."))
    elif len(name) > 200:
        fail(f"{side}_name", _("At most %(n)s characters.", n=200))
    if _clean_text(getattr(data, f"{side}_entity_type")) not in reference.LEGAL_ENTITY_TYPES:
        fail(f"{side}_entity_type", _("Choose a legal-entity type from the list."))
    if not region_known(_clean_text(getattr(data, f"{side}_region"))):
        fail(f"{side}_region", _("Enter a known 6-digit region code (GB/T 2260), e.g. 350500."))


def _check_links(data: ContractInput, fail: Any) -> None:
    for field, model, message in (
        ("deal_id", Deal, _l("No deal has this number.")),
        ("result_id", ResearchResult, _l("No research result has this number.")),
        ("need_id", TechNeed, _l("No technical need has this number.")),
        ("fair_id", Fair, _l("No fair has this number.")),
    ):
        value = getattr(data, field)
        if value and Session.get(model, value) is None:
            fail(field, str(message))


# --- commands ---------------------------------------------------------------------------------

def _require_manager(user: Any) -> None:
    permissions.require(user, "contract.manage", _("Only staff record technology contracts."))


def prefill_from_deal(deal_id: int) -> ContractInput:
    """A new contract on a deal starts with its parties, listings and fair."""
    deal = Session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(_("This deal does not exist."))
    data = ContractInput(deal_id=deal.id, result_id=deal.result_id, need_id=deal.need_id, fair_id=deal.fair_id,
                         seller_org_id=deal.seller_org_id, buyer_org_id=deal.buyer_org_id,
                         project_name=deal.result.title if deal.result else "",
                         tech_field=deal.result.tech_field if deal.result else None)
    _fill_party(data, "seller")
    _fill_party(data, "buyer")
    return data


def add(values: dict[str, Any], actor_id: int | None, source: str = "form") -> Contract:
    """Insert validated values and move the linked deal on; flushes, does not commit."""
    contract = Contract(**values, source=source, created_by_id=actor_id, updated_by_id=actor_id)
    Session.add(contract)
    Session.flush()
    summary.count_change(None, summary.counted(contract))
    audit.record(actor_id, "contract.create", contract, {k: v for k, v in values.items() if v not in (None, "")})
    _move_deal(contract, actor_id)
    if source == "form":  # a historical import is not news to the parties' systems
        webhooks.emit("contract.registered", (contract.seller_org_id, contract.buyer_org_id), {
            "contract_id": contract.id, "project_name": contract.project_name, "amount_fen": contract.amount_fen,
            "tech_amount_fen": contract.tech_amount_fen, "signing_date": contract.signing_date.isoformat(),
            "deal_id": contract.deal_id})
    return contract


def create(user: User, data: ContractInput) -> Contract:
    _require_manager(user)
    contract = add(validate(data), user.id)
    Session.commit()
    return contract


def update(user: User, contract_id: int, data: ContractInput, expected_version: int | None) -> Contract:
    """Save an edit made on the version the user loaded; Conflict if someone saved in between."""
    _require_manager(user)
    contract = Session.get(Contract, contract_id)
    if contract is None:
        raise NotFound(_("This contract does not exist."))
    if expected_version is None or contract.version != expected_version:
        raise _conflict(contract)
    values = validate(data, contract_id=contract.id)
    before = summary.counted(contract)
    changes = audit.apply(contract, values)
    if not changes:
        return contract
    contract.updated_by_id = user.id
    try:
        summary.count_change(before, summary.counted(contract))
        audit.record(user.id, "contract.update", contract, changes)
        _move_deal(contract, user.id)
        Session.commit()
    except StaleDataError:
        # Someone committed between our read and our UPDATE: the version column caught it.
        Session.rollback()
        raise _conflict(Session.get(Contract, contract_id)) from None
    return contract


def _conflict(contract: Contract | None) -> Conflict:
    editor = Session.get(User, contract.updated_by_id) if contract is not None and contract.updated_by_id else None
    who = editor.name if editor is not None else _("someone")
    error = Conflict(_("%(who)s saved this contract while you were editing it. Your changes are kept below "
                       "but not saved: compare them with the current values and save again.", who=who),
                     code="version")
    error.current = contract  # type: ignore[attr-defined]
    return error


def _move_deal(contract: Contract, actor_id: int | None) -> None:
    if contract.deal_id is None:
        return
    deal = Session.get(Deal, contract.deal_id)
    if deal is None:
        return
    target = DealStage.REGISTERED if contract.registration_number else DealStage.CONTRACT_SIGNED
    deals.advance_to(deal, target, actor_id)


# --- reading ---------------------------------------------------------------------------------

def can_view(user: Any, contract: Contract) -> bool:
    if permissions.is_staff(user):
        return True
    org_id = getattr(user, "organization_id", None)
    if org_id and org_id in (contract.seller_org_id, contract.buyer_org_id):
        return True
    return bool(contract.deal is not None and getattr(user, "is_authenticated", False)
                and deals.can_manage(user, contract.deal))


def get_for(user: Any, contract_id: int) -> Contract:
    contract = Session.get(Contract, contract_id)
    if contract is None or not can_view(user, contract):
        raise NotFound(_("This contract does not exist."))
    return contract


def input_from(contract: Contract) -> ContractInput:
    return ContractInput(**{name: getattr(contract, name) for name in FIELD_NAMES})


@dataclass
class ContractFilter:
    year: int | None = None
    contract_type: str | None = None
    q: str = ""
    page: int = 1


def search(user: Any, flt: ContractFilter, page_size: int = 20) -> tuple[list[Contract], int]:
    """Contracts the user may see, newest signing first, with the total for the pager."""
    stmt = sa.select(Contract)
    if not permissions.is_staff(user):
        org_id = getattr(user, "organization_id", None) or -1
        stmt = stmt.where(sa.or_(Contract.seller_org_id == org_id, Contract.buyer_org_id == org_id))
    if flt.year:
        stmt = stmt.where(Contract.signing_date >= date(flt.year, 1, 1),
                          Contract.signing_date < date(flt.year + 1, 1, 1))
    if flt.contract_type in reference.CONTRACT_TYPES:
        stmt = stmt.where(Contract.contract_type == flt.contract_type)
    if flt.q.strip():
        # Typed % and _ are matched literally, not as LIKE wildcards.
        stmt = stmt.where(sa.or_(*(column.icontains(flt.q.strip(), autoescape=True) for column in (
            Contract.project_name, Contract.seller_name, Contract.buyer_name, Contract.registration_number))))
    total = Session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = Session.scalars(stmt.order_by(Contract.signing_date.desc(), Contract.id.desc())
                           .offset((max(flt.page, 1) - 1) * page_size).limit(page_size))
    return list(rows), total


def for_deal(deal_id: int) -> list[Contract]:
    return list(Session.scalars(sa.select(Contract).where(Contract.deal_id == deal_id).order_by(Contract.id)))


def as_dict(data: ContractInput) -> dict[str, Any]:
    return asdict(data)
