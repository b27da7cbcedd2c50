"""Staff forms: bulk import of listings and account administration."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField

from matchmaker.accounts import organizations
from matchmaker.accounts.forms.auth import role_choices
from matchmaker.imports.formats import ACCEPTED_EXTENSIONS
from models import ListingStatus, Role

KIND_LABELS = {"result": _l("Research results"), "need": _l("Technical needs")}


class ImportUploadForm(FlaskForm):
    kind = RadioField(_l("The file holds"), default="result",
                      choices=[(kind, label) for kind, label in KIND_LABELS.items()])
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file to upload."))],
                     description=_l("CSV (UTF-8 or GB18030), Excel .xlsx or JSON Lines; one listing per row."))
    organization_id = SelectField(
        _l("Organization"), coerce=lambda v: int(v) if v else None,
        description=_l("Listings go to this organization unless the file has an organization column."))
    listing_status = RadioField(_l("Imported listings are"), default=ListingStatus.PUBLISHED,
                                choices=[(ListingStatus.PUBLISHED, _l("Published at once")),
                                         (ListingStatus.DRAFT, _l("Drafts for their owners to check"))])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.file.render_kw = {"accept": ",".join(ACCEPTED_EXTENSIONS)}
        self.organization_id.choices = [("", str(_l("Taken from the file's organization column")))] + \
            organizations.choices()


class ImportConfirmForm(FlaskForm):
    valid_only = BooleanField(_l("Import only the valid rows (rows with errors are left out)"))


class UserRoleForm(FlaskForm):
    role = SelectField(_l("Role"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices(Role)
