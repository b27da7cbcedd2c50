"""Forms for fairs: setup, sessions, registration, availability, requests, meetings and outcomes.
They parse what was typed; the fair services judge it."""
from __future__ import annotations

from datetime import time
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
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from matchmaker.core.form_fields import REQUIRED, MultiCheckboxField, optional_int
from models.fairs import ParticipantType


class FairForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(REQUIRED), Length(max=200)])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional()])
    start_date = DateField(_l("First day"), validators=[InputRequired(REQUIRED)])
    end_date = DateField(_l("Last day"), validators=[InputRequired(REQUIRED)])
    meeting_minutes = IntegerField(_l("Meeting length (minutes)"), default=20,
                                   validators=[InputRequired(REQUIRED), NumberRange(min=1)])
    registration_opens = DateField(_l("Registration opens"), validators=[Optional()])
    registration_closes = DateField(_l("Registration closes"), validators=[Optional()])
    request_expiry_hours = IntegerField(_l("Unanswered requests expire after (hours)"), default=72,
                                        validators=[InputRequired(REQUIRED)])
    max_meetings_per_participant = IntegerField(_l("Maximum meetings per participant"), validators=[Optional()])
    participant_types = MultiCheckboxField(_l("Participant types"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from matchmaker.fairs.fairs import participant_type_label

        self.participant_types.choices = [(str(t), participant_type_label(t)) for t in ParticipantType]
        if self.participant_types.data is None:
            self.participant_types.data = [str(t) for t in ParticipantType]

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in (
            "name", "venue", "description", "start_date", "end_date", "meeting_minutes", "registration_opens",
            "registration_closes", "request_expiry_hours", "max_meetings_per_participant", "participant_types")}


class SessionForm(FlaskForm):
    name = StringField(_l("Session name"), validators=[InputRequired(REQUIRED), Length(max=100)],
                       description=_l("e.g. Tuesday morning"))
    day = DateField(_l("Day"), validators=[InputRequired(REQUIRED)])
    start_time = TimeField(_l("Starts at"), validators=[InputRequired(REQUIRED)])
    end_time = TimeField(_l("Ends at"), validators=[InputRequired(REQUIRED)])
    tables = IntegerField(_l("Tables"), validators=[InputRequired(REQUIRED)])

    def values(self) -> dict[str, Any]:
        return {k: getattr(self, k).data for k in ("name", "day", "start_time", "end_time", "tables")}


class CopyForm(FlaskForm):
    name = StringField(_l("Name of the new fair"), validators=[InputRequired(REQUIRED), Length(max=200)])
    start_date = DateField(_l("First day of the new fair"), validators=[InputRequired(REQUIRED)])


class RegistrationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(REQUIRED), Length(max=100)])
    email = StringField(_l("Email"), validators=[InputRequired(REQUIRED), Email(_l("Enter a valid email address."))])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=100)])
    participant_type = SelectField(_l("Participates as"))
    organization_id = SelectField(_l("Organization"), coerce=optional_int, validate_choice=False)
    result_ids = MultiCheckboxField(_l("Research results to bring"), coerce=int)
    need_ids = MultiCheckboxField(_l("Technical needs to bring"), coerce=int)
    new_kind = SelectField(_l("New listing"), choices=[("", "—"), ("result", _l("Research result")),
                                                      ("need", _l("Technical need"))], validators=[Optional()])
    new_title = StringField(_l("Title of the new listing"), validators=[Optional(), Length(max=200)])
    new_summary = TextAreaField(_l("Summary of the new listing"), validators=[Optional()])
    sessions = MultiCheckboxField(_l("Sessions the participant can attend"), coerce=int)


class ImportForm(FlaskForm):
    file = FileField(_l("Participants sheet (XLSX or CSV)"), validators=[FileRequired(REQUIRED)])
    validate_all = BooleanField(_l("Mark the imported registrations as validated"))


class ConfirmImportForm(FlaskForm):
    valid_only = BooleanField(_l("Import the valid rows only and skip the rows with errors"))


class RequestForm(FlaskForm):
    requester_id = HiddenField()
    recipient_id = HiddenField()
    result_id = HiddenField()
    need_id = HiddenField()
    score = HiddenField()
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=2000)],
                            description=_l("Say what you would like to talk about."))


class MeetingForm(FlaskForm):
    a_id = SelectField(_l("Participant"), coerce=optional_int, validate_choice=False)
    b_id = SelectField(_l("Counterpart"), coerce=optional_int, validate_choice=False)


class MoveForm(FlaskForm):
    slot_id = SelectField(_l("Time slot"), coerce=optional_int, validate_choice=False)
    table_no = IntegerField(_l("Table"), validators=[InputRequired(REQUIRED)])


class OutcomeForm(FlaskForm):
    outcome = SelectField(_l("Outcome"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


def parse_availability(formdata: Any, sessions: list[Any]) -> dict[int, tuple[time | None, time | None] | None]:
    """Checkbox `session-<id>` plus optional `from-<id>` / `until-<id>` times (HH:MM) per session."""
    chosen: dict[int, tuple[time | None, time | None] | None] = {}
    for session in sessions:
        if not formdata.get(f"session-{session.id}"):
            continue
        start, until = _time(formdata.get(f"from-{session.id}")), _time(formdata.get(f"until-{session.id}"))
        chosen[session.id] = (start, until) if start or until else None
    return chosen


def _time(value: str | None) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None
