"""Forms for introductions, deals, contracts and the contract import: they parse what was typed;
the services judge it."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
    ValidationError,
)
from wtforms.validators import InputRequired, NumberRange, Optional

from matchmaker import reference
from matchmaker.core.form_fields import MAX_ID, REQUIRED, optional_int, too_long
from matchmaker.core.money import fen_in, parse_money
from matchmaker.deals import contracts, conversation
from matchmaker.deals.deals import LOST_REASON_LABELS, ORIGIN_LABELS, STAGE_LABELS, label_choices
from matchmaker.deals.introductions import MAX_MESSAGE, decline_reason_choices
from models import DEAL_STAGE_ORDER, DealStage

BLANK = ("", "—")


# --- introductions ---------------------------------------------------------------------------------

class IntroductionRequestForm(FlaskForm):
    kind = HiddenField()
    listing_id = HiddenField()
    counterpart_listing_id = HiddenField()
    origin = HiddenField(default="search")
    next = HiddenField()
    counterpart_org_id = SelectField(_l("On behalf of"), coerce=optional_int, validate_choice=False,
                                     description=_l("Brokers choose the organization they act for."))
    message = TextAreaField(_l("Your message to the owner"), validators=[InputRequired(REQUIRED),
                                                                          too_long(MAX_MESSAGE)],
                            description=_l("Who you are and why this interests you; the owner sees this."))


class AnswerForm(FlaskForm):
    note = TextAreaField(_l("Note to the requester"), validators=[Optional(), too_long(2000)])


class DeclineForm(FlaskForm):
    reason = SelectField(_l("Reason"), validators=[InputRequired(REQUIRED)])
    note = TextAreaField(_l("Note to the requester"), validators=[Optional(), too_long(2000)],
                         description=_l("Required when the reason is \"Other\"."))

    def __init__(self, *args: Any, kind: str = "result", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason.choices = decline_reason_choices(kind)


# --- the conversation after acceptance ---------------------------------------------------------------

class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[Optional()])
    file = FileField(_l("Attach a file"))


class MeetingForm(FlaskForm):
    day = DateField(_l("Day"), validators=[InputRequired(REQUIRED)])
    at = TimeField(_l("Time"), validators=[InputRequired(REQUIRED)])
    note = StringField(_l("Place or how to join"), validators=[Optional(), too_long(conversation.MAX_MEETING_NOTE)])


class HandoverForm(FlaskForm):
    note = StringField(_l("What the broker should do"),
                       validators=[Optional(), too_long(conversation.MAX_MEETING_NOTE)])


# --- deals ---------------------------------------------------------------------------------------

class DealForm(FlaskForm):
    # Chosen by title with the listing search above the form; the numbers travel hidden.
    result_id = IntegerField(_l("Research result"),
                             validators=[InputRequired(_l("Choose the research result with the search above.")),
                                         NumberRange(min=1, max=MAX_ID)])
    need_id = IntegerField(_l("Technical need"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    buyer_org_id = SelectField(_l("Buyer"), coerce=optional_int, validate_choice=False,
                               description=_l("Leave empty to use the need's enterprise."))
    origin = SelectField(_l("Origin"), validators=[InputRequired(REQUIRED)])
    stage = SelectField(_l("Stage"), validators=[InputRequired(REQUIRED)])
    next_action = StringField(_l("Next action"), validators=[Optional(), too_long(300)])
    next_action_date = DateField(_l("Next action date"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buyer_org_id.choices = [BLANK]  # chosen through a picker (core.pickers)
        self.origin.choices = label_choices(ORIGIN_LABELS)
        self.stage.choices = [(s, str(STAGE_LABELS[s])) for s in DEAL_STAGE_ORDER[:4]]


class StageForm(FlaskForm):
    stage = SelectField(_l("New stage"), validators=[InputRequired(REQUIRED)])
    note = StringField(_l("Note"), validators=[Optional(), too_long(1000)])
    lost_reason = SelectField(_l("Why was it lost?"), validators=[Optional()])
    lost_note = StringField(_l("Details"), validators=[Optional(), too_long(1000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage.choices = [(s, str(STAGE_LABELS[s])) for s in (*DEAL_STAGE_ORDER, DealStage.LOST)]
        self.lost_reason.choices = [BLANK, *label_choices(LOST_REASON_LABELS)]


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[InputRequired(REQUIRED), too_long(5000)])


class NextActionForm(FlaskForm):
    next_action = StringField(_l("Next action"), validators=[Optional(), too_long(300)])
    next_action_date = DateField(_l("Next action date"), validators=[Optional()])


# --- contracts -----------------------------------------------------------------------------------

def wan_to_fen(text: str | None) -> int | None:
    """An amount as typed into a 万元 field ("60", "60万", "600000元", "1.5亿") in fen; the service
    judges sign and size."""
    try:
        return parse_money(text, "wan")
    except ValueError:
        raise ValidationError(_l("Enter an amount in 万元, e.g. 60 for ¥600,000, or write the unit: "
                                 "600000元, 1.5亿.")) from None


def region_choices(lang: str) -> list[tuple[str, str]]:
    """GB/T 2260 regions in list order, each named in full ("福建省泉州市") in the viewer's language."""
    return [(code, reference.region_name(code, lang)) for code in reference.REGIONS.codes]


def unlisted_region_label(code: str, lang: str) -> str:
    name = reference.region_name(code, lang)
    return f"{name} ({code})" if name and name != code else code


def fen_to_text(fen: int | None) -> str:
    """Fen as the 万元 number the amount fields show."""
    return fen_in(fen, "wan")


class AmountField(StringField):
    """万元 (or a written unit) in the input, fen in .fen (None when empty or unreadable); what
    was typed stays in the input when it cannot be read."""

    fen: int | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.fen = None
        try:
            self.fen = wan_to_fen(self.data)
        except ValidationError as exc:
            self.process_errors.append(str(exc.args[0]))


# Service field name -> form input name.
CONTRACT_ALIASES = {"amount_fen": "amount", "tech_amount_fen": "tech_amount"}


class ContractForm(FlaskForm):
    version = HiddenField()
    contract_type = SelectField(_l("Contract type"), validators=[InputRequired(REQUIRED)])
    contract_subtype = SelectField(_l("Sub-type"), validators=[Optional()])
    project_name = StringField(_l("Project name"), validators=[InputRequired(REQUIRED), too_long(300)])
    registration_number = StringField(_l("Registration number"), validators=[Optional(), too_long(30)],
                                      description=_l("18 characters, e.g. 2026350500A0001234; empty until registered."))
    signing_date = DateField(_l("Signing date"), validators=[InputRequired(REQUIRED)])
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    amount = AmountField(_l("Contract amount (万元)"), validators=[InputRequired(REQUIRED)],
                         description=_l("The contract's total amount in 万元: 60 means ¥600,000. "
                                        "You may also write the unit: 600000元, 1.5亿."))
    tech_amount = AmountField(_l("Technology transaction amount (万元)"), validators=[InputRequired(REQUIRED)],
                              description=_l("The total less equipment, instruments, parts and materials, "
                                             "in 万元 like the contract amount."))
    payment_mode = SelectField(_l("Payment mode"), validators=[Optional()])
    ip_type = SelectField(_l("IP type"), validators=[Optional()])
    tech_field = SelectField(_l("Technology field"), validators=[Optional()])
    seller_org_id = SelectField(_l("Seller on the platform"), coerce=optional_int, validate_choice=False)
    seller_name = StringField(_l("Seller"), validators=[Optional(), too_long(200)],
                              description=_l("Filled from the organization when left empty."))
    seller_entity_type = SelectField(_l("Seller's legal-entity type"), validators=[Optional()])
    seller_region = SelectField(_l("Seller's region"), validate_choice=False,
                                description=_l("Filled from the organization when left empty."))
    buyer_org_id = SelectField(_l("Buyer on the platform"), coerce=optional_int, validate_choice=False)
    buyer_name = StringField(_l("Buyer"), validators=[Optional(), too_long(200)],
                             description=_l("Filled from the organization when left empty."))
    buyer_entity_type = SelectField(_l("Buyer's legal-entity type"), validators=[Optional()])
    buyer_region = SelectField(_l("Buyer's region"), validate_choice=False,
                               description=_l("Filled from the organization when left empty."))
    # Chosen through pickers by name (templates/macros.html `picker`); the number travels hidden.
    deal_id = IntegerField(_l("Deal"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    result_id = IntegerField(_l("Research result"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    need_id = IntegerField(_l("Technical need"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    fair_id = SelectField(_l("Fair"), coerce=optional_int, validate_choice=False)

    def __init__(self, *args: Any, lang: str = "zh", organizations: list[tuple[int, str]] = (),
                 fairs: list[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contract_type.choices = [BLANK, *reference.CONTRACT_TYPES.choices(lang)]
        self.contract_subtype.choices = [BLANK, *[
            (c.code, f"{reference.CONTRACT_TYPES.label(reference.subtype_type(c.code), lang)} · {c.label(lang)}")
            for c in reference.CONTRACT_SUBTYPES]]
        self.payment_mode.choices = [BLANK, *reference.PAYMENT_MODES.choices(lang)]
        self.ip_type.choices = [BLANK, *reference.CONTRACT_IP_TYPES.choices(lang)]
        self.tech_field.choices = [BLANK, *reference.TECH_FIELDS.choices(lang)]
        entity_choices = [BLANK, *[(c.code, f"{c.code} {c.label(lang)}") for c in reference.LEGAL_ENTITY_TYPES]]
        self.seller_entity_type.choices = entity_choices
        self.buyer_entity_type.choices = entity_choices
        self.seller_org_id.choices = [BLANK, *organizations]
        self.buyer_org_id.choices = [BLANK, *organizations]
        self.fair_id.choices = [BLANK, *fairs]
        self._lang = lang
        regions = [BLANK, *region_choices(lang)]
        self.seller_region.choices = regions
        self.buyer_region.choices = list(regions)
        self._keep_unlisted_regions()

    def _keep_unlisted_regions(self) -> None:
        """A code outside the list (a district from an import, or a typo posted by hand) stays
        selected and shown, so saving the form neither drops it nor hides the service's error."""
        for select in (self.seller_region, self.buyer_region):
            code = select.data or ""
            if code and code not in {value for value, _label in select.choices}:
                select.choices = [*select.choices, (code, unlisted_region_label(code, self._lang))]

    def to_input(self) -> contracts.ContractInput:
        return contracts.ContractInput(
            contract_type=self.contract_type.data or "", contract_subtype=self.contract_subtype.data or None,
            project_name=self.project_name.data or "", registration_number=self.registration_number.data or None,
            signing_date=self.signing_date.data, valid_from=self.valid_from.data, valid_until=self.valid_until.data,
            amount_fen=self.amount.fen, tech_amount_fen=self.tech_amount.fen,
            payment_mode=self.payment_mode.data or None, ip_type=self.ip_type.data or None,
            tech_field=self.tech_field.data or None,
            seller_org_id=self.seller_org_id.data, seller_name=self.seller_name.data or "",
            seller_entity_type=self.seller_entity_type.data or "", seller_region=self.seller_region.data or "",
            buyer_org_id=self.buyer_org_id.data, buyer_name=self.buyer_name.data or "",
            buyer_entity_type=self.buyer_entity_type.data or "", buyer_region=self.buyer_region.data or "",
            deal_id=self.deal_id.data, result_id=self.result_id.data, need_id=self.need_id.data,
            fair_id=self.fair_id.data,
        )

    def fill(self, data: contracts.ContractInput, version: int | None = None) -> None:
        for name, value in contracts.as_dict(data).items():
            if name in ("amount_fen", "tech_amount_fen"):
                getattr(self, CONTRACT_ALIASES[name]).data = fen_to_text(value)
            elif hasattr(self, name):
                getattr(self, name).data = value if value is not None else ("" if name.endswith(("_name", "region"))
                                                                            else value)
        if version is not None:
            self.version.data = str(version)
        self._keep_unlisted_regions()


class ImportForm(FlaskForm):
    file = FileField(_l("File (.xlsx or .csv)"), validators=[FileRequired(REQUIRED)])


class ConfirmImportForm(FlaskForm):
    valid_only = BooleanField(_l("Import the valid rows only and skip the rows with errors"))
