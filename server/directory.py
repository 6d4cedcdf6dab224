"""Keeps the replicated org directory (``directory_user`` documents) equal to the users table.

``refresh(store)`` writes one document per user whose public fields changed, through the
ServerStore, so every device's next pull brings it; callers are the places that create, move or
re-role users (and the app factory, which backfills a database from before the directory).
Must not expose anything but the public fields.
"""
from __future__ import annotations

from typing import Any

from sync import ServerStore

ENTITY = "directory_user"
AUTHOR = "server"


def _public(row: Any) -> dict[str, Any]:
    return {"user_id": row[0], "username": row[1], "display_name": row[2], "role": row[3],
            "department_path": row[4] or None, "active": bool(row[5])}


def refresh(store: ServerStore, user_id: str | None = None) -> int:
    """Bring the directory documents of one user (or all) up to date; returns how many changed."""
    where, params = ("WHERE id = ?", [user_id]) if user_id else ("", [])
    changed = 0
    with store.write():
        users = store.db.execute(
            f"SELECT id, username, display_name, role, department, active FROM users {where}", params).fetchall()
        for row in users:
            values = _public(row)
            held = store.db.execute("SELECT user_id, username, display_name, role, department_path, active"
                                    " FROM directory_users WHERE id = ?", [row[0]]).fetchone()
            if held is None:
                store.create(ENTITY, values, AUTHOR, record_id=row[0])
            elif _public(held) != values:
                store.update(ENTITY, row[0], values, AUTHOR)
            else:
                continue
            changed += 1
    return changed
