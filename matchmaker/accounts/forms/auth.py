"""Forms for logging in, registering, resetting a password and the profile page."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from matchmaker.accounts import organizations
from matchmaker.accounts.users import MIN_PASSWORD_LENGTH, SELF_SERVICE_ROLES
from matchmaker.core.i18n import current_lang
from matchmaker.reference import LEGAL_ENTITY_TYPES, ORG_KINDS, REGIONS

ROLE_LABELS = {
    "researcher": _l("Researcher (university or institute)"),
    "enterprise": _l("Enterprise member"),
    "broker": _l("Technology broker"),
    "staff": _l("Bureau staff"),
    "admin": _l("Administrator"),
}


def role_choices(roles: Any) -> list[tuple[str, str]]:
    return [(str(role), str(ROLE_LABELS[str(role)])) for role in roles]


def _blank(label: Any) -> list[tuple[str, str]]:
    return [("", str(label))]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me logged in on this device"))


class _NewPasswordMixin:
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)],
                             description=_l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH))
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", _l("The two passwords differ."))])


class RegisterForm(_NewPasswordMixin, FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    role = RadioField(_l("I am a"), validators=[DataRequired()])
    org_mode = RadioField(_l("Organization"), default="existing",
                          choices=[("existing", _l("My organization is already registered")),
                                   ("new", _l("Register a new organization"))])
    organization_id = SelectField(_l("Your organization"), coerce=lambda v: int(v) if v else None,
                                  validators=[Optional()])
    org_name = StringField(_l("Organization name"), validators=[Optional(), Length(max=200)])
    org_kind = SelectField(_l("Organization type"), validators=[Optional()])
    org_entity_type = SelectField(_l("Legal-entity type"), validators=[Optional()])
    org_region = SelectField(_l("Region"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lang = current_lang()
        self.role.choices = role_choices(SELF_SERVICE_ROLES)
        self.organization_id.choices = [("", str(_l("Choose…")))] + organizations.choices()
        self.org_kind.choices = _blank(_l("Choose…")) + [
            (code, label) for code, label in ORG_KINDS.choices(lang) if code in organizations.SELF_SERVICE_KINDS]
        self.org_entity_type.choices = _blank(_l("Not specified")) + LEGAL_ENTITY_TYPES.choices(lang)
        self.org_region.choices = _blank(_l("Not specified")) + REGIONS.choices(lang)


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])


class ResetForm(_NewPasswordMixin, FlaskForm):
    pass


class ProfileForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    locale = SelectField(_l("Preferred language"),
                         choices=[("", _l("Automatic")), ("zh", "中文"), ("en", "English")])
    match_notices = SelectField(_l("Tell me about new strong matches for my listings"), choices=[
        ("instant", _l("As soon as they are found")), ("daily", _l("In one mail a day")),
        ("weekly", _l("In one mail a week")), ("off", _l("Never (no notifications, no mail)"))])
    message_notices = SelectField(_l("Tell me about new messages in my introductions"), choices=[
        ("bell", _l("In the notification bell")), ("mail", _l("In the bell and by email")),
        ("off", _l("Not at all (I look at the conversation myself)"))])
