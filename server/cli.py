"""Plain functions behind ``fieldbook server`` and ``fieldbook user add`` (argument parsing lives in
``scripts/cli.py``). They print for a human at a terminal and raise ``ValueError`` on bad input.
"""
from __future__ import annotations

import os
from typing import Any

from . import create_app, db, org, users


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
    from . import jobs

    jobs.start(db.open_store(app.config["DATA_DIR"]), str(app.config.get("RECYCLE_AT") or "02:00"))
    waitress.serve(app, host=host, port=port, threads=threads)


def recycle(data_dir: str, now: str | None = None) -> list[dict[str, Any]]:
    """Run idle customer recycling once (``now``: ISO 8601, default the present)."""
    from datetime import datetime, timezone

    from . import recycling

    if now:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError as exc:
            raise ValueError(f"--now must be ISO 8601, not {now!r}.") from exc
    else:
        moment = datetime.now(timezone.utc).astimezone()
    store = _with_store(data_dir)
    try:
        return recycling.recycle_idle(store, moment)
    finally:
        db.close_store(data_dir)


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


def _with_store(data_dir: str) -> Any:
    if not os.path.exists(db.db_path(data_dir)):
        raise ValueError(f"No server database in {data_dir!r}; start the server or add a user first.")
    return db.open_store(data_dir)


def _user_id(store: Any, username: str) -> str:
    user = users.get_user_by_name(store, username)
    if user is None:
        raise ValueError(f"No user named {username!r}.")
    return str(user["id"])


def move_user(data_dir: str, username: str, department: str) -> str:
    """Put a user in the department at ``department`` (a path; missing levels are created)."""
    store = _with_store(data_dir)
    try:
        dept = org.resolve_path(store, department, create=True)
        org.place_user(store, _user_id(store, username), dept["id"])
        return str(dept["path"] or dept["name"])
    finally:
        db.close_store(data_dir)


def role_lines(data_dir: str) -> list[str]:
    """One line per role: code, name, protected or not, members, then its rights."""
    store = _with_store(data_dir)
    try:
        lines = []
        for role in org.roles(store):
            rights = ", ".join(f"{m}.{a}" for m in org.MODULES for a in org.ACTIONS if (m, a) in role["rights"])
            flag = "built-in" if not role["deletable"] else "custom"
            lines.append(f"{role['code']}\t{role['name']}\t{flag}\tmembers: {', '.join(role['members']) or '-'}\trights: {rights or '-'}")
        return lines
    finally:
        db.close_store(data_dir)


def change_role(data_dir: str, grant: bool, role: str, username: str | None = None,
                module: str | None = None, action: str | None = None) -> str:
    """Grant/revoke a right (``--module``, ``--action``) to a role, or a role to a user (``--username``)."""
    store = _with_store(data_dir)
    try:
        if username:
            user_id = _user_id(store, username)
            changed = org.set_user_role(store, user_id, role, grant)
            what = f"{username} {'added to' if grant else 'removed from'} {role}"
        elif module and action:
            changed = org.set_role_right(store, role, module, action, grant)
            what = f"{role}: {module}.{action} {'granted' if grant else 'revoked'}"
        else:
            raise ValueError("Name a user (--username) or a right (--module and --action).")
        return what if changed else f"{what} (no change)"
    finally:
        db.close_store(data_dir)


def change_personal_right(data_dir: str, grant: bool, username: str, module: str, action: str) -> str:
    store = _with_store(data_dir)
    try:
        changed = org.set_user_right(store, _user_id(store, username), module, action, grant)
        what = f"{username}: personal {module}.{action} {'granted' if grant else 'revoked'}"
        return what if changed else f"{what} (no change)"
    finally:
        db.close_store(data_dir)


def rebuild_ledgers(data_dir: str) -> tuple[int, int, int]:
    """Drop and recompute the journal from the approval events; (rows, debit fen, credit fen)."""
    from . import sales

    store = _with_store(data_dir)
    try:
        rows = sales.rebuild_journal(store)
        debit, credit = sales.journal_totals(store)
        return rows, debit, credit
    finally:
        db.close_store(data_dir)


def set_numbering(data_dir: str, doc_type: str, prefix: str, date_format: str, digits: int) -> str:
    """Edit the numbering rule of one document type (sales_order, receipt, quote)."""
    from . import sales

    store = _with_store(data_dir)
    try:
        try:
            sales.save_numbering_rule(store, doc_type, prefix, date_format, digits)
        except sales.SalesError as exc:
            raise ValueError(f"{exc.code}: {exc}") from exc
        return "\n".join(f"{r['doc_type']}\t{r['prefix']}\t{r['date_format'] or '-'}\t{r['digits']}"
                         for r in sales.numbering_rules(store))
    finally:
        db.close_store(data_dir)
