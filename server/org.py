"""The organisation: departments (a tree under the company), roles, the permission matrix,
personal permissions, and what a user may do (no HTTP here).

A user has one primary role (``users.role``, a code from ``users.ROLES``) and may belong to more
roles (``user_roles``: the approval roles, custom roles). Their rights are the union of every
role's rows in ``role_permissions`` plus their own rows in ``user_permissions``; the built-in
``admin`` account holds every right. Rights are read from the database on every request, so a
change takes effect on the next one. Changes that move customers between scopes (a user's
department or role, a right that opens the pool) bump the sync scope epoch so devices re-scope
on their next pull. Every change is written to the operation log (``server.oplog``).
"""
from __future__ import annotations

from typing import Any, Iterable

from sync import ServerStore, new_id
from sync.clock import iso_from_ms

from . import directory, oplog

MODULES: tuple[str, ...] = (
    "customers", "pool", "transfer", "contacts", "visits", "products", "opportunities", "quotes", "orders",
    "receipts", "targets", "stock", "purchasing", "finance", "service", "repair", "reports", "org", "permissions", "logs",
)
ACTIONS: tuple[str, ...] = ("view", "edit", "approve")
#: Roles that exist by default and can never be deleted (the manual: 销售审核, 收款审核).
APPROVAL_ROLES: tuple[str, ...] = ("sales_approval", "receipt_approval")
ROLE_NAMES: dict[str, str] = {
    "boss": "Boss", "sales_manager": "Sales manager", "sales_rep": "Sales rep", "warehouse": "Warehouse",
    "purchasing": "Purchasing", "finance": "Finance", "service": "Customer service", "repair": "Repair",
    "technician": "Technician", "admin_staff": "Administration", "sales_approval": "Sales approval",
    "receipt_approval": "Receipt approval",
}

_V, _VE, _VEA, _VA = ("view",), ("view", "edit"), ("view", "edit", "approve"), ("view", "approve")
DEFAULT_RIGHTS: dict[str, dict[str, tuple[str, ...]]] = {
    "boss": {m: _VEA for m in MODULES},
    "sales_manager": {"customers": _VE, "pool": _VE, "transfer": _VEA, "contacts": _VE, "visits": _VE,
                      "orders": _VE, "receipts": _VE, "stock": _V, "reports": _V},
    "sales_rep": {"customers": _VE, "pool": _VE, "contacts": _VE, "visits": _VE, "orders": _VE,
                  "receipts": _VE, "stock": _V},
    "warehouse": {"stock": _VE, "orders": _V, "purchasing": _V},
    "purchasing": {"purchasing": _VE, "stock": _V},
    "finance": {"finance": _VEA, "receipts": _V, "orders": _V, "customers": _V, "reports": _V},
    "service": {"service": _VE, "customers": _V, "contacts": _V, "visits": _VE},
    "repair": {"repair": _VE, "service": _V, "stock": _V},
    "technician": {"repair": _VE, "service": _V},
    "admin_staff": {"org": _VE, "permissions": _VE, "logs": _V, "customers": _V},
    "sales_approval": {"orders": _VA},
    "receipt_approval": {"receipts": _VA},
}
#: The sales modules (products, opportunities, quotes, targets), merged into the defaults above.
SALES_RIGHTS: dict[str, dict[str, tuple[str, ...]]] = {
    "sales_manager": {"products": _V, "opportunities": _VE, "quotes": _VE, "targets": _VE},
    "sales_rep": {"products": _V, "opportunities": _VE, "quotes": _VE, "targets": _V},
    "warehouse": {"products": _V}, "purchasing": {"products": _VE},
    "finance": {"products": _V, "quotes": _V, "targets": _V}, "admin_staff": {"products": _VE},
}
for _role, _rights in SALES_RIGHTS.items():
    DEFAULT_RIGHTS[_role].update(_rights)


class OrgError(ValueError):
    """An org or permission change was refused (unknown department, protected role, cycle...)."""


def _now(store: ServerStore) -> str:
    return iso_from_ms(store.now_ms())


def seed(store: ServerStore) -> None:
    """Create the company root and the default roles with their rights (run by a migration)."""
    db = store.db
    if db.execute("SELECT count(*) FROM departments").fetchone()[0] == 0:
        db.execute("INSERT INTO departments (id, parent_id, name, position, created_at) VALUES (?, NULL, ?, 0, ?)",
                   [new_id(), "Company", _now(store)])
    for code, name in ROLE_NAMES.items():
        cur = db.execute("INSERT OR IGNORE INTO roles (code, name, builtin, deletable) VALUES (?, ?, 1, 0)", [code, name])
        if not cur.rowcount:
            continue  # rights were seeded once; the admin's edits since then stand
        for module, actions in DEFAULT_RIGHTS.get(code, {}).items():
            for action in actions:
                db.execute("INSERT OR IGNORE INTO role_permissions VALUES (?, ?, ?)", [code, module, action])


# ---- departments -------------------------------------------------------------------------------
def root(store: ServerStore) -> dict[str, Any]:
    row = dict(next(iter(store.db.query("SELECT * FROM departments WHERE parent_id IS NULL ORDER BY created_at LIMIT 1"))))
    return {**row, "depth": 0, "path": ""}


def departments(store: ServerStore) -> list[dict[str, Any]]:
    """Every department in tree order (depth-first by position), each with ``depth`` and ``path``."""
    rows = [dict(r) for r in store.db.query("SELECT * FROM departments ORDER BY position, name")]
    children: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row)
    out: list[dict[str, Any]] = []

    def walk(parent: str | None, depth: int, path: str) -> None:
        for row in children.get(parent, []):
            row["depth"] = depth
            row["path"] = "" if depth == 0 else (f"{path}/{row['name']}" if path else row["name"])
            out.append(row)
            walk(row["id"], depth + 1, row["path"])

    walk(None, 0, "")
    return out


def department(store: ServerStore, department_id: str) -> dict[str, Any]:
    found = next((d for d in departments(store) if d["id"] == department_id), None)
    if found is None:
        raise OrgError(f"No department {department_id!r}.")
    return found


def subtree_ids(store: ServerStore, department_id: str) -> list[str]:
    return [r[0] for r in store.db.execute(
        "WITH RECURSIVE t(id) AS (SELECT ? UNION SELECT d.id FROM departments d JOIN t ON d.parent_id = t.id) SELECT id FROM t",
        [department_id])]


def add_department(store: ServerStore, name: str, parent_id: str | None = None, actor: str | None = None) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or "/" in name or len(name) > 100:
        raise OrgError("A department name must be 1-100 characters without '/'.")
    with store.write():
        parent = department(store, parent_id) if parent_id else root(store)
        if store.db.execute("SELECT 1 FROM departments WHERE parent_id = ? AND name = ?", [parent["id"], name]).fetchone():
            raise OrgError(f"{parent['name']!r} already has a department named {name!r}.")
        (position,) = store.db.execute("SELECT coalesce(max(position), -1) + 1 FROM departments WHERE parent_id = ?", [parent["id"]]).fetchone()
        dept_id = new_id()
        store.db.execute("INSERT INTO departments (id, parent_id, name, position, created_at) VALUES (?, ?, ?, ?, ?)",
                         [dept_id, parent["id"], name, position, _now(store)])
        oplog.record(store, actor, "department_add", dept_id, {"name": name, "parent": parent["name"]})
    return department(store, dept_id)


def rename_department(store: ServerStore, department_id: str, name: str, actor: str | None = None) -> None:
    name = (name or "").strip()
    if not name or "/" in name or len(name) > 100:
        raise OrgError("A department name must be 1-100 characters without '/'.")
    with store.write():
        department(store, department_id)
        store.db.execute("UPDATE departments SET name = ? WHERE id = ?", [name, department_id])
        _refresh_user_paths(store)
        oplog.record(store, actor, "department_rename", department_id, {"name": name})


def move_department(store: ServerStore, department_id: str, parent_id: str, actor: str | None = None) -> None:
    """Put a department under another one (not under itself or its own subtree)."""
    with store.write():
        dept = department(store, department_id)
        if dept["parent_id"] is None:
            raise OrgError("The company itself cannot be moved.")
        if parent_id in subtree_ids(store, department_id):
            raise OrgError("A department cannot be moved into its own subtree.")
        department(store, parent_id)
        (position,) = store.db.execute("SELECT coalesce(max(position), -1) + 1 FROM departments WHERE parent_id = ?", [parent_id]).fetchone()
        store.db.execute("UPDATE departments SET parent_id = ?, position = ? WHERE id = ?", [parent_id, position, department_id])
        _refresh_user_paths(store)
        oplog.record(store, actor, "department_move", department_id, {"parent": parent_id})
        store.bump_scope_epoch()


def reorder_department(store: ServerStore, department_id: str, delta: int, actor: str | None = None) -> None:
    """Move a department up (-1) or down (+1) among its siblings."""
    with store.write():
        dept = department(store, department_id)
        siblings = [r["id"] for r in store.db.query(
            "SELECT id FROM departments WHERE parent_id IS ? ORDER BY position, name", [dept["parent_id"]])]
        i = siblings.index(department_id)
        j = max(0, min(len(siblings) - 1, i + delta))
        siblings.insert(j, siblings.pop(i))
        store.db.conn.executemany("UPDATE departments SET position = ? WHERE id = ?", [(n, s) for n, s in enumerate(siblings)])
        oplog.record(store, actor, "department_reorder", department_id, {"position": j})


def delete_department(store: ServerStore, department_id: str, actor: str | None = None) -> None:
    """Delete an empty department (no sub-departments, no users)."""
    with store.write():
        dept = department(store, department_id)
        if dept["parent_id"] is None:
            raise OrgError("The company itself cannot be deleted.")
        if store.db.execute("SELECT 1 FROM departments WHERE parent_id = ?", [department_id]).fetchone():
            raise OrgError("Move or delete its sub-departments first.")
        if store.db.execute("SELECT 1 FROM users WHERE department_id = ?", [department_id]).fetchone():
            raise OrgError("Move its users to another department first.")
        store.db.execute("DELETE FROM departments WHERE id = ?", [department_id])
        oplog.record(store, actor, "department_delete", department_id, {"name": dept["name"]})


def resolve_path(store: ServerStore, path: str, create: bool = False, actor: str | None = None) -> dict[str, Any]:
    """The department at ``Sales/East`` under the company (created level by level if ``create``)."""
    parts = [p.strip() for p in (path or "").split("/") if p.strip()]
    with store.write():
        current = root(store)
        for part in parts:
            found = store.db.execute("SELECT id FROM departments WHERE parent_id = ? AND name = ?", [current["id"], part]).fetchone()
            if found is None:
                if not create:
                    raise OrgError(f"No department {path!r}.")
                current = add_department(store, part, current["id"], actor)
            else:
                current = department(store, found[0])
        return current


def _refresh_user_paths(store: ServerStore) -> None:
    paths = {d["id"]: d["path"] or None for d in departments(store)}
    for user_id, dept_id in store.db.execute("SELECT id, department_id FROM users WHERE department_id IS NOT NULL").fetchall():
        store.db.execute("UPDATE users SET department = ? WHERE id = ?", [paths.get(dept_id), user_id])
    directory.refresh(store)


def place_user(store: ServerStore, user_id: str, department_id: str, actor: str | None = None) -> None:
    """Put a user in a department (a move: managers' and their own scopes change)."""
    with store.write():
        dept = department(store, department_id)
        old = store.db.execute("SELECT department FROM users WHERE id = ?", [user_id]).fetchone()
        if old is None:
            raise OrgError(f"No user {user_id!r}.")
        store.db.execute("UPDATE users SET department_id = ?, department = ? WHERE id = ?", [dept["id"], dept["path"] or None, user_id])
        oplog.record(store, actor, "user_move", user_id, {"from": old[0], "to": dept["path"]})
        directory.refresh(store, user_id)
        store.bump_scope_epoch()


def team_ids(store: ServerStore, department_id: str | None) -> frozenset[str]:
    """Every user in the department's subtree."""
    if not department_id:
        return frozenset()
    ids = subtree_ids(store, department_id)
    marks = ", ".join("?" for _ in ids)
    return frozenset(r[0] for r in store.db.execute(f"SELECT id FROM users WHERE department_id IN ({marks})", ids))


# ---- roles and rights --------------------------------------------------------------------------
def roles(store: ServerStore) -> list[dict[str, Any]]:
    out = []
    for row in store.db.query("SELECT * FROM roles ORDER BY builtin DESC, rowid"):
        role = dict(row)
        role["rights"] = {(m, a) for m, a in store.db.execute(
            "SELECT module, action FROM role_permissions WHERE role_code = ?", [role["code"]])}
        role["members"] = [r[0] for r in store.db.execute(
            "SELECT u.username FROM users u WHERE u.role = ? UNION SELECT u.username FROM user_roles r JOIN users u ON u.id = r.user_id"
            " WHERE r.role_code = ? ORDER BY 1", [role["code"], role["code"]])]
        out.append(role)
    return out


def _role(store: ServerStore, code: str) -> dict[str, Any]:
    rows = list(store.db.query("SELECT * FROM roles WHERE code = ?", [code]))
    if not rows:
        raise OrgError(f"Unknown role {code!r}.")
    return dict(rows[0])


def _check_right(module: str, action: str) -> None:
    if module not in MODULES:
        raise OrgError(f"Unknown module {module!r}; use one of: {', '.join(MODULES)}.")
    if action not in ACTIONS:
        raise OrgError(f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.")


def add_role(store: ServerStore, code: str, name: str, actor: str | None = None) -> None:
    code, name = (code or "").strip(), (name or "").strip()
    if not code.replace("_", "").isalnum() or not code.isascii() or len(code) > 40 or not name:
        raise OrgError("A role needs a code (letters, digits, _) and a name.")
    with store.write():
        if store.db.execute("SELECT 1 FROM roles WHERE code = ?", [code]).fetchone():
            raise OrgError(f"A role {code!r} already exists.")
        store.db.execute("INSERT INTO roles (code, name, builtin, deletable) VALUES (?, ?, 0, 1)", [code, name])
        oplog.record(store, actor, "role_add", code, {"name": name})


def delete_role(store: ServerStore, code: str, actor: str | None = None) -> None:
    with store.write():
        role = _role(store, code)
        if not role["deletable"]:
            raise OrgError(f"The role {code!r} is built in and cannot be deleted.")
        store.db.execute("DELETE FROM role_permissions WHERE role_code = ?", [code])
        store.db.execute("DELETE FROM user_roles WHERE role_code = ?", [code])
        store.db.execute("DELETE FROM roles WHERE code = ?", [code])
        oplog.record(store, actor, "role_delete", code, {})
        store.bump_scope_epoch()


def set_role_right(store: ServerStore, code: str, module: str, action: str, granted: bool, actor: str | None = None) -> bool:
    """Grant or revoke one cell of the matrix; True if it changed."""
    _check_right(module, action)
    with store.write():
        _role(store, code)
        if granted:
            cur = store.db.execute("INSERT OR IGNORE INTO role_permissions VALUES (?, ?, ?)", [code, module, action])
        else:
            cur = store.db.execute("DELETE FROM role_permissions WHERE role_code = ? AND module = ? AND action = ?", [code, module, action])
        if cur.rowcount:
            oplog.record(store, actor, "permission_change", code, {"module": module, "action": action, "granted": granted})
            store.bump_scope_epoch()
        return bool(cur.rowcount)


def set_role_matrix(store: ServerStore, code: str, rights: Iterable[tuple[str, str]], actor: str | None = None) -> int:
    """Make the role hold exactly ``rights``; return how many cells changed."""
    wanted = set(rights)
    for module, action in wanted:
        _check_right(module, action)
    changed = 0
    with store.write():
        have = {(m, a) for m, a in store.db.execute("SELECT module, action FROM role_permissions WHERE role_code = ?", [code])}
        for module, action in sorted(wanted - have):
            changed += set_role_right(store, code, module, action, True, actor)
        for module, action in sorted(have - wanted):
            changed += set_role_right(store, code, module, action, False, actor)
    return changed


def set_user_right(store: ServerStore, user_id: str, module: str, action: str, granted: bool, actor: str | None = None) -> bool:
    """A personal permission, on top of the user's roles."""
    _check_right(module, action)
    with store.write():
        if granted:
            cur = store.db.execute("INSERT OR IGNORE INTO user_permissions VALUES (?, ?, ?)", [user_id, module, action])
        else:
            cur = store.db.execute("DELETE FROM user_permissions WHERE user_id = ? AND module = ? AND action = ?", [user_id, module, action])
        if cur.rowcount:
            oplog.record(store, actor, "permission_change", user_id, {"module": module, "action": action, "granted": granted, "personal": True})
            store.bump_scope_epoch()
        return bool(cur.rowcount)


def set_user_role(store: ServerStore, user_id: str, code: str, member: bool, actor: str | None = None) -> bool:
    """Add the user to (or remove them from) an extra role such as ``sales_approval``."""
    with store.write():
        _role(store, code)
        if member:
            cur = store.db.execute("INSERT OR IGNORE INTO user_roles VALUES (?, ?)", [user_id, code])
        else:
            cur = store.db.execute("DELETE FROM user_roles WHERE user_id = ? AND role_code = ?", [user_id, code])
        if cur.rowcount:
            oplog.record(store, actor, "role_member", user_id, {"role": code, "member": member})
            store.bump_scope_epoch()
        return bool(cur.rowcount)


def set_primary_role(store: ServerStore, user_id: str, code: str, actor: str | None = None) -> None:
    from .users import ROLES

    if code not in ROLES:
        raise OrgError(f"Unknown role {code!r}; use one of: {', '.join(ROLES)}.")
    with store.write():
        old = store.db.execute("SELECT role FROM users WHERE id = ?", [user_id]).fetchone()
        if old is None:
            raise OrgError(f"No user {user_id!r}.")
        if old[0] == "admin":
            raise OrgError("The built-in admin keeps its role.")
        store.db.execute("UPDATE users SET role = ? WHERE id = ?", [code, user_id])
        oplog.record(store, actor, "role_change", user_id, {"from": old[0], "to": code})
        directory.refresh(store, user_id)
        store.bump_scope_epoch()


def user_roles(store: ServerStore, user_id: str) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT role_code FROM user_roles WHERE user_id = ? ORDER BY role_code", [user_id])]


def personal_rights(store: ServerStore, user_id: str) -> set[tuple[str, str]]:
    return {(m, a) for m, a in store.db.execute("SELECT module, action FROM user_permissions WHERE user_id = ?", [user_id])}


def rights(store: ServerStore, user: dict[str, Any]) -> frozenset[str]:
    """Every ``module.action`` the user holds (role rights, extra roles, personal rights)."""
    if user.get("role") == "admin":
        return frozenset(f"{m}.{a}" for m in MODULES for a in ACTIONS)
    rows = store.db.execute(
        "SELECT module, action FROM role_permissions WHERE role_code = ?"
        " OR role_code IN (SELECT role_code FROM user_roles WHERE user_id = ?)"
        " UNION SELECT module, action FROM user_permissions WHERE user_id = ?",
        [user.get("role"), user.get("id"), user.get("id")])
    return frozenset(f"{m}.{a}" for m, a in rows)


def enrich(store: ServerStore, user: dict[str, Any]) -> dict[str, Any]:
    """The user dict the rules read: plus ``rights`` and ``team`` (their department subtree's users)."""
    row = store.db.execute("SELECT department_id FROM users WHERE id = ?", [user.get("id")]).fetchone()
    dept = row[0] if row else None
    team = team_ids(store, dept) | {user["id"]} if user.get("role") == "sales_manager" else frozenset({user["id"]})
    return {**user, "department_id": dept, "rights": rights(store, user), "team": team}
