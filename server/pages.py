"""The server's admin pages: customers (list, search, view with contacts, visits and kept
conflicts), devices, and sync issues. Views read the materialized tables through the store and
write only through store methods; rules decide which customers a user sees.
"""
from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import ngettext

from shared.web.api import CrmService
from shared.web.errors import ApiError, NotFound
from shared.web.reasons import WORKFLOW_ENTITIES, WORKFLOW_REASONS

from . import rules, users
from .auth import login_required, page_user, roles_required
from .db import get_store
from .sync_api import sync_server

bp = Blueprint("pages", __name__)
MANAGE_ROLES = ("admin", "boss", "admin_staff")


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _pager(total: int, page: int, size: int | None = None) -> dict[str, Any]:
    size = size or int(current_app.config["PAGE_SIZE"])
    pages = max(1, math.ceil(total / size))
    page = min(page, pages)
    return {"page": page, "pages": pages, "total": total, "size": size, "offset": (page - 1) * size}


@bp.app_template_filter("fbtime")
def fbtime(value: Any) -> str:
    """Show an ISO 8601 time in the user's locale and the configured time zone."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return format_datetime(moment, "medium")


@bp.app_template_filter("fbvalue")
def fbvalue(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def field_labels() -> dict[str, str]:
    return {
        "kind": _("Type"), "name": _("Name"), "level": _("Level"), "source": _("Source"),
        "industry": _("Industry"), "phone": _("Phone"), "mobile": _("Mobile"), "email": _("E-mail"),
        "wechat": _("WeChat"), "qq": _("QQ"), "province": _("Province"), "city": _("City"),
        "address": _("Address"), "remark": _("Remark"), "owner_id": _("Owner"), "is_hot": _("Hot"),
        "next_contact_at": _("Next contact"), "deleted": _("Deleted"), "title": _("Title"),
        "birthday": _("Birthday"), "created_at": _("Created"), "updated_at": _("Updated"),
    }


def kind_labels() -> dict[str, str]:
    return {"company": _("Company"), "person": _("Person")}


def entity_labels() -> dict[str, str]:
    return {"customer": _("Customer"), "contact": _("Contact"), "visit": _("Visit"), "visit_void": _("Visit void"),
            **{k: str(v) for k, v in WORKFLOW_ENTITIES.items()}}


def method_labels() -> dict[str, str]:
    return {"phone": _("Phone"), "email": _("E-mail"), "im": _("IM"), "onsite": _("On-site visit"), "other": _("Other")}


def reason_text(reason: str) -> str:
    known = {
        "out_of_scope": _("The record is outside the user's scope."),
        "owner_not_allowed": _("The user may not give this customer to that owner."),
        "missing_dependencies": _("Earlier changes of this record are missing; the device will resend them."),
        "already_claimed": _("Another user claimed this customer from the pool first."),
        "no_permission": _("The user lacks the permission for this change."),
        "release_not_allowed": _("The user may not release this customer to the pool."),
        "unknown_owner": _("The new owner is not an active user."),
    }
    if reason in known:
        return known[reason]
    if reason in WORKFLOW_REASONS:
        return str(WORKFLOW_REASONS[reason])
    if reason.startswith("invalid"):
        return _("Invalid value: %(detail)s", detail=reason.partition(":")[2].strip())
    return reason


@bp.get("/")
def index() -> ResponseReturnValue:
    """Everyone's home page is their workbench (工作台): what waits for them."""
    return redirect(url_for("sales_pages.workbench"))


def _service() -> CrmService:
    user = page_user()
    assert user is not None
    return CrmService(get_store(), user, rules.scope_sql, rules.permits, rules.owner_rule(get_store()))


@bp.get("/customers")
@login_required
def customers() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()[:100]
    size = int(current_app.config["PAGE_SIZE"])
    page = _page_number()
    service = _service()
    found = service.list_customers({"q": q, "page": page, "per_page": size})
    pager = _pager(found["total"], page)
    if pager["page"] != page:  # past the last page: show the last one
        found = service.list_customers({"q": q, "page": pager["page"], "per_page": size})
    names = users.display_names(get_store())
    return render_template("customers.html", rows=found["items"], q=q, pager=pager, kinds=kind_labels(), names=names)


def _customer_or_404(customer_id: str) -> dict[str, Any]:
    try:
        return _service().customer(customer_id)
    except NotFound:
        abort(404)


@bp.get("/customers/<customer_id>")
@login_required
def customer(customer_id: str) -> ResponseReturnValue:
    record = _customer_or_404(customer_id)
    service = _service()
    size = int(current_app.config["CHILD_PAGE_SIZE"])
    lists: dict[str, Any] = {}
    for entity, param in (("contact", "cpage"), ("visit", "vpage")):
        try:
            page = max(1, int(request.args.get(param, "1")))
        except ValueError:
            page = 1
        found = service.list_children(entity, {"customer_id": customer_id, "page": page, "per_page": size})
        pager = _pager(found["total"], page, size)
        if pager["page"] != page:  # past the last page: show the last one
            found = service.list_children(entity, {"customer_id": customer_id, "page": pager["page"], "per_page": size})
        lists[entity] = (found["items"], pager)
    contacts, contacts_pager = lists["contact"]
    visits, visits_pager = lists["visit"]
    for visit in visits:
        visit["author_id"] = (get_store().event_row("visit", visit["id"]) or {}).get("author_id")
    contact_names = dict(get_store().db.execute(
        "SELECT id, name FROM contacts WHERE customer_id = ?", [customer_id]).fetchall())
    return render_template(
        "customer.html", c=record, contacts=contacts, visits=visits, names=users.display_names(get_store()),
        contact_names=contact_names, contacts_pager=contacts_pager, visits_pager=visits_pager,
        labels=field_labels(), kinds=kind_labels(), methods=method_labels(),
        detail_fields=["kind", "level", "source", "industry", "phone", "mobile", "email", "wechat", "qq",
                       "province", "city", "address", "is_hot", "next_contact_at", "created_at", "updated_at"],
    )


@bp.post("/customers/<customer_id>/conflicts/<conflict_id>")
@login_required
def resolve_conflict(customer_id: str, conflict_id: str) -> ResponseReturnValue:
    _customer_or_404(customer_id)
    action = request.form.get("action")
    if action not in ("restore", "dismiss"):
        abort(400)
    try:
        _service().resolve_conflict("customer", customer_id, conflict_id, action)
    except NotFound:
        flash(_("That kept value was already resolved."), "warning")
    else:
        flash(_("The kept value was restored.") if action == "restore" else _("The kept value was dismissed."), "success")
    return redirect(url_for("pages.customer", customer_id=customer_id))


@bp.post("/contacts/<contact_id>/conflicts/<conflict_id>")
@login_required
def resolve_contact_conflict(contact_id: str, conflict_id: str) -> ResponseReturnValue:
    service = _service()
    try:
        contact = service.contact(contact_id)
    except NotFound:
        abort(404)
    action = request.form.get("action")
    if action not in ("restore", "dismiss"):
        abort(400)
    try:
        service.resolve_conflict("contact", contact_id, conflict_id, action)
    except NotFound:
        flash(_("That kept value was already resolved."), "warning")
    else:
        flash(_("The kept value was restored.") if action == "restore" else _("The kept value was dismissed."), "success")
    return redirect(url_for("pages.customer", customer_id=contact["customer_id"]))


@bp.get("/devices")
@roles_required(*MANAGE_ROLES)
def devices() -> ResponseReturnValue:
    states = sync_server().device_states()
    rows = []
    for device in users.list_devices(get_store()):
        state = states.get(device["id"]) or {}
        rows.append({**device, "pending": state.get("pending"), "app_version": state.get("app_version") or device["app_version"]})
    return render_template("devices.html", devices=rows)


@bp.post("/devices/<device_id>/revoke")
@roles_required(*MANAGE_ROLES)
def revoke_device(device_id: str) -> ResponseReturnValue:
    if not users.revoke_device(get_store(), device_id):
        abort(404)
    flash(_("The device was revoked. It must be enrolled again to sync."), "success")
    return redirect(url_for("pages.devices"))


@bp.get("/sync-issues")
@roles_required(*MANAGE_ROLES)
def sync_issues() -> ResponseReturnValue:
    store = get_store()
    (total,) = store.db.execute("SELECT count(*) FROM sync_log WHERE kind = 'rejection'").fetchone()
    pager = _pager(total, _page_number())
    rows = []
    for row in store.db.query(
        "SELECT l.seq, l.payload, l.target, d.name AS device_name, u.display_name AS user_name"
        " FROM sync_log l LEFT JOIN devices d ON d.id = l.target LEFT JOIN users u ON u.id = d.user_id"
        " WHERE l.kind = 'rejection' ORDER BY l.seq DESC LIMIT ? OFFSET ?",
        [pager["size"], pager["offset"]],
    ):
        issue = json.loads(row["payload"])
        issue.update(device_name=row["device_name"], user_name=row["user_name"], device_id=row["target"],
                     reason_text=reason_text(issue.get("reason", "")))
        rows.append(issue)
    ids = [r["record_id"] for r in rows if r.get("entity") == "customer"]
    if ids:
        found = dict(store.db.execute(
            f"SELECT id, name FROM customers WHERE id IN ({', '.join('?' for _ in ids)})", ids).fetchall())
        for issue in rows:
            detail = issue.get("detail") if isinstance(issue.get("detail"), dict) else {}
            values = detail.get("values") if isinstance(detail.get("values"), dict) else {}
            issue["record_name"] = found.get(issue["record_id"]) or values.get("name")
    return render_template("sync_issues.html", rows=rows, pager=pager, labels=field_labels(), entities=entity_labels())


@bp.get("/pool")
@login_required
def pool() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()[:100]
    size = int(current_app.config["PAGE_SIZE"])
    page = _page_number()
    service = _service()
    found = service.list_customers({"q": q, "page": page, "per_page": size, "pool": True})
    pager = _pager(found["total"], page)
    me = page_user() or {}
    team = sorted(users.find_users(get_store(), None, 500)[0], key=lambda u: u["display_name"])
    assignees = [u for u in team if rules.owner_in_scope(me, u["id"]) and u["role"] != "admin"]
    return render_template("pool.html", rows=found["items"], q=q, pager=pager, kinds=kind_labels(), assignees=assignees,
                           can_claim=rules.can(me, "pool", "edit"), can_assign=rules.can(me, "transfer", "approve"))


@bp.post("/pool/claim/<customer_id>")
@login_required
def pool_claim(customer_id: str) -> ResponseReturnValue:
    try:
        _service().claim(customer_id)
    except NotFound:
        abort(404)
    except ApiError as exc:
        flash(_("Someone else already owns this customer.") if exc.code == "already_claimed" else _("You may not do that."), "error")
    else:
        flash(_("The customer is yours now."), "success")
    return redirect(url_for("pages.pool"))


@bp.post("/pool/assign")
@login_required
def pool_assign() -> ResponseReturnValue:
    ids = request.form.getlist("ids")
    owner = request.form.get("owner_id", "")
    if not ids or not owner:
        flash(_("Select customers and a user."), "warning")
        return redirect(url_for("pages.pool"))
    try:
        _service().assign(ids, owner)
    except NotFound:
        abort(404)
    except ApiError:
        flash(_("You may not do that."), "error")
    else:
        flash(ngettext("%(num)s customer assigned.", "%(num)s customers assigned.", len(ids)), "success")
    return redirect(url_for("pages.pool"))


@bp.post("/customers/<customer_id>/owner")
@login_required
def customer_owner(customer_id: str) -> ResponseReturnValue:
    """Release to the pool or transfer to another user, from the customer page."""
    owner = request.form.get("owner_id") or None
    try:
        if owner is None:
            _service().release(customer_id)
        else:
            _service().transfer(customer_id, owner)
    except NotFound:
        abort(404)
    except ApiError:
        flash(_("You may not do that."), "error")
    else:
        flash(_("The owner was changed."), "success")
    return redirect(url_for("pages.customers"))
