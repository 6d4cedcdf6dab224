"""The operation log (日志管理): who did what, when. Append-only; no HTTP here.

Writers call ``record`` inside their own transaction, so an action and its log line commit
together. ``actor`` is a user id or None (the system, the CLI, an unknown caller).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from sync import ServerStore
from sync.clock import iso_from_ms

#: Actions written by the server (the page's filter offers these).
ACTIONS: tuple[str, ...] = (
    "login", "login_failed", "permission_change", "role_change", "role_member", "role_add", "role_delete",
    "user_move", "department_add", "department_rename", "department_move", "department_reorder",
    "department_delete", "transfer", "assign", "claim", "release", "approve", "reject", "sync_refused",
    "api_refused",
)


def record(store: ServerStore, actor: str | None, action: str, target: str | None = None,
           detail: Mapping[str, Any] | None = None, username: str | None = None) -> None:
    """Append one line (inside the caller's transaction when there is one)."""
    if username is None and actor:
        row = store.db.execute("SELECT username FROM users WHERE id = ?", [actor]).fetchone()
        username = row[0] if row else None
    with store.write():
        store.db.execute(
            "INSERT INTO op_log (at, user_id, username, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [iso_from_ms(store.now_ms()), actor, username, action, target,
             json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True)],
        )


def query(store: ServerStore, user: str | None = None, action: str | None = None, day_from: str | None = None,
          day_to: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Lines newest first, filtered by username, action and an inclusive date range (YYYY-MM-DD)."""
    clauses, params = ["1"], []
    if user:
        clauses.append("username = ?")
        params.append(user)
    if action:
        clauses.append("action = ?")
        params.append(action)
    if day_from:
        clauses.append("substr(at, 1, 10) >= ?")
        params.append(day_from)
    if day_to:
        clauses.append("substr(at, 1, 10) <= ?")
        params.append(day_to)
    where = " AND ".join(clauses)
    (total,) = store.db.execute(f"SELECT count(*) FROM op_log WHERE {where}", params).fetchone()
    rows = []
    for row in store.db.query(f"SELECT * FROM op_log WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]):
        item = dict(row)
        item["detail"] = json.loads(item["detail"] or "{}")
        rows.append(item)
    return rows, int(total)
