"""The client's pages: enrollment, customers, contacts, visits, due contacts, sync issues, sync bar.

Views read the request, call the domain functions in ``client.crm`` / ``client.enrollment`` and
render templates; validation goes through the entity schemas (``client.forms``). Every page
but ``/enroll`` needs an enrolled device, and every page but ``/enroll`` and ``/login`` a login.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shared import policy
from shared.schemas import ContactSchema, CustomerSchema, VisitSchema
from shared.web.reasons import WORKFLOW_ENTITIES, WORKFLOW_REASONS
from sync import RecordNotFound
from sync.errors import SyncError, TransportUnavailable

from . import crm, db, enrollment
from .auth import login_session, page_user
from .db import get_store
from .enrollment import NotEnrolled
from .forms import to_local_input, validate_form
from .sync_api import sync_state, worker

bp = Blueprint("pages", __name__, template_folder="templates")
log = logging.getLogger(__name__)

FIELD_LABELS = {
    "kind": _l("Type"), "name": _l("Name"), "level": _l("Level"), "source": _l("Source"),
    "industry": _l("Industry"), "phone": _l("Phone"), "mobile": _l("Mobile"), "email": _l("E-mail"),
    "wechat": _l("WeChat"), "qq": _l("QQ"), "province": _l("Province"), "city": _l("City"),
    "address": _l("Address"), "remark": _l("Remark"), "owner_id": _l("Owner"), "is_hot": _l("Hot customer"),
    "next_contact_at": _l("Next contact"), "title": _l("Job title"), "birthday": _l("Birthday"),
    "contact_id": _l("Contact"), "method": _l("Method"), "content": _l("Content"), "visited_at": _l("Time"),
    "deleted": _l("Deleted"), "customer_id": _l("Customer"),
}
KIND_LABELS = {"company": _l("Company"), "person": _l("Person")}
METHOD_LABELS = {"phone": _l("Phone call"), "email": _l("E-mail"), "im": _l("Instant message"),
                 "onsite": _l("On-site visit"), "other": _l("Other")}
ENTITY_LABELS = {"customer": _l("Customer"), "contact": _l("Contact"), "visit": _l("Visit"),
                 "visit_void": _l("Visit void"), **WORKFLOW_ENTITIES}

PUBLIC_ENDPOINTS = {"pages.enroll", "static", "fbstatic.static", "fbstatic.set_lang"}
LOGIN_FREE_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.login", "auth.logout"}


def tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def now() -> datetime:
    return crm.local_now(get_store(), tz())


def _user() -> dict[str, Any]:
    user = page_user()
    if user is None:  # guarded by _gate; this is a programming error
        abort(401)
    return user


def _gate() -> Any:
    """Send every page to /enroll until enrolled, then to /login until logged in."""
    endpoint = request.endpoint or ""
    if request.path.startswith(("/api/", "/sync/")) or endpoint in PUBLIC_ENDPOINTS:
        return None
    if db.get_device(get_store()) is None:
        return redirect(url_for("pages.enroll"))
    if endpoint not in LOGIN_FREE_ENDPOINTS and page_user() is None:
        if request.headers.get("HX-Request"):
            return "", 401
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    return None


def _format_dt(value: str | None, fmt: str = "short") -> str:
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return format_datetime(parsed, fmt)


def _context() -> dict[str, Any]:
    user = page_user() if request.endpoint not in PUBLIC_ENDPOINTS else None
    state = sync_state(get_store()) if user else None
    return {"current_user": user, "sync": state, "FIELD_LABELS": FIELD_LABELS, "KIND_LABELS": KIND_LABELS,
            "METHOD_LABELS": METHOD_LABELS, "ENTITY_LABELS": ENTITY_LABELS, "REASON_LABELS": REASON_LABELS, "to_local_input": lambda v: to_local_input(v, tz())}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_gate)
    app.context_processor(_context)
    app.jinja_env.filters["dt"] = _format_dt


# ---- enrollment ------------------------------------------------------------------------------
@bp.route("/enroll", methods=["GET", "POST"])
def enroll() -> Any:
    store = get_store()
    if db.get_device(store) is not None:
        return redirect(url_for("pages.customers"))
    form = request.form if request.method == "POST" else {}
    errors: dict[str, str] = {}
    error = None
    if request.method == "POST":
        for name in ("server_url", "username", "password"):
            if not form.get(name, "").strip():
                errors[name] = _("This field is required.")
        url = form.get("server_url", "").strip()
        if url and not url.startswith(("http://", "https://")):
            errors["server_url"] = _("Start the address with http:// or https://.")
        if not errors:
            try:
                answer = enrollment.register_device(
                    store, url, form["username"].strip(), form["password"], form.get("name", "").strip() or None,
                    form.get("warehouse", "").strip() or None, timeout=float(current_app.config["SYNC_TIMEOUT"]),
                )
            except TransportUnavailable as exc:
                log.info("enrollment: server unreachable (%s)", exc)
                error = _("The server cannot be reached. Check the address and the network, then try again.")
            except SyncError as exc:
                error = _("The server refused the enrollment: %(message)s", message=exc.message)
            else:
                # Registration was quick; the first sync may take minutes, so it runs on the
                # worker's thread and the progress page polls it instead of freezing this form.
                login_session(answer["user"])
                worker().start_first_sync()
                return redirect(url_for("pages.enroll_progress"))
    return render_template("enroll.html", form=form, errors=errors, error=error), (400 if error or errors else 200)


@bp.get("/enroll/progress")
def enroll_progress() -> Any:
    return render_template("enroll_progress.html", progress=worker().first_sync_progress())


@bp.get("/enroll/status")
def enroll_status() -> Any:
    """The progress fragment the page polls (htmx); it stops polling once the sync is over."""
    return render_template("_first_sync.html", progress=worker().first_sync_progress())


# ---- customers -------------------------------------------------------------------------------
@bp.get("/")
def index() -> Any:
    device = db.get_device(get_store())
    if device and device.get("warehouse"):  # a warehouse kiosk opens on its scan page
        return redirect(url_for("kiosk.home"))
    return redirect(url_for("pages.customers"))


@bp.get("/customers")
def customers() -> Any:
    q = request.args.get("q", "").strip()
    page = request.args.get("page", 1, type=int) or 1
    per_page = int(current_app.config["PER_PAGE"])
    items, total = crm.search_customers(get_store(), q, page, per_page)
    pages = max(1, -(-total // per_page))
    return render_template("customers/list.html", items=items, total=total, q=q, page=min(page, pages), pages=pages)


def _customer_or_404(customer_id: str) -> dict[str, Any]:
    try:
        return crm.get_live_customer(get_store(), customer_id)
    except RecordNotFound:
        abort(404)


def _page_arg(name: str) -> int:
    return max(1, request.args.get(name, 1, type=int) or 1)


def paged(total: int, page: int, per_page: int) -> dict[str, Any]:
    """Page numbers for a list of ``total`` items: the page clamped to the last one, and the offset."""
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    return {"page": page, "pages": pages, "total": total, "offset": (page - 1) * per_page}


@bp.get("/customers/<customer_id>")
def customer(customer_id: str) -> Any:
    store = get_store()
    row = _customer_or_404(customer_id)
    user = _user()
    today = now()
    per_page = int(current_app.config["CHILD_PER_PAGE"])
    all_contacts = crm.contacts_of(store, customer_id)
    contacts_pager = paged(len(all_contacts), _page_arg("cpage"), per_page)
    contacts = all_contacts[contacts_pager["offset"]:contacts_pager["offset"] + per_page]
    visits_pager = paged(int(store.db.execute("SELECT count(*) FROM visits WHERE customer_id = ?", [customer_id]).fetchone()[0]),
                         _page_arg("vpage"), per_page)
    visits, _total = crm.visits_page(store, customer_id, visits_pager["page"], per_page)
    for visit in visits:
        visit["can_void"] = crm.can_void(visit, user["id"], today)
    names = {c["id"]: c["name"] for c in all_contacts}
    authors = {u["id"]: u["display_name"] or u["username"] for u in store.db.query("SELECT id, username, display_name FROM local_users")}
    return render_template(
        "customers/view.html", c=row, contacts=contacts, contact_names=names, visits=visits, authors=authors,
        pending=store.pending_for("customer", customer_id), contacts_pager=contacts_pager, visits_pager=visits_pager,
    )


@bp.get("/customers/<customer_id>/sync-state")
def customer_sync_state(customer_id: str) -> Any:
    """The record's sync badge alone, for htmx to refresh after a sync."""
    row = _customer_or_404(customer_id)
    return render_template("customers/_record_sync.html", c=row, pending=get_store().pending_for("customer", customer_id))


def _customer_form(row: dict[str, Any] | None) -> Any:
    store = get_store()
    user = _user()
    form: Any = request.form if request.method == "POST" else (row or {"kind": "company"})
    errors: dict[str, list[str]] = {}
    duplicates: list[dict[str, Any]] = []
    if request.method == "POST":
        values, errors = validate_form(CustomerSchema, request.form, crm.CUSTOMER_FORM_FIELDS, tz())
        if not errors and row is None and not request.form.get("confirm_duplicate"):
            duplicates = policy.find_duplicates(store, values)  # the fields the server's policy names
        if not errors and not duplicates:
            if row is None:
                customer_id = crm.create_customer(store, values, user["id"])
                flash(_("Customer created."), "success")
            else:
                customer_id = row["id"]
                crm.update_customer(store, customer_id, values, user["id"])
                flash(_("Customer saved."), "success")
            return redirect(url_for("pages.customer", customer_id=customer_id))
    status = 422 if errors else 200
    return render_template("customers/form.html", c=row, form=form, errors=errors, duplicates=duplicates), status


@bp.route("/customers/new", methods=["GET", "POST"])
def customer_new() -> Any:
    return _customer_form(None)


@bp.route("/customers/<customer_id>/edit", methods=["GET", "POST"])
def customer_edit(customer_id: str) -> Any:
    return _customer_form(_customer_or_404(customer_id))


@bp.post("/customers/<customer_id>/conflicts/<conflict_id>/<action>")
def resolve_conflict(customer_id: str, conflict_id: str, action: str) -> Any:
    if action not in ("restore", "dismiss"):
        abort(404)
    _customer_or_404(customer_id)
    try:
        get_store().resolve_conflict("customer", customer_id, conflict_id, action, _user()["id"])
    except RecordNotFound:
        flash(_("That kept value is gone already."), "warning")
    else:
        flash(_("The kept value was restored.") if action == "restore" else _("The kept value was dismissed."), "success")
    return redirect(url_for("pages.customer", customer_id=customer_id))


# ---- visits and contacts ---------------------------------------------------------------------
@bp.route("/customers/<customer_id>/visits/new", methods=["GET", "POST"])
def visit_new(customer_id: str) -> Any:
    row = _customer_or_404(customer_id)
    store = get_store()
    errors: dict[str, list[str]] = {}
    form: Any = {"method": "phone", "visited_at": now().isoformat(timespec="minutes")}
    if request.method == "POST":
        form = request.form.to_dict()
        form["customer_id"] = customer_id
        values, errors = validate_form(VisitSchema, form, crm.VISIT_FORM_FIELDS, tz())
        if not errors and values.get("contact_id") and values["contact_id"] not in {c["id"] for c in crm.contacts_of(store, customer_id)}:
            errors["contact_id"] = [_("Choose one of the offered values.")]
        if not errors:
            crm.record_visit(store, values, _user()["id"])
            flash(_("Visit recorded."), "success")
            return redirect(url_for("pages.customer", customer_id=customer_id))
    options = [(p["id"], p["name"]) for p in crm.contacts_of(store, customer_id)]
    return render_template("visits/form.html", c=row, form=form, errors=errors, contact_options=options), (422 if errors else 200)


@bp.post("/visits/<visit_id>/void")
def visit_void(visit_id: str) -> Any:
    store = get_store()
    visit = store.event_row("visit", visit_id)
    if visit is None:
        abort(404)
    try:
        crm.void_visit(store, visit_id, _user()["id"], now())
        flash(_("The visit was voided."), "success")
    except crm.NotAllowed:
        flash(_("Only the author may void a visit, and only on the day it was recorded."), "error")
    return redirect(url_for("pages.customer", customer_id=visit["customer_id"]))


@bp.route("/contacts/new", methods=["GET", "POST"])
def contact_new() -> Any:
    customer_id = request.values.get("customer_id", "")
    row = _customer_or_404(customer_id)
    errors: dict[str, list[str]] = {}
    form: Any = {"customer_id": customer_id}
    if request.method == "POST":
        form = request.form.to_dict()
        form["customer_id"] = customer_id
        values, errors = validate_form(ContactSchema, form, crm.CONTACT_FORM_FIELDS, tz())
        if not errors:
            crm.create_contact(get_store(), values, _user()["id"])
            flash(_("Contact added."), "success")
            return redirect(url_for("pages.customer", customer_id=customer_id))
    return render_template("contacts/form.html", c=row, form=form, errors=errors), (422 if errors else 200)


def _contact_or_404(contact_id: str) -> dict[str, Any]:
    try:
        return crm.get_live_contact(get_store(), contact_id)
    except RecordNotFound:
        abort(404)


@bp.route("/contacts/<contact_id>/edit", methods=["GET", "POST"])
def contact_edit(contact_id: str) -> Any:
    contact = _contact_or_404(contact_id)
    row = _customer_or_404(contact["customer_id"])
    errors: dict[str, list[str]] = {}
    form: Any = contact
    if request.method == "POST":
        form = request.form.to_dict()
        form["customer_id"] = contact["customer_id"]
        values, errors = validate_form(ContactSchema, form, crm.CONTACT_FORM_FIELDS, tz())
        if not errors:
            crm.update_contact(get_store(), contact_id, values, _user()["id"])
            flash(_("Contact saved."), "success")
            return redirect(url_for("pages.customer", customer_id=row["id"]))
    return render_template("contacts/form.html", c=row, p=contact, form=form, errors=errors), (422 if errors else 200)


def _confirm_delete(what: str, name: str, cancel_url: str, status: int = 200) -> Any:
    return render_template("confirm_delete.html", what=what, name=name, cancel_url=cancel_url), status


@bp.route("/customers/<customer_id>/delete", methods=["GET", "POST"])
def customer_delete(customer_id: str) -> Any:
    """Ask first (GET); delete only on a POST that carries the explicit ``confirm=yes``."""
    row = _customer_or_404(customer_id)
    back = url_for("pages.customer", customer_id=customer_id)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return _confirm_delete(_("customer"), row["name"], back, 200 if request.method == "GET" else 400)
    crm.delete_customer(get_store(), customer_id, _user()["id"])
    flash(_("Customer “%(name)s” deleted.", name=row["name"]), "success")
    return redirect(url_for("pages.customers"))


@bp.route("/contacts/<contact_id>/delete", methods=["GET", "POST"])
def contact_delete(contact_id: str) -> Any:
    """Ask first (GET); delete only on a POST that carries the explicit ``confirm=yes``."""
    contact = _contact_or_404(contact_id)
    back = url_for("pages.customer", customer_id=contact["customer_id"])
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return _confirm_delete(_("contact"), contact["name"], back, 200 if request.method == "GET" else 400)
    crm.delete_contact(get_store(), contact_id, _user()["id"])
    flash(_("Contact “%(name)s” deleted.", name=contact["name"]), "success")
    return redirect(back)


@bp.post("/contacts/<contact_id>/conflicts/<conflict_id>/<action>")
def resolve_contact_conflict(contact_id: str, conflict_id: str, action: str) -> Any:
    if action not in ("restore", "dismiss"):
        abort(404)
    contact = _contact_or_404(contact_id)
    try:
        get_store().resolve_conflict("contact", contact_id, conflict_id, action, _user()["id"])
    except RecordNotFound:
        flash(_("That kept value is gone already."), "warning")
    else:
        flash(_("The kept value was restored.") if action == "restore" else _("The kept value was dismissed."), "success")
    return redirect(url_for("pages.customer", customer_id=contact["customer_id"]))


@bp.get("/due")
def due() -> Any:
    items = crm.due_customers(get_store(), now())
    per_page = int(current_app.config["PER_PAGE"])
    pager = paged(len(items), _page_arg("page"), per_page)
    return render_template("due.html", items=items[pager["offset"]:pager["offset"] + per_page], due_pager=pager, today=now())


# ---- sync issues and the sync bar ------------------------------------------------------------
@bp.get("/sync-issues")
def sync_issues() -> Any:
    return render_template("sync_issues.html", items=get_store().rejections())


@bp.post("/sync-issues/<rejection_id>/dismiss")
def sync_issue_dismiss(rejection_id: str) -> Any:
    store = get_store()
    with store.write():
        store.db.execute("UPDATE sync_rejections SET dismissed = 1 WHERE id = ?", [rejection_id])
    flash(_("The sync issue was dismissed."), "success")
    return redirect(url_for("pages.sync_issues"))


@bp.get("/syncbar")
def syncbar() -> Any:
    return render_template("_syncbar.html")


@bp.post("/syncbar/sync")
def syncbar_sync() -> Any:
    """Sync now from the bar (htmx); offline is shown in the bar, not as an error page."""
    message, category = None, "success"
    try:
        report = worker().sync_now()
        message = _("Synced: %(pushed)s sent, %(pulled)s received.", pushed=report["pushed"], pulled=report["pulled"])
    except TransportUnavailable:
        message, category = _("Offline: the server cannot be reached. Your changes are kept."), "warning"
    except SyncError as exc:
        message, category = _("The server refused the sync: %(message)s", message=exc.message), "error"
    except NotEnrolled:
        message, category = _("This client is not enrolled yet."), "error"
    if not request.headers.get("HX-Request"):
        flash(message, category)
        back = urlsplit(request.referrer or "")
        same_site = back.netloc in ("", request.host) and back.path.startswith("/") and not back.path.startswith("//")
        return redirect(back.path if same_site else url_for("pages.customers"))
    response = make_response(render_template("_syncbar.html", sync=sync_state(get_store()), message=message, category=category))
    response.headers["HX-Trigger"] = "fb:synced"  # parts of the page that show sync state refresh themselves
    return response


REASON_LABELS = {
    "already_claimed": _l("Another user claimed this customer from the pool first."),
    "out_of_scope": _l("This record is no longer yours to change; your copy was removed."),
    "owner_not_allowed": _l("You may not give this customer to that owner."),
    "no_permission": _l("You lack the permission for this change."),
    "release_not_allowed": _l("You may not release this customer to the pool."),
    "unknown_owner": _l("The new owner is not an active user."),
    **WORKFLOW_REASONS,
}


@bp.get("/pool")
def pool() -> Any:
    """Pool customers held on this device (the server arbitrates claims when they sync)."""
    from shared.web.api import CrmService

    page = max(1, request.args.get("page", 1, type=int) or 1)
    per_page = int(current_app.config["PER_PAGE"])
    found = CrmService(get_store(), _user()).list_customers({"q": request.args.get("q", "").strip()[:100], "page": page,
                                                           "per_page": per_page, "pool": True})
    pages = max(1, -(-found["total"] // per_page))
    return render_template("pool.html", items=found["items"], total=found["total"], page=min(page, pages), pages=pages)


@bp.post("/pool/<customer_id>/claim")
def pool_claim(customer_id: str) -> Any:
    from shared.web.api import CrmService
    from shared.web.errors import ApiError, NotFound

    try:
        CrmService(get_store(), _user()).claim(customer_id)
    except NotFound:
        abort(404)
    except ApiError:
        flash(_("Someone else already owns this customer."), "error")
    else:
        flash(_("Claimed. The server confirms it on the next sync."), "success")
    return redirect(url_for("pages.pool"))
