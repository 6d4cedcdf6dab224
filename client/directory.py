"""The client's answer to ``GET /api/users``: the org directory the server replicates to every device.

Reads the ``directory_users`` table only (works offline); never writes it (the server owns it).
"""
from __future__ import annotations

from typing import Any


def find(store: Any, username: str | None, page: int, per_page: int) -> dict[str, Any]:
    """``GET /api/users`` from the replicated directory (the client's offline answer)."""
    where, params = "coalesce(deleted, 0) = 0 AND active = 1", []
    if username:
        like = "%" + username.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where += " AND (username LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\')"
        params += [like, like]
    (total,) = store.db.execute(f"SELECT count(*) FROM directory_users WHERE {where}", params).fetchone()
    rows = store.db.execute(
        f"SELECT user_id, username, display_name, role, department_path FROM directory_users WHERE {where}"
        " ORDER BY username LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page]).fetchall()
    keys = ("id", "username", "display_name", "role", "department")
    return {"items": [dict(zip(keys, r)) for r in rows], "total": int(total)}
