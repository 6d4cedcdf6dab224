"""Reading the replicated customer policy and applying it: levels, next contact from a level,
the duplicate check over the configured fields. HTTP-free; the server and the client both call it
on their own replica (so it works offline). Writing the policy is the server's (``server.policy``).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from sync import ReplicaStore

from .schemas.policy import DUPLICATE_FIELDS, POLICY_ID

#: What the duplicate check compares while nobody has set the policy.
DEFAULT_DUPLICATE_FIELDS = ("name", "phone", "mobile")


def levels(store: ReplicaStore) -> list[dict[str, Any]]:
    """Live customer levels in their display order."""
    return list(store.db.query(
        "SELECT * FROM customer_levels WHERE coalesce(deleted, 0) = 0 ORDER BY ordering, code"))


def level(store: ReplicaStore, code: str | None) -> dict[str, Any] | None:
    """The live level with this code, or None."""
    if not code:
        return None
    rows = list(store.db.query(
        "SELECT * FROM customer_levels WHERE code = ? AND coalesce(deleted, 0) = 0 ORDER BY id LIMIT 1", [code]))
    return rows[0] if rows else None


def settings(store: ReplicaStore) -> dict[str, Any]:
    """The policy settings: ``duplicate_fields`` (tuple), ``owner_cap`` and ``idle_days`` (None: off)."""
    row = store.db.execute(
        "SELECT duplicate_fields, owner_cap, idle_days FROM customer_policies WHERE id = ? AND coalesce(deleted, 0) = 0",
        [POLICY_ID]).fetchone()
    if row is None:
        return {"duplicate_fields": DEFAULT_DUPLICATE_FIELDS, "owner_cap": None, "idle_days": None}
    chosen = tuple(f for f in DUPLICATE_FIELDS if f in (row[0] or "").split(","))
    return {"duplicate_fields": chosen, "owner_cap": row[1], "idle_days": row[2]}


def next_contact_from_level(store: ReplicaStore, level_code: str | None, visited_at: str) -> str | None:
    """``visited_at`` plus the level's reminder interval (ISO, same offset), or None without one."""
    found = level(store, level_code)
    if not found or not found.get("reminder_days"):
        return None
    try:
        moment = datetime.fromisoformat(str(visited_at))
    except ValueError:
        return None
    return (moment + timedelta(days=int(found["reminder_days"]))).isoformat(timespec="seconds")


def fill_next_contact(store: ReplicaStore, customer: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Give a visit without a next contact time the one its customer's level suggests (in place)."""
    if values.get("next_contact_at") or not values.get("visited_at"):
        return
    suggested = next_contact_from_level(store, customer.get("level"), values["visited_at"])
    if suggested:
        values["next_contact_at"] = suggested


def _norm(value: Any) -> str:
    return str(value or "").strip().lower()


def find_duplicates(store: ReplicaStore, values: Mapping[str, Any], fields: Sequence[str] | None = None,
                    exclude_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Live customers equal on any of ``fields`` (default: the policy's), ignoring case and spaces."""
    fields = settings(store)["duplicate_fields"] if fields is None else fields
    clauses, params = [], []
    for name in fields:
        if name not in DUPLICATE_FIELDS:
            continue
        value = _norm(values.get(name))
        if value:
            clauses.append(f"lower(trim({name})) = ?")
            params.append(value)
    if not clauses:
        return []
    sql = f"SELECT * FROM customers WHERE coalesce(deleted, 0) = 0 AND ({' OR '.join(clauses)})"
    if exclude_id:
        sql += " AND id != ?"
        params.append(exclude_id)
    rows = list(store.db.query(sql + " ORDER BY name, id LIMIT ?", [*params, limit]))
    for row in rows:
        row["matched"] = [n for n in fields if n in DUPLICATE_FIELDS and _norm(values.get(n)) and _norm(row.get(n)) == _norm(values.get(n))]
    return rows
