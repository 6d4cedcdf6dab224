"""Who may see and write which records: the scope and validator plugged into ``SyncServer``, and
the same rules as SQL for the REST API and pages.

``Principal.info`` (and every API user) is the user dict enriched by ``server.org.enrich``:
``role``, ``rights`` (``module.action`` strings, read from the database on every request) and
``team`` (the ids of the users in a sales manager's department subtree, themselves included).

Scope of customers:
- boss, admin, admin_staff, finance: every customer;
- sales_manager: customers owned by their team, plus the pool (``owner_id`` null) if they hold
  ``pool.view``;
- sales_rep: their own, plus the pool if they hold ``pool.view``;
- purchasing, service, repair, technician: their own; warehouse: none.

Owner changes (``owner_id``; old = the server's current owner):
- claim (pool → me): needs ``pool.edit``; a customer that is no longer in the pool at the server
  is answered with ``already_claimed`` (first accepted claim wins);
- release (mine → pool): ``pool.edit``; releasing someone else's needs ``transfer.approve``;
- transfer / assign (→ another user): ``transfer.approve`` for any customer in scope to a user in
  scope (a manager: their team), or ``transfer.edit`` for one's own customers (to anyone);
- any other field change of a customer, contact or visit needs ``<module>.edit``.
"""
from __future__ import annotations

from typing import Any, Mapping

from sync import Principal, RecordDiff, ServerStore, Verdict, new_id
from sync.clock import iso_from_ms
from sync.document import RecordDocument, change_hash
from sync.protocol import PushRequestSchema, load

from . import oplog, sales, stock

SEE_ALL_CUSTOMERS = frozenset({"boss", "admin", "admin_staff", "finance"})
POOL_ROLES = frozenset({"sales_rep", "sales_manager"})
NO_CUSTOMERS = frozenset({"warehouse"})
ENTITY_MODULE = {"customer": "customers", "contact": "contacts", "visit": "visits", "visit_void": "visits"}
#: Roles that receive purchase costs (``product_cost``) besides anyone holding purchasing or finance rights.
COST_ROLES = frozenset({"boss", "admin"})


def can(user: Mapping[str, Any], module: str, action: str) -> bool:
    """Whether the (enriched) user holds ``module.action``."""
    return f"{module}.{action}" in (user.get("rights") or ())


def sees_costs(user: Mapping[str, Any]) -> bool:
    """Whether the user may see purchase costs (boss, admin, purchasing or finance rights)."""
    return user.get("role") in COST_ROLES or can(user, "purchasing", "view") or can(user, "finance", "view")


def _sees_pool(user: Mapping[str, Any]) -> bool:
    return user.get("role") in POOL_ROLES and can(user, "pool", "view")


def owner_in_scope(user: Mapping[str, Any], owner: str | None) -> bool:
    """Whether a customer owned by ``owner`` (None: the pool) is in the user's scope."""
    role = user.get("role")
    if role in SEE_ALL_CUSTOMERS:
        return True
    if role in NO_CUSTOMERS:
        return False
    if owner is None:
        return _sees_pool(user)
    if role == "sales_manager":
        return owner in (user.get("team") or ())
    return owner == user.get("id")


def customer_visible(user: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether ``user`` may hold the customer with these values."""
    return owner_in_scope(user, values.get("owner_id"))


def customer_scope_sql(user: Mapping[str, Any], alias: str | None = None) -> tuple[str, list[Any]]:
    """The same rule as a SQL condition on the customers table (for lists, counts and paging)."""
    prefix = f"{alias}." if alias else ""
    role = user.get("role")
    if role in SEE_ALL_CUSTOMERS:
        return "1", []
    if role in NO_CUSTOMERS:
        return "0", []
    owners = sorted(user.get("team") or ()) if role == "sales_manager" else [user.get("id")]
    owners = owners or [user.get("id")]
    cond = f"{prefix}owner_id IN ({', '.join('?' for _ in owners)})"
    if _sees_pool(user):
        cond = f"({cond} OR {prefix}owner_id IS NULL)"
    return cond, list(owners)


def scope_sql(user: Mapping[str, Any], entity: str) -> tuple[str, list[Any]]:
    """``shared.web.api``'s scope hook: a condition on the (unaliased) ``customers`` table."""
    if entity != "customer":
        raise ValueError(f"no SQL scope for root entity {entity!r}")
    return customer_scope_sql(user)


def permits(user: Mapping[str, Any], module: str, action: str) -> bool:
    """``shared.web.api``'s permission hook."""
    return can(user, module, action)


class RoleScope:
    """``sync.Scope`` for root entities, by the user's role, team and rights."""

    def visible(self, principal: Principal, entity: str, values: Mapping[str, Any]) -> bool:
        user = principal.info or {}
        if entity == "customer":
            return customer_visible(user, values)
        if entity == "product_cost":
            return sees_costs(user)
        if entity == "sales_target":
            return values.get("user_id") == user.get("id") or owner_in_scope(user, values.get("user_id"))
        if entity == "user_rights":
            return values.get("user_id") == user.get("id")
        seen = stock.visible(user, entity, values)
        if seen is not None:
            return seen
        return True  # reference data (products, categories, stages, levels, directory) is for everyone


def owner_change_verdict(user: Mapping[str, Any], old: str | None, new: str | None, is_new: bool,
                         user_exists: Any = lambda user_id: True) -> str | None:
    """Why the user may not move a customer from owner ``old`` to ``new`` (None: allowed)."""
    me = user.get("id")
    if is_new:
        if new in (None, me) or (can(user, "transfer", "approve") and owner_in_scope(user, new) and user_exists(new)):
            return None
        return "owner_not_allowed"
    if new == me and old is None:
        return None if can(user, "pool", "edit") else "no_permission"
    if new == me:  # someone else owns it by now
        if can(user, "transfer", "approve") and owner_in_scope(user, old):
            return None
        return "already_claimed"
    if new is None:
        if old == me:
            return None if can(user, "pool", "edit") else "no_permission"
        return None if can(user, "transfer", "approve") and owner_in_scope(user, old) else "release_not_allowed"
    if not user_exists(new):
        return "unknown_owner"
    if can(user, "transfer", "approve") and owner_in_scope(user, old) and owner_in_scope(user, new):
        return None
    if old == me and can(user, "transfer", "edit"):
        return None
    return "owner_not_allowed"


def owner_action(me: str | None, old: str | None, new: str | None) -> str:
    """The operation-log action of an accepted owner change."""
    if old is None:
        return "claim" if new == me else "assign"
    return "release" if new is None else "transfer"


class Rules:
    """The server's validator for pushed records (see the module docstring); logs owner changes."""

    def __init__(self, store: ServerStore) -> None:
        self.store = store

    def _user_exists(self, user_id: str | None) -> bool:
        return bool(user_id) and self.store.db.execute(
            "SELECT 1 FROM users WHERE id = ? AND active = 1", [user_id]).fetchone() is not None

    def __call__(self, principal: Principal, diff: RecordDiff) -> Verdict:
        user = principal.info or {}
        judged = stock.verdict(self.store, user, lambda m, a: can(user, m, a), diff)
        if judged is not None:
            return judged
        if diff.entity in sales.ENTITY_MODULE:
            return sales.verdict(self.store, user, lambda m, a: can(user, m, a),
                                 lambda owner: owner is not None and owner_in_scope(user, owner), diff)
        module = ENTITY_MODULE.get(diff.entity)
        if module is None:  # server-owned (the org directory) or unknown to the rules: nobody pushes it
            if diff.is_new:
                return Verdict.refuse("no_permission")
            return Verdict(rejected_fields={c.field: "no_permission" for c in diff.changes})  # restored everywhere
        if not can(user, module, "edit"):
            if diff.is_new or diff.entity != "customer":
                return Verdict.refuse("no_permission")
            return Verdict(rejected_fields={c.field: "no_permission" for c in diff.changes})
        if diff.entity != "customer":
            return Verdict.accept()
        owner = next((c for c in diff.changes if c.field == "owner_id"), None)
        if owner is None:
            return Verdict.accept()
        reason = owner_change_verdict(user, owner.old, owner.new, diff.is_new, self._user_exists)
        if reason and diff.is_new:
            return Verdict.refuse(reason)
        if reason:
            return Verdict.reject(owner_id=reason)
        if not diff.is_new:
            oplog.record(self.store, principal.user_id, owner_action(principal.user_id, owner.old, owner.new),
                         diff.record_id, {"from": owner.old, "to": owner.new, "device": principal.device_id})
        return Verdict.accept()


def _pushed_edit(store: ServerStore, record_id: str, changes: list[bytes]) -> dict[str, Any] | None:
    """The fields the pushed changes set, with the device's values (None if unreadable)."""
    row = store.db.execute("SELECT data, heads FROM sync_docs WHERE entity = 'customer' AND id = ?", [record_id]).fetchone()
    if row is None:
        return None
    try:
        doc = RecordDocument.load(row[0], bytes(16))
        server_heads = doc.heads()
        doc.apply(changes, base=row[0])
        pushed = {change_hash(c) for c in changes}
        infos = [i for i in doc.changes_since(server_heads) if i.hash in pushed] or \
            [i for i in doc.changes_since([]) if i.hash in pushed]
        if not infos:
            return None
        pushed_deps = [d for i in infos for d in i.deps if d not in pushed]
        before = doc.values(pushed_deps) if pushed_deps else {}
        # the device's own view (its last change), not the merge: a concurrent owner may win that
        after = doc.values([change_hash(changes[-1])])
    except Exception:  # missing dependencies, bad bytes: the engine already answered those
        return None
    return {k: v for k, v in after.items() if not k.startswith("_") and before.get(k) != v}


def explain_refusals(store: ServerStore, principal: Principal, rejections: list[dict[str, Any]],
                     message: Any) -> list[dict[str, Any]]:
    """Field rejections for pushed customer edits the scope refused whole, with the pushed values.

    An edit that arrives for a record no longer in the pusher's scope (transferred, or claimed by
    someone else first) is refused whole by the engine (``out_of_scope``, the device drops its
    copy) before the validator sees it. The device must still learn *why* and keep *what* it
    could not deliver: for every field the pushed changes set, this adds (and logs for the device,
    so a lost answer still delivers it) a field rejection whose detail holds the device's value —
    reason ``already_claimed`` for an offline claim of a customer another user owns by now,
    ``out_of_scope`` for any other edit.
    """
    refused = {r["record_id"] for r in rejections if r.get("entity") == "customer" and r.get("reason") == "out_of_scope"}
    if not refused:
        return []
    try:
        items = load(PushRequestSchema(), message)["items"]
    except Exception:
        return []
    extra = []
    for item in items:
        record_id = item["record_id"]
        if item["entity"] != "customer" or record_id not in refused or not item.get("changes"):
            continue
        row = store.db.execute("SELECT owner_id FROM customers WHERE id = ?", [record_id]).fetchone()
        held = store.db.execute("SELECT 1 FROM sync_device_records WHERE device_id = ? AND entity = 'customer'"
                                " AND record_id = ?", [principal.device_id, record_id]).fetchone()
        if row is None or held is None:  # echo values only to a device that held the record (no forged probes)
            continue
        edit = _pushed_edit(store, record_id, item["changes"])
        if not edit:
            continue
        refused.discard(record_id)
        claimed = edit.get("owner_id", ...) == principal.user_id and row[0] not in (None, principal.user_id)
        for name, value in sorted(edit.items()):
            if name in ("updated_at", "created_at"):
                continue
            extra.append({
                "id": new_id(), "entity": "customer", "record_id": record_id, "field": name, "kind": "field",
                "reason": "already_claimed" if claimed and name == "owner_id" else "out_of_scope",
                "detail": {"value": value}, "created_at": iso_from_ms(store.now_ms()),
            })
    if extra:
        with store.write():
            for rejection in extra:
                store.log_rejection(rejection, principal.device_id)
    return extra


def owner_rule(store: ServerStore) -> Any:
    """``shared.web.api``'s owner hook for the server's own writes (REST, pages): same rules, logged."""

    def rule(user: Mapping[str, Any], customer_id: str, old: str | None, new: str | None, is_new: bool) -> str | None:
        exists = Rules(store)._user_exists
        reason = owner_change_verdict(user, old, new, is_new, exists)
        if reason is None and not is_new:
            oplog.record(store, user.get("id"), owner_action(user.get("id"), old, new), customer_id, {"from": old, "to": new})
        return reason

    return rule
