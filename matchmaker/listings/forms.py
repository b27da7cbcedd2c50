"""Forms for research results and technical needs: they parse what was typed; the service judges it."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import InputRequired, Optional

from matchmaker.core.form_fields import REQUIRED, MultiCheckboxField, apply_errors, form_id, too_long
from matchmaker.core.money import FEN_PER, fen_in, parse_money
from matchmaker.listings.lifecycle import split_keywords, split_patent_numbers
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    IP_STATUS,
    MATURITY,
    REGIONS,
    TECH_FIELDS,
    TRANSFER_MODES,
    division_section,
    region_name,
)

UNITS = {unit: FEN_PER[unit] for unit in ("wan", "yuan")}  # the unit selector's choices, fen per unit
# Service error keys that a form shows under a differently named input.
FIELD_ALIASES = {"price_fen": "price", "budget_min_fen": "budget_min", "budget_max_fen": "budget_max"}


def fen_in_wan(fen: int | None) -> str:
    return fen_in(fen, "wan")


def _to_fen(text: str | None, unit: str) -> int | None:
    """Fen for an amount in the unit chosen beside it; a unit written in the box ("60万", "8800元") wins."""
    try:
        return parse_money(text, unit if unit in UNITS else "wan")
    except ValueError:
        raise ValidationError(_l("Enter a number.")) from None


def _number_validator(_form: Any, field: Any) -> None:
    _to_fen(field.data, "wan")


def _int_validator(_form: Any, field: Any) -> None:
    if field.data and not str(field.data).isdigit():
        raise ValidationError(_l("Choose a level from the list."))


def _blank(label: str = "—") -> list[tuple[str, str]]:
    return [("", label)]


class ListingForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(REQUIRED), too_long(200)])
    summary = TextAreaField(_l("Public teaser"), validators=[InputRequired(REQUIRED), too_long(1000)],
                            description=_l("Always public, also for confidential listings: say what it is "
                                           "and what it is good for, without secrets."))
    description = TextAreaField(_l("Detailed description"), validators=[too_long(20000)])
    keywords = StringField(_l("Keywords"), validators=[too_long(1000)],
                           description=_l("Separate keywords with commas or 、, e.g. 振动监测、预测性维护"))
    industry_section = SelectField(_l("Industry section (GB/T 4754)"), validate_choice=False)
    industry_division = SelectField(_l("Industry division"), validate_choice=False,
                                    description=_l("Must belong to the chosen section."))
    tech_field = SelectField(_l("Technology field"), validate_choice=False)
    transfer_modes = MultiCheckboxField(_l("Transfer modes"), validate_choice=False)
    region = SelectField(_l("Region"), validate_choice=False)
    language = SelectField(_l("Language of the listing"), validate_choice=False,
                           choices=[("zh", "中文"), ("en", "English")])
    valid_until = DateField(_l("Valid until"), validators=[Optional()],
                            description=_l("After this date the listing is hidden until you renew it."))
    confidential = BooleanField(_l("Confidential: show only the title, summary and classification publicly; "
                                   "details and contact are released after I accept an introduction"))
    contact_name = StringField(_l("Contact person"), validators=[too_long(100)])
    contact_phone = StringField(_l("Contact phone"), validators=[too_long(30)])
    contact_email = StringField(_l("Contact email"), validators=[too_long(254)])
    organization_id = SelectField(_l("On behalf of organization"), validate_choice=False)

    kind = ""

    def setup(self, lang: str, organizations: list[Any] | None) -> None:
        """Fill the select boxes in the reader's language; staff get the organization select."""
        self.industry_section.choices = _blank() + [(c.code, f"{c.code} {c.label(lang)}") for c in INDUSTRY_SECTIONS]
        # The section letter in each division label shows which section it belongs to.
        self.industry_division.choices = _blank() + [
            (c.code, f"{division_section(c.code)}{c.code} {c.label(lang)}") for c in INDUSTRY_DIVISIONS]
        self.tech_field.choices = _blank() + TECH_FIELDS.choices(lang)
        self.transfer_modes.choices = TRANSFER_MODES.choices(lang)
        self.region.choices = _blank() + [(c.code, region_name(c.code, lang)) for c in REGIONS]
        if organizations is None:
            del self.organization_id
        else:
            self.organization_id.choices = _blank() + [(str(o.id), o.name) for o in organizations]

    def common_values(self) -> dict[str, Any]:
        values = {name: getattr(self, name).data for name in (
            "title", "summary", "description", "industry_section", "industry_division", "tech_field",
            "region", "language", "valid_until", "confidential", "contact_name", "contact_phone",
            "contact_email")}
        for name in ("industry_section", "industry_division", "tech_field", "region"):
            values[name] = values[name] or None
        values["keywords"] = split_keywords(self.keywords.data)
        values["transfer_modes"] = list(self.transfer_modes.data or [])
        if "organization_id" in self and self.organization_id.data:
            values["organization_id"] = form_id(self.organization_id.data) or -1  # -1: names no organization
        return values

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        """Show a service's ValidationFailed next to the inputs they concern."""
        apply_errors(self, errors, FIELD_ALIASES)

    @classmethod
    def data_from(cls, listing: Any) -> dict[str, Any]:
        data = {name: getattr(listing, name) for name in (
            "title", "summary", "description", "industry_section", "industry_division", "tech_field",
            "region", "language", "valid_until", "confidential", "contact_name", "contact_phone",
            "contact_email", "transfer_modes")}
        data["keywords"] = "、".join(listing.keywords or [])
        data["organization_id"] = str(listing.organization_id)
        return {k: ("" if v is None else v) for k, v in data.items()}


def _level_choices(lang: str) -> list[tuple[str, str]]:
    from matchmaker.reference import TRL_LEVELS

    return [("", _l("Derive from maturity"))] + [(c.code, f"TRL {c.code} · {c.label(lang)}") for c in TRL_LEVELS]


class ResultForm(ListingForm):
    kind = "result"
    maturity = SelectField(_l("Maturity"), validate_choice=False)
    trl = SelectField(_l("Technology readiness level (GB/T 22900)"), validate_choice=False,
                      validators=[_int_validator])
    ip_status = SelectField(_l("Intellectual property"), validate_choice=False)
    patent_numbers = TextAreaField(_l("Patent or registration numbers"), validators=[too_long(2000)],
                                   description=_l("One per line or separated by commas, "
                                                  "e.g. ZL201720001285.X"))
    price = StringField(_l("Asking price"), validators=[_number_validator, too_long(20)])
    price_unit = SelectField(_l("Unit"), validate_choice=False,
                             choices=[("wan", _l("10,000 yuan (万元)")), ("yuan", _l("yuan (元)"))])
    negotiable = BooleanField(_l("Price negotiable (面议)"))
    inventors = StringField(_l("Inventors"), validators=[too_long(300)])
    application_areas = TextAreaField(_l("Application areas"), validators=[too_long(5000)])

    def setup(self, lang: str, organizations: list[Any] | None) -> None:
        super().setup(lang, organizations)
        self.maturity.choices = _blank() + MATURITY.choices(lang)
        self.trl.choices = _level_choices(lang)
        self.ip_status.choices = _blank() + IP_STATUS.choices(lang)

    def validate_price(self, field: Any) -> None:
        if not self.negotiable.data and not (field.data or "").strip():
            raise ValidationError(_l("Enter an asking price or tick Negotiable."))

    def values(self) -> dict[str, Any]:
        values = self.common_values()
        values.update(maturity=self.maturity.data or None, ip_status=self.ip_status.data or None,
                      trl=int(self.trl.data) if self.trl.data else None,
                      patent_numbers=split_patent_numbers(self.patent_numbers.data),
                      inventors=self.inventors.data, application_areas=self.application_areas.data,
                      price_fen=None if self.negotiable.data else _to_fen(self.price.data, self.price_unit.data))
        return values

    @classmethod
    def data_from(cls, listing: Any) -> dict[str, Any]:
        data = super().data_from(listing)
        data.update(maturity=listing.maturity or "", trl=str(listing.trl or ""), ip_status=listing.ip_status or "",
                    patent_numbers="\n".join(listing.patent_numbers or []), inventors=listing.inventors or "",
                    application_areas=listing.application_areas or "", negotiable=listing.price_fen is None,
                    price=fen_in_wan(listing.price_fen), price_unit="wan")
        return data


class NeedForm(ListingForm):
    kind = "need"
    budget_min = StringField(_l("Budget from"), validators=[_number_validator, too_long(20)])
    budget_max = StringField(_l("Budget up to"), validators=[_number_validator, too_long(20)],
                             description=_l("Leave both empty if the budget is negotiable."))
    budget_unit = SelectField(_l("Unit"), validate_choice=False,
                              choices=[("wan", _l("10,000 yuan (万元)")), ("yuan", _l("yuan (元)"))])
    min_maturity = SelectField(_l("Lowest maturity you can use"), validate_choice=False)
    min_trl = SelectField(_l("Lowest readiness level you can use"), validate_choice=False,
                          validators=[_int_validator])
    deadline = DateField(_l("Deadline"), validators=[Optional()])

    def setup(self, lang: str, organizations: list[Any] | None) -> None:
        super().setup(lang, organizations)
        self.min_maturity.choices = _blank() + MATURITY.choices(lang)
        self.min_trl.choices = _level_choices(lang)

    def values(self) -> dict[str, Any]:
        values = self.common_values()
        values.update(min_maturity=self.min_maturity.data or None, deadline=self.deadline.data,
                      min_trl=int(self.min_trl.data) if self.min_trl.data else None,
                      budget_min_fen=_to_fen(self.budget_min.data, self.budget_unit.data),
                      budget_max_fen=_to_fen(self.budget_max.data, self.budget_unit.data))
        return values

    @classmethod
    def data_from(cls, listing: Any) -> dict[str, Any]:
        data = super().data_from(listing)
        data.update(min_maturity=listing.min_maturity or "", min_trl=str(listing.min_trl or ""),
                    deadline=listing.deadline, budget_min=fen_in_wan(listing.budget_min_fen),
                    budget_max=fen_in_wan(listing.budget_max_fen), budget_unit="wan")
        return data


FORMS: dict[str, type[ResultForm] | type[NeedForm]] = {"result": ResultForm, "need": NeedForm}
