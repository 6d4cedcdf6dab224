"""Idle customer recycling (闲置客户回收): customers nobody contacted for N days go back to the pool.

N is the customer's level's ``idle_days`` (else the policy's default ``idle_days``; neither set:
never recycled). "Contacted" is the latest of: a visit that was not voided, the customer's
creation, and the last time it changed hands (claim, assign, transfer in the operation log), so
a customer claimed yesterday is not recycled today. The owner change is a server change: devices
pull it and the former owner's device evicts the customer. Each owner gets one notification per
customer (``idle_recycled``).

Exemptions are pluggable: ``EXEMPTIONS`` holds predicates ``(store, customer_row, now) -> bool``.
``server.sales`` adds "has an open opportunity" and "has an order in the last 90 days". Takes
``now``; never reads the clock.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from shared import policy
from sync import ServerStore

from . import notifications, oplog, sales
from .policy import SYSTEM_AUTHOR

Exemption = Callable[[ServerStore, dict[str, Any], datetime], bool]
EXEMPTIONS: list[Exemption] = [sales.has_open_opportunity, sales.has_recent_order]


def _moment(value: Any, tz: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def last_contact(store: ServerStore, customer: dict[str, Any], tz: Any = timezone.utc) -> datetime | None:
    """The latest visit (not voided), creation or change of owner of the customer."""
    moments = [_moment(customer.get("created_at"), tz)]
    for (visited_at,) in store.db.execute(
        "SELECT visited_at FROM visits v WHERE v.customer_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM visit_voids w WHERE w.visit_id = v.id)", [customer["id"]]
    ):
        moments.append(_moment(visited_at, tz))
    row = store.db.execute(
        "SELECT max(at) FROM op_log WHERE target = ? AND action IN ('claim', 'assign', 'transfer')", [customer["id"]]
    ).fetchone()
    moments.append(_moment(row[0], tz) if row and row[0] else None)
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def idle_customers(store: ServerStore, now: datetime,
                   exemptions: list[Exemption] | None = None) -> list[tuple[dict[str, Any], int, datetime | None]]:
    """(customer, idle days of its policy, last contact) for every owned customer due for the pool."""
    default_days = policy.settings(store)["idle_days"]
    days_by_level = {lv["code"]: lv.get("idle_days") for lv in policy.levels(store)}
    checks = EXEMPTIONS if exemptions is None else exemptions
    due = []
    for row in store.db.query("SELECT * FROM customers WHERE owner_id IS NOT NULL AND coalesce(deleted, 0) = 0"):
        days = days_by_level.get(row.get("level")) if row.get("level") in days_by_level else default_days
        if not days:
            continue
        last = last_contact(store, row, now.tzinfo or timezone.utc)
        if last is not None and last > now - timedelta(days=int(days)):
            continue
        if any(check(store, row, now) for check in checks):
            continue
        due.append((row, int(days), last))
    return due


def recycle_idle(store: ServerStore, now: datetime, exemptions: list[Exemption] | None = None) -> list[dict[str, Any]]:
    """Return idle customers to the pool and notify their owners; one transaction; what moved."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    moved = []
    with store.write():
        for row, days, last in idle_customers(store, now, exemptions):
            owner = row["owner_id"]
            store.update("customer", row["id"], {"owner_id": None}, SYSTEM_AUTHOR)
            detail = {"from": owner, "reason": "idle", "idle_days": days,
                      "last_contact": last.isoformat(timespec="seconds") if last else None}
            oplog.record(store, None, "release", row["id"], detail, username="system")
            notifications.notify(store, owner, "idle_recycled", row["id"], {"name": row["name"], "idle_days": days})
            moved.append({"id": row["id"], "name": row["name"], "owner_id": owner, "idle_days": days})
    return moved
