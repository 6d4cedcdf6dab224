"""Customers, contacts and visits on the local replica: search, duplicates, visits, voids, due list.

Domain code for the pages: takes the store and plain values, returns plain values; no Flask.
Every multi-step write happens inside one ``store.write()`` transaction.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any, Mapping

from shared import policy
from shared.web.search import clean, customer_match
from sync import RecordNotFound, ReplicaStore
from sync.clock import Hlc, iso_from_ms

PER_PAGE = 50

CUSTOMER_FORM_FIELDS = (
    "kind", "name", "level", "source", "industry", "phone", "mobile", "email", "wechat", "qq",
    "province", "city", "address", "remark", "is_hot", "next_contact_at",
)
CONTACT_FORM_FIELDS = ("customer_id", "name", "title", "phone", "mobile", "email", "wechat", "birthday", "remark")
VISIT_FORM_FIELDS = ("customer_id", "contact_id", "method", "content", "visited_at", "next_contact_at")


class NotAllowed(Exception):
    """The rule forbids this action (the message says why)."""


def search_customers(store: ReplicaStore, q: str = "", page: int = 1, per_page: int = PER_PAGE) -> tuple[list[dict[str, Any]], int]:
    """One page of live customers matching ``q`` (substring of name, phone or mobile) and the total."""
    q = clean(q)
    where = "coalesce(c.deleted, 0) = 0"
    params: list[Any] = []
    if q:
        condition, params = customer_match(q)
        where += f" AND {condition}"
    total = int(store.db.execute(f"SELECT count(*) FROM customers c WHERE {where}", params).fetchone()[0])
    page = max(1, page)
    rows = list(store.db.query(
        f"SELECT c.* FROM customers c WHERE {where}"
        " ORDER BY c.is_hot DESC, c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?",  # served by an index
        [*params, per_page, (page - 1) * per_page],
    ))
    for row in rows:
        row["is_hot"] = bool(row.get("is_hot"))
    return rows, total


def create_customer(store: ReplicaStore, values: Mapping[str, Any], author: str) -> str:
    """Create a customer owned by its author unless an owner is given."""
    full = {"owner_id": author, "created_at": iso_from_ms(store.now_ms()), **values}
    return store.create("customer", full, author)


def update_customer(store: ReplicaStore, customer_id: str, values: Mapping[str, Any], author: str) -> None:
    store.update("customer", customer_id, dict(values), author)


def get_live_customer(store: ReplicaStore, customer_id: str) -> dict[str, Any]:
    """The customer, or ``RecordNotFound`` when absent or deleted."""
    row = store.get("customer", customer_id)
    if row.get("deleted"):
        raise RecordNotFound(customer_id)
    return row


def contacts_of(store: ReplicaStore, customer_id: str) -> list[dict[str, Any]]:
    rows = store.rows("contact", "customer_id = ? AND coalesce(deleted, 0) = 0", [customer_id])
    return sorted(rows, key=lambda r: r.get("name") or "")


def create_contact(store: ReplicaStore, values: Mapping[str, Any], author: str) -> str:
    get_live_customer(store, str(values["customer_id"]))
    return store.create("contact", dict(values), author)


def get_live_contact(store: ReplicaStore, contact_id: str) -> dict[str, Any]:
    """The contact of a live customer, or ``RecordNotFound`` when it or its customer is gone."""
    row = store.get("contact", contact_id)
    if row.get("deleted"):
        raise RecordNotFound(contact_id)
    get_live_customer(store, str(row["customer_id"]))
    return row


def update_contact(store: ReplicaStore, contact_id: str, values: Mapping[str, Any], author: str) -> None:
    """Change a contact's fields; it stays with its customer (``customer_id`` is not edited here)."""
    with store.write():
        get_live_contact(store, contact_id)
        store.update("contact", contact_id, {k: v for k, v in values.items() if k != "customer_id"}, author)


def delete_customer(store: ReplicaStore, customer_id: str, author: str) -> None:
    """Mark a live customer deleted (its contacts and visits follow it out of every list)."""
    with store.write():
        get_live_customer(store, customer_id)
        store.delete("customer", customer_id, author)


def delete_contact(store: ReplicaStore, contact_id: str, author: str) -> str:
    """Mark a live contact deleted; returns its customer's id."""
    with store.write():
        row = get_live_contact(store, contact_id)
        store.delete("contact", contact_id, author)
    return str(row["customer_id"])


def record_visit(store: ReplicaStore, values: Mapping[str, Any], author: str) -> str:
    """Record a visit; one that sets a next contact time also sets the customer's, atomically."""
    with store.write():
        values = dict(values)
        policy.fill_next_contact(store, get_live_customer(store, str(values["customer_id"])), values)
        visit_id = store.add_event("visit", values, author)
        if values.get("next_contact_at"):
            store.update("customer", str(values["customer_id"]), {"next_contact_at": values["next_contact_at"]}, author)
    return visit_id


def recorded_ms(visit: Mapping[str, Any]) -> int:
    """When the visit was recorded (its clock reading), in ms since the epoch."""
    return Hlc.decode(str(visit["hlc"])).ms


def can_void(visit: Mapping[str, Any], user_id: str, now: datetime) -> bool:
    """The author may void a visit on the day it was recorded (in ``now``'s time zone)."""
    if visit.get("voided") or visit.get("author_id") != user_id:
        return False
    recorded = datetime.fromtimestamp(recorded_ms(visit) / 1000, tz=now.tzinfo)
    return recorded.date() == now.date()


def visits_of(store: ReplicaStore, customer_id: str) -> list[dict[str, Any]]:
    """The customer's visits, newest first, each with ``voided``."""
    rows = list(store.db.query(
        "SELECT v.*, EXISTS (SELECT 1 FROM visit_voids w WHERE w.visit_id = v.id) AS voided"
        " FROM visits v WHERE v.customer_id = ? ORDER BY v.visited_at DESC, v.hlc DESC",
        [customer_id],
    ))
    for row in rows:
        row["voided"] = bool(row["voided"])
    return rows


def visits_page(store: ReplicaStore, customer_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the customer's visits (newest first, each with ``voided``) and their total."""
    total = int(store.db.execute("SELECT count(*) FROM visits WHERE customer_id = ?", [customer_id]).fetchone()[0])
    rows = list(store.db.query(
        "SELECT v.*, EXISTS (SELECT 1 FROM visit_voids w WHERE w.visit_id = v.id) AS voided"
        " FROM visits v WHERE v.customer_id = ? ORDER BY v.visited_at DESC, v.hlc DESC LIMIT ? OFFSET ?",
        [customer_id, per_page, (max(1, page) - 1) * per_page],
    ))
    for row in rows:
        row["voided"] = bool(row["voided"])
    return rows, total


def void_visit(store: ReplicaStore, visit_id: str, user_id: str, now: datetime) -> str:
    """Void the author's visit of today (a ``visit_void`` event); returns the void's id."""
    with store.write():
        rows = list(store.db.query(
            "SELECT v.*, EXISTS (SELECT 1 FROM visit_voids w WHERE w.visit_id = v.id) AS voided"
            " FROM visits v WHERE v.id = ?", [visit_id],
        ))
        if not rows:
            raise RecordNotFound(visit_id)
        visit = rows[0]
        if not can_void(visit, user_id, now):
            raise NotAllowed("Only the author may void a visit, and only on the day it was recorded.")
        return store.add_event(
            "visit_void",
            {"visit_id": visit_id, "customer_id": visit["customer_id"], "voided_at": now.isoformat(timespec="seconds")},
            user_id,
        )


def due_customers(store: ReplicaStore, now: datetime) -> list[dict[str, Any]]:
    """Live customers whose next contact time is today or earlier, most overdue first."""
    end_of_day = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)
    due = []
    for row in store.db.query(
        "SELECT * FROM customers WHERE coalesce(deleted, 0) = 0 AND next_contact_at IS NOT NULL AND next_contact_at != ''"
    ):
        try:
            when = datetime.fromisoformat(row["next_contact_at"])
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=now.tzinfo)
        if when < end_of_day:
            row["_due"] = when
            due.append(row)
    due.sort(key=lambda r: r["_due"])
    return due


def local_now(store: ReplicaStore, tz: tzinfo) -> datetime:
    """Server-canonical now in the given time zone."""
    return datetime.fromtimestamp(store.now_ms() / 1000, tz=tz)
