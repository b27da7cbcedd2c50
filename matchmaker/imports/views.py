"""Bulk import of listings by staff: upload, preview with per-row errors, confirm, progress."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from matchmaker.accounts import organizations
from matchmaker.accounts.forms.admin import KIND_LABELS, ImportConfirmForm, ImportUploadForm
from matchmaker.core.errors import DomainError
from matchmaker.core.i18n import current_lang
from matchmaker.core.web import or_404, require
from matchmaker.imports import importer
from matchmaker.reference import INDUSTRY_DIVISIONS, INDUSTRY_SECTIONS, MATURITY, TECH_FIELDS
from models import ImportStatus

bp = Blueprint("imports", __name__, url_prefix="/admin/imports")

STATUS_LABELS = {
    ImportStatus.UPLOADED: _l("Waiting to be read"),
    ImportStatus.READING: _l("Reading the file"),
    ImportStatus.READ_FAILED: _l("Could not be read"),
    ImportStatus.DISCARDED: _l("Discarded"),
    ImportStatus.PREVIEW: _l("Waiting for confirmation"),
    ImportStatus.QUEUED: _l("Queued"),
    ImportStatus.RUNNING: _l("Importing"),
    ImportStatus.DONE: _l("Done"),
    ImportStatus.FAILED: _l("Stopped"),
}
PREVIEW_ROWS = 10
SHOWN_ERRORS = 300


@bp.before_request
@login_required
def _staff_only():
    require("import.run")


@bp.errorhandler(413)
def file_too_large(_error):
    limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    form = ImportUploadForm(formdata=None)
    flash(_("The file is larger than %(mb)s MB. Split it into smaller files.", mb=limit_mb), "error")
    return _upload_page(form), 413


@bp.route("/", methods=["GET", "POST"])
def upload():
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            batch = importer.upload(current_user, form.kind.data, upload_file.filename or "", upload_file.read(),
                                    form.organization_id.data, form.listing_status.data)
        except DomainError as error:
            form.file.errors = [*form.file.errors, error.message]
        else:
            return redirect(url_for("imports.preview", batch_id=batch.id))
    return _upload_page(form)


def _upload_page(form: ImportUploadForm) -> str:
    return render_template("imports/upload.html", form=form, batches=importer.recent_batches(),
                           status_labels=STATUS_LABELS)


def _batch(batch_id: int):
    return or_404(importer.get_batch, current_user, batch_id)


def _display_rows(rows: list[dict]) -> list[dict]:
    """The first rows as the preview table shows them: labels in the reader's language."""
    lang = current_lang()
    org_names = dict(organizations.choices())
    shown = []
    for row in rows:
        fields = row["fields"]
        industry = INDUSTRY_DIVISIONS.label(fields.get("industry_division"), lang) if fields.get(
            "industry_division") else INDUSTRY_SECTIONS.label(fields.get("industry_section"), lang)
        shown.append({
            "row": row["row"], "ok": row["ok"], "title": fields.get("title") or "",
            "summary": fields.get("summary") or "", "industry": industry,
            "tech_field": TECH_FIELDS.label(fields.get("tech_field"), lang),
            "maturity": MATURITY.label(fields.get("maturity") or fields.get("min_maturity"), lang),
            "organization": org_names.get(row.get("org"), ""),
        })
    return shown


@bp.get("/<int:batch_id>")
def preview(batch_id: int):
    batch = _batch(batch_id)
    return render_template(
        "imports/preview.html", batch=batch, form=ImportConfirmForm(), kind_label=KIND_LABELS[batch.kind],
        first_rows=_display_rows(batch.rows[:PREVIEW_ROWS]), errors=batch.row_errors[:SHOWN_ERRORS],
        reasons=importer.error_reasons(batch), duplicates=importer.duplicate_rows(batch),
        job=importer.job_for(batch), running=importer.is_running(batch), done=batch.status == ImportStatus.DONE,
        reading=batch.status in importer.READ_PENDING,
    )


@bp.post("/<int:batch_id>/discard")
def discard(batch_id: int):
    _batch(batch_id)
    try:
        importer.discard(current_user, batch_id)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("imports.preview", batch_id=batch_id))
    flash(_("The upload was discarded."), "success")
    return redirect(url_for("imports.upload"))


@bp.post("/<int:batch_id>/confirm")
def confirm(batch_id: int):
    form = ImportConfirmForm()
    _batch(batch_id)
    try:
        batch = importer.confirm(current_user, batch_id, bool(form.valid_only.data))
    except DomainError as error:
        flash(error.message, "error")
    else:
        if batch.status == ImportStatus.DONE:
            flash(_("%(n)s listings imported.", n=batch.imported_count), "success")
    return redirect(url_for("imports.preview", batch_id=batch_id))
