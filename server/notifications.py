"""Notifications for a user (the workbench's inbox until there is a workbench): idle customers
recycled to the pool, likely duplicates of a customer they created. Domain code plus its table's
migration; the page and ``GET /api/notifications`` live in ``server.policy_pages``.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

import sqlite_utils

from sync import ServerStore
from sync.clock import iso_from_ms

from .db import migrations

KINDS = ("idle_recycled", "duplicate_suspected", "receivable_overdue", "sales_order_approved", "sales_order_rejected",
         "receipt_approved", "receipt_rejected")


@migrations(name="notifications")
def _notifications(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user_id TEXT NOT NULL,"
        " kind TEXT NOT NULL, customer_id TEXT, detail TEXT NOT NULL DEFAULT '{}', read INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute("CREATE INDEX notifications_user ON notifications (user_id, id)")


def notify(store: ServerStore, user_id: str, kind: str, customer_id: str | None, detail: Mapping[str, Any],
           at_ms: int | None = None) -> None:
    """Add one notification (inside the caller's transaction when there is one)."""
    with store.write():
        store.db.execute(
            "INSERT INTO notifications (at, user_id, kind, customer_id, detail) VALUES (?, ?, ?, ?, ?)",
            [iso_from_ms(store.now_ms() if at_ms is None else at_ms), user_id, kind, customer_id,
             json.dumps(dict(detail), ensure_ascii=False, sort_keys=True)],
        )


def for_user(store: ServerStore, user_id: str, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The user's notifications, newest first, with the customer's name when it still exists."""
    (total,) = store.db.execute("SELECT count(*) FROM notifications WHERE user_id = ?", [user_id]).fetchone()
    rows = []
    for row in store.db.query(
        "SELECT n.*, c.name AS customer_name FROM notifications n LEFT JOIN customers c ON c.id = n.customer_id"
        " WHERE n.user_id = ? ORDER BY n.id DESC LIMIT ? OFFSET ?", [user_id, limit, offset]
    ):
        item = dict(row)
        item["detail"] = json.loads(item["detail"] or "{}")
        item["read"] = bool(item["read"])
        rows.append(item)
    return rows, int(total)


def mark_read(store: ServerStore, user_id: str) -> None:
    with store.write():
        store.db.execute("UPDATE notifications SET read = 1 WHERE user_id = ? AND read = 0", [user_id])
