"""The receivables ledger (DESIGN §4), computed from replicated records on any replica.

An approved order raises a receivable of its total; approved receipts' allocations pay it, in as
many parts as they come. ``outstanding = total − received``. Aging counts the days past the due
date (the order's ``due_date``, else its delivery date, else its approval day) into buckets
``not_yet_due, 0_30, 30_60, 60_90, 90_180, 180_plus``; the summary's buckets always add up to
the outstanding total because each order's outstanding falls in exactly one bucket.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from .money import fen, yuan

BUCKETS = ("not_yet_due", "0_30", "30_60", "60_90", "90_180", "180_plus")
_LIMITS = ((30, "0_30"), (60, "30_60"), (90, "60_90"), (180, "90_180"))


def bucket(days_overdue: int) -> str:
    """The aging bucket of a receivable ``days_overdue`` days past due (≤ 0: not yet due)."""
    if days_overdue <= 0:
        return "not_yet_due"
    for limit, name in _LIMITS:
        if days_overdue <= limit:
            return name
    return "180_plus"


def due_date(order: Mapping[str, Any]) -> str | None:
    for name in ("due_date", "delivery_date"):
        if order.get(name):
            return str(order[name])
    return str(order["approved_at"])[:10] if order.get("approved_at") else None


def received_by_order(receipts: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Fen received per order id from these (approved) receipts' allocations."""
    paid: dict[str, int] = {}
    for receipt in receipts:
        allocations = receipt.get("allocations") or "[]"
        for allocation in json.loads(allocations) if isinstance(allocations, str) else allocations:
            paid[allocation["order_id"]] = paid.get(allocation["order_id"], 0) + fen(allocation["amount"])
    return paid


def items_for(orders: Iterable[Mapping[str, Any]], paid: Mapping[str, int], as_of: date) -> list[dict[str, Any]]:
    """One receivable per approved order, with what is received, outstanding, due and its bucket."""
    items = []
    for order in orders:
        total = fen(order.get("total"))
        received = paid.get(order["id"], 0)
        due = due_date(order)
        days = (as_of - date.fromisoformat(due)).days if due else 0
        outstanding = total - received
        items.append({
            "order_id": order["id"], "number": order.get("number"), "customer_id": order.get("customer_id"),
            "customer_name": order.get("customer_name"), "total": yuan(total), "received": yuan(received),
            "outstanding": yuan(outstanding), "due_date": due, "days_overdue": max(days, 0),
            "bucket": bucket(days), "_outstanding_fen": outstanding,
        })
    return items


def summarize(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Bucket totals and the outstanding total (pops the private fen values from the items)."""
    buckets = {name: 0 for name in BUCKETS}
    total = 0
    for item in items:
        amount = item.pop("_outstanding_fen")
        buckets[item["bucket"]] += amount
        total += amount
    return {"buckets": {k: yuan(v) for k, v in buckets.items()}, "outstanding": yuan(total),
            "overdue": yuan(total - buckets["not_yet_due"]), "count": len(items)}


def receivables(db: Any, as_of: date, customer_where: tuple[str, Sequence[Any]] = ("1", ()),
                customer_id: str | None = None, open_only: bool = False) -> dict[str, Any]:
    """``{"items": [...], "summary": {...}}`` for the approved orders of customers matching
    ``customer_where`` (a condition on the customers table aliased ``c``), optionally one customer."""
    where, params = customer_where
    clauses, values = [f"({where})"], list(params)
    if customer_id:
        clauses.append("x.customer_id = ?")
        values.append(customer_id)
    cond = " AND ".join(clauses)
    orders = [dict(r) for r in db.query(
        "SELECT x.id, x.number, x.customer_id, x.total, x.due_date, x.delivery_date, x.approved_at, c.name AS customer_name"
        " FROM sales_orders x JOIN customers c ON c.id = x.customer_id"
        f" WHERE x.status = 'approved' AND coalesce(x.deleted, 0) = 0 AND {cond}", values)]
    receipts = db.query(
        "SELECT x.allocations FROM receipts x JOIN customers c ON c.id = x.customer_id"
        f" WHERE x.status = 'approved' AND coalesce(x.deleted, 0) = 0 AND {cond}", values)
    items = items_for(orders, received_by_order(receipts), as_of)
    items.sort(key=lambda i: (-i["days_overdue"], i["due_date"] or "", i["order_id"]))
    if open_only:
        items = [i for i in items if i["_outstanding_fen"] != 0]
    summary = summarize(items)
    return {"items": items, "summary": summary}


def outstanding_fen(db: Any, order_id: str) -> int | None:
    """What is still owed on one approved order (None: the order is not approved)."""
    row = db.execute("SELECT total FROM sales_orders WHERE id = ? AND status = 'approved' AND coalesce(deleted, 0) = 0",
                     [order_id]).fetchone()
    if row is None:
        return None
    receipts = db.query("SELECT allocations FROM receipts WHERE status = 'approved' AND coalesce(deleted, 0) = 0"
                        " AND allocations LIKE ?", [f"%{order_id}%"])
    return fen(row[0]) - received_by_order(receipts).get(order_id, 0)
