"""WTForms pieces every feature's forms use: the required and length messages, checkbox lists,
optional ids, typed numbers, and showing a service's field errors on the form."""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, ValidationError
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from matchmaker.core.errors import DomainError, ValidationFailed
from models import MAX_ID

REQUIRED = _l("This field is required.")


def too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("At most %(max)d characters."))


class CheckboxList(ListWidget):
    """One row per option, the box before its label and no bullet (the `checks` style in site.css)."""

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        kwargs["class"] = f"checks {kwargs.get('class', '')}".strip()
        return super().__call__(field, **kwargs)


class MultiCheckboxField(SelectMultipleField):
    widget = CheckboxList(prefix_label=False)
    option_widget = CheckboxInput()


def optional_int(value: Any) -> int | None:
    """Coerce for id selects whose empty choice means "none": a record number a table can hold, else None
    (a hand-made post with "99999999999999999999" must not reach the database)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None
    return form_id(value) if value not in (None, "", "None") else None


def form_id(text: Any) -> int | None:
    """A record number from a form or query: a positive integer a table can hold, else None."""
    text = str(text if text is not None else "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID else None


def form_number(text: Any) -> float | None:
    """A finite number from a form, else None ("1e309", "nan" and words give None)."""
    try:
        value = float(str(text).strip()) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def parse_decimal(text: str | None) -> Decimal | None:
    """A number as typed, thousands separators (, or ，) allowed; None when empty. Infinity and NaN
    come back as such: each form decides what it accepts."""
    text = (text or "").strip().replace(",", "").replace("，", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValidationError(_l("Enter a number.")) from None


def apply_errors(form: FlaskForm, errors: dict[str, list[str]], aliases: dict[str, str] | None = None) -> None:
    """Show a service's {field: [messages]} under the matching inputs (`aliases` maps a service
    field name to the input's name); the rest above the form."""
    aliases = aliases or {}
    for name, messages in errors.items():
        field = getattr(form, aliases.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)


def show_error(form: FlaskForm, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """A service's refusal on the form: a ValidationFailed under its inputs, any other above the form."""
    if isinstance(exc, ValidationFailed):
        apply_errors(form, exc.errors, aliases)
    else:
        form.form_errors.append(exc.message)
