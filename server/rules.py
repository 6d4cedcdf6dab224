"""Who may see and write which records: the scope and validator plugged into ``SyncServer``.

Customers are the only root entity so far; contacts and visits follow their customer (the
registry's parent link). ``Principal.info`` is the user dict (``id``, ``role``, ...).

Scope of customers by role:
- boss, admin, sales_manager, admin_staff, finance: every customer. Managers will be limited to
  their department subtree once the org chart exists (a later issue); until then they see all.
- sales_rep: customers they own, plus the pool (``owner_id`` is null).
- purchasing, service, repair, technician: customers they own (no pool; the pool is for sales).
- warehouse: none for now (kiosks will get their warehouse's documents instead).

Validator: a sales_rep may not hand a customer to another user (the ``owner_id`` field change is
rejected and compensated) nor create a customer owned by someone else (refused). Taking a pool
customer or releasing one to the pool is allowed. Everything else is accepted.
"""
from __future__ import annotations

from typing import Any, Mapping

from sync import Principal, RecordDiff, Verdict

SEE_ALL_CUSTOMERS = frozenset({"boss", "admin", "sales_manager", "admin_staff", "finance"})
POOL_ROLES = frozenset({"sales_rep"})
NO_CUSTOMERS = frozenset({"warehouse"})


def customer_visible(user: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether ``user`` may hold the customer with these values."""
    role = user.get("role")
    if role in SEE_ALL_CUSTOMERS:
        return True
    if role in NO_CUSTOMERS:
        return False
    owner = values.get("owner_id")
    return owner == user.get("id") or (owner is None and role in POOL_ROLES)


def customer_scope_sql(user: Mapping[str, Any], alias: str | None = None) -> tuple[str, list[Any]]:
    """The same rule as a SQL condition on the customers table (for lists, counts and paging)."""
    prefix = f"{alias}." if alias else ""
    role = user.get("role")
    if role in SEE_ALL_CUSTOMERS:
        return "1", []
    if role in NO_CUSTOMERS:
        return "0", []
    if role in POOL_ROLES:
        return f"({prefix}owner_id = ? OR {prefix}owner_id IS NULL)", [user.get("id")]
    return f"{prefix}owner_id = ?", [user.get("id")]


def scope_sql(user: Mapping[str, Any], entity: str) -> tuple[str, list[Any]]:
    """``shared.web.api``'s scope hook: a condition on the (unaliased) ``customers`` table."""
    if entity != "customer":
        raise ValueError(f"no SQL scope for root entity {entity!r}")
    return customer_scope_sql(user)


class RoleScope:
    """``sync.Scope`` for root entities, by the user's role."""

    def visible(self, principal: Principal, entity: str, values: Mapping[str, Any]) -> bool:
        user = principal.info or {}
        if entity == "customer":
            return customer_visible(user, values)
        return True  # no other root entity yet: reference data is for everyone


def validate(principal: Principal, diff: RecordDiff) -> Verdict:
    """The server's rules for one pushed record (see the module docstring)."""
    user = principal.info or {}
    if diff.entity != "customer" or user.get("role") != "sales_rep":
        return Verdict.accept()
    owner_change = next((c for c in diff.changes if c.field == "owner_id"), None)
    if owner_change is None or owner_change.new in (None, user.get("id")):
        return Verdict.accept()
    if diff.is_new:
        return Verdict.refuse("owner_not_allowed")
    return Verdict.reject(owner_id="owner_not_allowed")
