"""Plain functions behind ``fieldbook server`` and ``fieldbook user add`` (argument parsing lives in
``scripts/cli.py``). They print for a human at a terminal and raise ``ValueError`` on bad input.
"""
from __future__ import annotations

import os
from typing import Any

from . import create_app, db, users


def run_server(data_dir: str, host: str = "127.0.0.1", port: int = 8000, threads: int = 8) -> None:
    """Create the database if needed, ensure the admin account, print the URL and serve (waitress)."""
    import waitress

    app = create_app({"DATA_DIR": data_dir})
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    print(f"Fieldbook server: http://{shown}:{port}/  (data: {app.config['DATA_DIR']})", flush=True)
    generated = app.config.get("GENERATED_ADMIN_PASSWORD")
    if generated:
        print(f"Admin login: {users.ADMIN_USERNAME} / {generated}  (generated now; it is not shown again)", flush=True)
    elif app.config.get("ADMIN_PASSWORD"):
        print(f"Admin login: {users.ADMIN_USERNAME} / (FIELDBOOK_ADMIN_PASSWORD)", flush=True)
    else:
        print(f"Admin login: {users.ADMIN_USERNAME} / (the password printed at first start)", flush=True)
    waitress.serve(app, host=host, port=port, threads=threads)


def add_user(
    data_dir: str, username: str, password: str, role: str,
    department: str | None = None, display_name: str | None = None,
) -> dict[str, Any]:
    """Create a user in the server database of ``data_dir``; ``ValueError`` on unknown role or duplicate name."""
    if role not in users.ROLES:
        raise ValueError(f"Unknown role {role!r}; use one of: {', '.join(users.ROLES)}.")
    existed = os.path.exists(db.db_path(data_dir))
    store = db.open_store(data_dir)
    try:
        if not existed:
            generated = users.ensure_admin(store, os.environ.get("FIELDBOOK_ADMIN_PASSWORD"))
            if generated:
                print(f"Created the server database. Admin login: {users.ADMIN_USERNAME} / {generated}  (shown once)")
        user = users.create_user(store, username, password, role, department=department, display_name=display_name)
    finally:
        db.close_store(data_dir)
    return user
