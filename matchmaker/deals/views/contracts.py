"""Technology contracts: the list, the registration-form fields, audited edits with conflict
detection, and the historical import with its preview."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import ValidationError

from matchmaker import reference
from matchmaker.core import audit, permissions, pickers
from matchmaker.core.errors import Conflict, DomainError, NotAllowed, NotFound, ValidationFailed
from matchmaker.core.form_fields import apply_errors, show_error
from matchmaker.core.i18n import current_lang, format_money
from matchmaker.core.web import download, or_404, require
from matchmaker.deals import contract_import, contracts
from matchmaker.deals.forms import CONTRACT_ALIASES, ConfirmImportForm, ContractForm, ImportForm, wan_to_fen

bp = Blueprint("contracts", __name__, url_prefix="/contracts")


def _require_manager() -> None:
    require("contract.manage")


# The form's fields that choose a record, and the kind each chooses (core.pickers).
PICKERS = {"seller_org_id": "organization", "buyer_org_id": "organization", "deal_id": "deal",
           "result_id": "result", "need_id": "need", "fair_id": "fair"}


def _form(**kwargs: Any) -> ContractForm:
    # Organizations and fairs are chosen through pickers: no select of every one of them.
    return ContractForm(lang=current_lang(), **kwargs)


def _render(form: ContractForm, contract: Any, current: Any, picks: dict[str, Any] | None, status: int):
    chosen = pickers.labels(PICKERS, {name: getattr(form, name).data for name in PICKERS}, current_user)
    return render_template("contracts/form.html", form=form, contract=contract, current=current,
                           picks=picks or {}, chosen=chosen, **_refs()), status


def _refs() -> dict[str, Any]:
    return {"refs": reference, "lang": current_lang(), "region_name": reference.region_name}


@bp.get("/")
@login_required
def index():
    flt = contracts.ContractFilter(year=request.args.get("year", type=int),
                                   contract_type=request.args.get("type") or None,
                                   q=request.args.get("q", ""), page=max(request.args.get("page", 1, type=int), 1))
    rows, total = contracts.search(current_user, flt)
    size = 20
    page = {"number": flt.page, "pages": max((total + size - 1) // size, 1), "total": total}
    return render_template("contracts/index.html", contracts=rows, page=page, flt=flt,
                           can_manage=permissions.can(current_user, "contract.manage"), **_refs())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    _require_manager()
    form = _form()
    if request.method == "GET" and request.args.get("deal_id", type=int):
        form.fill(or_404(contracts.prefill_from_deal, request.args.get("deal_id", type=int)))
    picks = pickers.from_request(request.form, PICKERS, current_user) if request.method == "POST" else None
    if picks is None and form.validate_on_submit():
        try:
            contract = contracts.create(current_user, form.to_input())
        except DomainError as exc:
            show_error(form, exc, CONTRACT_ALIASES)
        else:
            flash(_("Contract recorded."), "success")
            return redirect(url_for("contracts.view", contract_id=contract.id))
    return _render(form, None, None, picks, 400 if request.method == "POST" and picks is None else 200)


@bp.get("/amount")
@login_required
def amount_preview():
    """What an amount box will save, for the form's live preview: {"saved": "¥60万元"} or {"error": ...}."""
    _require_manager()
    try:
        fen = wan_to_fen(request.args.get("value", "")[:50])
    except ValidationError as exc:
        return jsonify(error=str(exc.args[0]))
    return jsonify(saved=_("Will be saved as %(amount)s.", amount=format_money(fen)) if fen is not None else "")


def _load(contract_id: int) -> Any:
    return or_404(contracts.get_for, current_user, contract_id)


@bp.get("/<int:contract_id>")
@login_required
def view(contract_id: int):
    contract = _load(contract_id)
    history = audit.history("contracts", contract.id) if permissions.is_staff(current_user) else []
    return render_template("contracts/view.html", contract=contract, history=history,
                           can_manage=permissions.can(current_user, "contract.manage"), **_refs())


@bp.route("/<int:contract_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contract_id: int):
    _require_manager()
    contract = _load(contract_id)
    form = _form()
    current = None
    picks = pickers.from_request(request.form, PICKERS, current_user) if request.method == "POST" else None
    if request.method == "GET":
        form.fill(contracts.input_from(contract), version=contract.version)
    elif picks is None and form.validate_on_submit():
        expected = int(form.version.data) if (form.version.data or "").isdigit() else None
        try:
            contracts.update(current_user, contract_id, form.to_input(), expected)
        except Conflict as exc:
            # Keep what the user typed; show the saved values beside it; the next save is deliberate.
            form.form_errors.append(exc.message)
            current = getattr(exc, "current", None) or contract
            form.version.data = str(current.version)
        except NotAllowed:
            abort(403)
        except DomainError as exc:
            show_error(form, exc, CONTRACT_ALIASES)
        else:
            flash(_("Contract saved."), "success")
            return redirect(url_for("contracts.view", contract_id=contract_id))
    status = 200 if request.method == "GET" or picks is not None else (409 if current is not None else 400)
    return _render(form, contract, current, picks, status)


# --- import -----------------------------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_upload():
    _require_manager()
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            preview_id = contract_import.upload(current_user, upload.filename or "", upload.read())
        except ValidationFailed as exc:
            apply_errors(form, {"file": [m for ms in exc.errors.values() for m in ms]})
        except DomainError as exc:
            form.file.errors = [*form.file.errors, exc.message]
        else:
            return redirect(url_for("contracts.import_preview", job_id=preview_id))
    status = 400 if request.method == "POST" else 200
    return render_template("contracts/import.html", form=form, headers=contract_import.template_headers()), status


@bp.get("/import/template.csv")
@login_required
def import_template():
    _require_manager()
    return download(contract_import.template_csv(), "text/csv", "contracts-template.csv")


@bp.get("/import/<int:job_id>")
@login_required
def import_preview(job_id: int):
    _require_manager()
    preview = or_404(contract_import.load_preview, current_user, job_id)
    return render_template("contracts/import_preview.html", preview=preview, form=ConfirmImportForm(),
                           job=preview.reading, reading=preview.being_read,
                           header=contract_import.column_header, **_refs())


@bp.post("/import/<int:job_id>/confirm")
@login_required
def import_confirm(job_id: int):
    _require_manager()
    form = ConfirmImportForm()
    try:
        saved = contract_import.confirm(current_user, job_id, bool(form.valid_only.data))
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("contracts.import_preview", job_id=job_id))
    flash(_("%(n)s contracts imported.", n=saved), "success")
    return redirect(url_for("contracts.index"))
