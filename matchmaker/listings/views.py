"""Research results and technical needs: browse, search, export, detail, forms, lifecycle actions, review."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from matchmaker.core import permissions, pickers
from matchmaker.core.errors import Conflict, NotAllowed, ValidationFailed
from matchmaker.core.form_fields import form_id
from matchmaker.core.i18n import current_lang
from matchmaker.core.web import XLSX_MIMETYPE, act, download, local_url, or_404, require
from matchmaker.listings import exports, lifecycle, search
from matchmaker.listings.forms import FORMS
from matchmaker.reference import (
    INDUSTRY_DIVISIONS,
    INDUSTRY_SECTIONS,
    IP_STATUS,
    MATURITY,
    REGIONS,
    TECH_FIELDS,
    TRANSFER_MODES,
    region_name,
)
from models import ListingStatus

bp = Blueprint("listings", __name__)

KIND = "<any(result,need):kind>"
BROWSE_ENDPOINT = {"result": "listings.results", "need": "listings.needs"}


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper


def _load(kind: str, listing_id: int) -> Any:
    return or_404(lifecycle.get_visible, current_user, kind, listing_id)


def _detail_url(listing: Any) -> str:
    return url_for("listings.detail", kind=listing.kind, listing_id=listing.id)


def _labels() -> dict[str, Any]:
    return {"status_labels": lifecycle.STATUS_LABELS, "close_reasons": lifecycle.CLOSE_REASON_LABELS,
            "kind_labels": lifecycle.KIND_LABELS, "refs": _refs(), "region_name": region_name}


def _refs() -> dict[str, Any]:
    return {"sections": INDUSTRY_SECTIONS, "divisions": INDUSTRY_DIVISIONS, "tech_fields": TECH_FIELDS,
            "maturity": MATURITY, "ip_status": IP_STATUS, "transfer_modes": TRANSFER_MODES}


# --- browse ----------------------------------------------------------------------------------

def _filter_choices(lang: str) -> dict[str, list[tuple[str, str]]]:
    fujian_first = sorted(REGIONS, key=lambda c: (not c.code.startswith("35"), c.code))
    return {
        "industry_section": [(c.code, f"{c.code} {c.label(lang)}") for c in INDUSTRY_SECTIONS],
        "industry_division": [(c.code, f"{c.code} {c.label(lang)}") for c in INDUSTRY_DIVISIONS],
        "tech_field": TECH_FIELDS.choices(lang),
        "maturity": MATURITY.choices(lang),
        "ip_status": IP_STATUS.choices(lang),
        "transfer_mode": TRANSFER_MODES.choices(lang),
        "region": [(c.code, region_name(c.code, lang)) for c in fujian_first],
    }


def _browse(kind: str):
    filters = search.parse_filters(request.args)
    page_number = request.args.get("page", "1")
    page = search.search(kind, filters, int(page_number) if page_number.isdigit() else 1,
                                 int(current_app.config["PAGE_SIZE"]))
    views = [lifecycle.view_for(x, current_user) for x in page.items]
    return render_template("listings/browse.html", kind=kind, filters=filters, page=page, views=views,
                           sort=search.effective_sort(filters), choices=_filter_choices(current_lang()),
                           endpoint=BROWSE_ENDPOINT[kind], **_labels())


@bp.get("/results")
def results():
    return _browse("result")


@bp.get("/needs")
def needs():
    return _browse("need")


@bp.get(f"/export/{KIND}")
def export(kind: str):
    require("listing.export")
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(400)
    filters = search.parse_filters(request.args)
    headers, rows = exports.table(kind, filters, current_user, current_lang())
    stamp = date.today().strftime("%Y%m%d")
    name = f"{'results' if kind == 'result' else 'needs'}-{stamp}.{fmt}"
    if fmt == "csv":
        body, mimetype = exports.to_csv(headers, rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = exports.to_xlsx(headers, rows, str(lifecycle.KIND_LABELS[kind])), XLSX_MIMETYPE
    return download(body, mimetype, name)


# --- detail ----------------------------------------------------------------------------------

@bp.get(f"/{KIND}/<int:listing_id>")
def detail(kind: str, listing_id: int):
    listing = _load(kind, listing_id)
    return _render_detail(listing, lifecycle.view_for(listing, current_user), preview=False)


@bp.get(f"/{KIND}/<int:listing_id>/preview")
@login_required
def preview(kind: str, listing_id: int):
    """The listing exactly as a visitor without access to the details sees it."""
    listing = _load(kind, listing_id)
    require("listing.edit", listing)
    return _render_detail(listing, lifecycle.ListingView(listing, details=not listing.confidential), preview=True)


def _render_detail(listing: Any, shown: lifecycle.ListingView, preview: bool):
    # Reached from one of the viewer's own listing's matches (?from=match&via=ID): an introduction
    # requested here records that origin and the pair (the service checks the listing is theirs).
    via = form_id(request.args.get("via")) if request.args.get("from") == "match" else None
    return render_template("listings/detail.html", listing=listing, kind=listing.kind, shown=shown,
                           preview=preview, blueprints=current_app.blueprints, today=search.local_today(),
                           renew_default=lifecycle.default_valid_until(),
                           origin="match" if via else "search", counterpart_listing_id=via, **_labels())


# --- create and edit -------------------------------------------------------------------------

def _form(kind: str, data: dict[str, Any] | None = None, prefill: bool = False) -> Any:
    """The listing form; `prefill`: a POST that only fills the form in (the need assistant's draft) over
    the defaults in `data`, never saved by this request."""
    form_class = FORMS[kind]
    if prefill:
        form = form_class(formdata=request.form, data=data)
    else:
        form = form_class(data=data) if data is not None and request.method == "GET" else form_class()
    # Staff file a listing for an organization they pick by name (core.pickers); others for their own.
    form.setup(current_lang(), [] if permissions.is_staff(current_user) else None)
    return form


LISTING_PICKERS = {"organization_id": "organization"}


def _render_form(form: Any, kind: str, listing: Any, picks: dict[str, Any] | None, **extra: Any) -> str:
    chosen = (pickers.chosen("organization", current_user, form.organization_id.data)
              if "organization_id" in form else None)
    return render_template("listings/form.html", form=form, kind=kind, listing=listing, picks=picks or {},
                           chosen_org=chosen, **extra, **_labels())


def _picking(form: Any) -> dict[str, Any] | None:
    """The organization search a staff member asked for with the picker's Find button, if any."""
    if request.method != "POST" or "organization_id" not in form:
        return None
    return pickers.from_request(request.form, LISTING_PICKERS, current_user)


@bp.route(f"/{KIND}/new", methods=["GET", "POST"])
@login_required
def create(kind: str):
    require(f"{kind}.create")
    from_draft = request.method == "POST" and "from_draft" in request.form
    form = _form(kind, {"valid_until": lifecycle.default_valid_until(), "language": current_lang(),
                        "contact_name": current_user.name, "contact_email": current_user.email,
                        "contact_phone": current_user.phone or "",
                        "region": getattr(current_user.organization, "region", "") or ""}, prefill=from_draft)
    if from_draft:
        flash(_("The draft is filled in below. Check it, complete budget and contact, then save."), "success")
        return _render_form(form, kind, None, None, duplicates=[])
    picks = _picking(form)
    if picks is not None:
        return _render_form(form, kind, None, picks, duplicates=[])
    duplicates: list[Any] = []
    if form.validate_on_submit() and "confirm_duplicate" not in request.form:
        duplicates = lifecycle.near_duplicates(current_user, kind, form.values())
    if form.validate_on_submit() and not duplicates:
        try:
            listing = lifecycle.create_listing(current_user, kind, form.values(), submit="submit" in request.form)
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
        except NotAllowed as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Submitted for review.") if listing.status == ListingStatus.PENDING
                  else _("Saved as a draft. Submit it for review when it is ready."), "success")
            return redirect(_detail_url(listing))
    return _render_form(form, kind, None, None, duplicates=duplicates)


@bp.route(f"/{KIND}/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit(kind: str, listing_id: int):
    listing = _load(kind, listing_id)
    require("listing.edit", listing)
    form = _form(kind, FORMS[kind].data_from(listing))
    picks = _picking(form)
    if picks is None and form.validate_on_submit():
        try:
            back_to_review = lifecycle.update_listing(current_user, listing, form.values(),
                                                     submit="submit" in request.form)
        except ValidationFailed as exc:
            form.add_errors(exc.errors)
        except (Conflict, NotAllowed) as exc:
            form.form_errors.append(exc.message)
        else:
            flash(_("Saved. The changed text goes back to staff review before it is public again.")
                  if back_to_review else _("Saved."), "success")
            return redirect(_detail_url(listing))
    return _render_form(form, kind, listing, picks)


# --- lifecycle actions -----------------------------------------------------------------------

def _act(kind: str, listing_id: int, action: Callable[[Any], None], done: str) -> Any:
    listing = _load(kind, listing_id)
    act(action, listing, success=done)
    return redirect(local_url(request.form.get("next"), _detail_url(listing)))


@bp.post(f"/{KIND}/<int:listing_id>/submit")
@login_required
def submit(kind: str, listing_id: int):
    return _act(kind, listing_id, lambda x: lifecycle.submit_listing(current_user, x), _("Submitted for review."))


@bp.post(f"/{KIND}/<int:listing_id>/approve")
@login_required
def approve(kind: str, listing_id: int):
    return _act(kind, listing_id, lambda x: lifecycle.approve_listing(current_user, x), _("Approved and published."))


@bp.post(f"/{KIND}/<int:listing_id>/reject")
@login_required
def reject(kind: str, listing_id: int):
    reason = request.form.get("reason", "")
    return _act(kind, listing_id, lambda x: lifecycle.reject_listing(current_user, x, reason),
                _("Rejected; the owner sees your reason."))


@bp.post(f"/{KIND}/<int:listing_id>/close")
@login_required
def close(kind: str, listing_id: int):
    reason = request.form.get("reason", "")
    return _act(kind, listing_id, lambda x: lifecycle.close_listing(current_user, x, reason), _("Closed."))


@bp.post(f"/{KIND}/<int:listing_id>/renew")
@login_required
def renew(kind: str, listing_id: int):
    raw = request.form.get("valid_until", "")
    try:
        valid_until = date.fromisoformat(raw) if raw else None
    except ValueError:
        flash(_("Enter the date as YYYY-MM-DD."), "error")
        return redirect(url_for("listings.detail", kind=kind, listing_id=listing_id))
    return _act(kind, listing_id, lambda x: lifecycle.renew_listing(current_user, x, valid_until), _("Renewed."))


# --- my listings and the review queue --------------------------------------------------------

@bp.get("/my/listings")
@login_required
def mine():
    return render_template("listings/mine.html", groups=lifecycle.my_listings(current_user),
                           can_create={k: permissions.can(current_user, f"{k}.create") for k in lifecycle.KINDS},
                           renew_default=lifecycle.default_valid_until(), **_labels())


@bp.get("/admin/review")
@login_required
def review_queue():
    require("listing.review")
    return render_template("listings/review.html", queue=lifecycle.review_queue(), **_labels())

