"""The server's system pages: org structure, roles and the permission matrix, a user's personal
permissions, and the operation log. Views read the form and call ``server.org`` / ``server.oplog``;
every change is logged there and takes effect on the next request.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import oplog, org, users
from .auth import page_user, rights_required
from .db import get_store

bp = Blueprint("admin", __name__)

MODULE_LABELS = {
    "customers": _l("Customers"), "pool": _l("Customer pool"), "transfer": _l("Customer transfer"),
    "contacts": _l("Contacts"), "visits": _l("Visits"), "orders": _l("Sales orders"), "receipts": _l("Receipts"),
    "stock": _l("Stock"), "purchasing": _l("Purchasing"), "finance": _l("Finance"), "service": _l("Customer service"),
    "repair": _l("Repair orders"), "reports": _l("Reports"), "org": _l("Org structure"),
    "permissions": _l("Permissions"), "logs": _l("Operation log"),
}
ACTION_LABELS = {"view": _l("View"), "edit": _l("Edit"), "approve": _l("Approve")}
ROLE_LABELS = {
    "boss": _l("Boss"), "sales_manager": _l("Sales manager"), "sales_rep": _l("Sales rep"), "warehouse": _l("Warehouse"),
    "purchasing": _l("Purchasing"), "finance": _l("Finance"), "service": _l("Customer service"), "repair": _l("Repair"),
    "technician": _l("Technician"), "admin_staff": _l("Administration"), "sales_approval": _l("Sales approval"),
    "receipt_approval": _l("Receipt approval"), "admin": _l("Administrator"),
}
LOG_LABELS = {
    "login": _l("Login"), "login_failed": _l("Failed login"), "permission_change": _l("Permission change"),
    "role_change": _l("Role change"), "role_member": _l("Role membership"), "role_add": _l("Role added"),
    "role_delete": _l("Role deleted"), "user_move": _l("User moved"), "department_add": _l("Department added"),
    "department_rename": _l("Department renamed"), "department_move": _l("Department moved"),
    "department_reorder": _l("Department reordered"), "department_delete": _l("Department deleted"),
    "transfer": _l("Transfer"), "assign": _l("Assign"), "claim": _l("Claim"), "release": _l("Release"),
    "approve": _l("Approval"), "reject": _l("Rejection"), "sync_refused": _l("Refused sync"), "api_refused": _l("Refused API call"),
}


def role_label(code: str, name: str | None = None) -> str:
    return str(ROLE_LABELS[code]) if code in ROLE_LABELS else (name or code)


def _me() -> str:
    user = page_user()
    assert user is not None
    return str(user["id"])


def _user_or_404(user_id: str) -> dict[str, Any]:
    user = users.get_user(get_store(), user_id)
    if user is None:
        abort(404)
    return user


def _try(action: Any, done: str) -> None:
    try:
        action()
    except (org.OrgError, users.UserError) as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"role_label": role_label, "module_labels": MODULE_LABELS, "action_labels": ACTION_LABELS}


# ---- org structure ------------------------------------------------------------------------------
@bp.get("/org")
@rights_required("org", "view")
def org_page() -> ResponseReturnValue:
    store = get_store()
    depts = org.departments(store)
    members: dict[str, list[dict[str, Any]]] = {}
    for row in store.db.query("SELECT id, username, display_name, role, department_id, active FROM users ORDER BY username"):
        members.setdefault(row["department_id"] or depts[0]["id"], []).append(dict(row))
    me = page_user() or {}
    return render_template("org.html", depts=depts, members=members, roles=users.ROLES,
                           can_edit="org.edit" in me.get("rights", ()))


@bp.post("/org/departments")
@rights_required("org", "edit")
def department_add() -> ResponseReturnValue:
    _try(lambda: org.add_department(get_store(), request.form.get("name", ""), request.form.get("parent_id") or None, _me()),
         _("The department was added."))
    return redirect(url_for("admin.org_page"))


@bp.post("/org/departments/<dept_id>")
@rights_required("org", "edit")
def department_change(dept_id: str) -> ResponseReturnValue:
    store, op = get_store(), request.form.get("op")
    if op == "rename":
        _try(lambda: org.rename_department(store, dept_id, request.form.get("name", ""), _me()), _("The department was renamed."))
    elif op == "move":
        _try(lambda: org.move_department(store, dept_id, request.form.get("parent_id", ""), _me()), _("The department was moved."))
    elif op in ("up", "down"):
        _try(lambda: org.reorder_department(store, dept_id, -1 if op == "up" else 1, _me()), _("The order was changed."))
    elif op == "delete":
        _try(lambda: org.delete_department(store, dept_id, _me()), _("The department was deleted."))
    else:
        abort(400)
    return redirect(url_for("admin.org_page"))


@bp.post("/org/users/<user_id>")
@rights_required("org", "edit")
def user_change(user_id: str) -> ResponseReturnValue:
    store, op = get_store(), request.form.get("op")
    _user_or_404(user_id)
    if op == "move":
        _try(lambda: org.place_user(store, user_id, request.form.get("department_id", ""), _me()), _("The user was moved."))
    elif op == "role":
        _try(lambda: org.set_primary_role(store, user_id, request.form.get("role", ""), _me()), _("The role was changed."))
    else:
        abort(400)
    return redirect(url_for("admin.org_page"))


# ---- roles and the permission matrix ----------------------------------------------------------------
def _matrix_from_form() -> set[tuple[str, str]]:
    wanted = set()
    for key in request.form.getlist("right"):
        module, _sep, action = key.partition(".")
        if module in org.MODULES and action in org.ACTIONS:
            wanted.add((module, action))
    return wanted


@bp.get("/roles")
@rights_required("permissions", "view")
def roles_page() -> ResponseReturnValue:
    me = page_user() or {}
    return render_template("roles.html", roles=org.roles(get_store()), modules=org.MODULES, actions=org.ACTIONS,
                           can_edit="permissions.edit" in me.get("rights", ()))


@bp.post("/roles")
@rights_required("permissions", "edit")
def role_add() -> ResponseReturnValue:
    _try(lambda: org.add_role(get_store(), request.form.get("code", ""), request.form.get("name", ""), _me()),
         _("The role was added."))
    return redirect(url_for("admin.roles_page"))


@bp.post("/roles/<code>")
@rights_required("permissions", "edit")
def role_save(code: str) -> ResponseReturnValue:
    store = get_store()
    if request.form.get("op") == "delete":
        _try(lambda: org.delete_role(store, code, _me()), _("The role was deleted."))
    else:
        _try(lambda: org.set_role_matrix(store, code, _matrix_from_form(), _me()), _("The permissions were saved."))
    return redirect(url_for("admin.roles_page") + f"#role-{code}")


@bp.route("/users/<user_id>/permissions", methods=["GET", "POST"])
@rights_required("permissions", "view")
def user_rights(user_id: str) -> ResponseReturnValue:
    store = get_store()
    user = _user_or_404(user_id)
    me = page_user() or {}
    if request.method == "POST":
        if "permissions.edit" not in me.get("rights", ()):
            abort(403)
        wanted = _matrix_from_form()
        have = org.personal_rights(store, user_id)
        extra_roles = set(request.form.getlist("role"))
        known = {r["code"] for r in org.roles(store)}

        def save() -> None:
            with store.write():
                for module, action in sorted(wanted - have):
                    org.set_user_right(store, user_id, module, action, True, _me())
                for module, action in sorted(have - wanted):
                    org.set_user_right(store, user_id, module, action, False, _me())
                current = set(org.user_roles(store, user_id))
                for code in sorted((extra_roles & known) - current):
                    org.set_user_role(store, user_id, code, True, _me())
                for code in sorted(current - extra_roles):
                    org.set_user_role(store, user_id, code, False, _me())

        _try(save, _("The personal permissions were saved."))
        return redirect(url_for("admin.user_rights", user_id=user_id))
    roles = [r for r in org.roles(store) if r["code"] != user["role"]]
    return render_template("user_rights.html", user=user, roles=roles, member_of=set(org.user_roles(store, user_id)),
                           personal={f"{m}.{a}" for m, a in org.personal_rights(store, user_id)},
                           effective=org.rights(store, user), modules=org.MODULES, actions=org.ACTIONS,
                           can_edit="permissions.edit" in me.get("rights", ()))


# ---- operation log ----------------------------------------------------------------------------------
@bp.get("/log")
@rights_required("logs", "view")
def log_page() -> ResponseReturnValue:
    filters = {k: (request.args.get(k) or "").strip()[:100] or None for k in ("user", "action", "day_from", "day_to")}
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    size = int(current_app.config["PAGE_SIZE"])
    rows, total = oplog.query(get_store(), limit=size, offset=(page - 1) * size, **filters)
    pager = {"page": page, "pages": max(1, -(-total // size)), "total": total}
    return render_template("oplog.html", rows=rows, pager=pager, filters=filters, actions=oplog.ACTIONS,
                           labels=LOG_LABELS, users=users.list_users(get_store()))
