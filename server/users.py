"""Users, API tokens and enrolled devices: the server's identity domain (no HTTP here).

Passwords are hashed with werkzeug; API and device tokens are random and only their sha256 is
stored, so a stolen database does not yield working tokens. Every function takes the
``ServerStore`` and returns plain dicts; user dicts never carry the password hash.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from sync import ServerStore, SyncServer, new_id
from sync.clock import iso_from_ms

from . import directory, org

#: Role codes of the organisation (CLI and API use exactly these).
ROLES: tuple[str, ...] = (
    "boss", "sales_manager", "sales_rep", "warehouse", "purchasing",
    "finance", "service", "repair", "technician", "admin_staff",
)
#: The built-in superuser's role (only the ``admin`` account has it).
SUPERUSER_ROLE = "admin"
ALL_ROLES: tuple[str, ...] = (*ROLES, SUPERUSER_ROLE)
ADMIN_USERNAME = "admin"
_PUBLIC = "id, username, display_name, role, department, active, lang, created_at"


class UserError(ValueError):
    """A user or device operation was refused (unknown role, duplicate name, bad credentials)."""


class BadCredentials(UserError):
    """Wrong username or password (or an inactive user)."""


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(store: ServerStore) -> str:
    return iso_from_ms(store.now_ms())


def _user(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    user = dict(row)
    user.pop("password_hash", None)
    user["active"] = bool(user["active"])
    return user


def _one(store: ServerStore, sql: str, params: list[Any]) -> dict[str, Any] | None:
    rows = list(store.db.query(sql, params))
    return rows[0] if rows else None


# ---- users ------------------------------------------------------------------------------------
def create_user(
    store: ServerStore, username: str, password: str, role: str,
    department: str | None = None, display_name: str | None = None, lang: str | None = None,
) -> dict[str, Any]:
    """Create an active user; raise ``UserError`` on an unknown role or a taken username.

    ``department`` is a path under the company (``Sales/East``); missing levels are created.
    """
    username = (username or "").strip()
    if not username:
        raise UserError("The username must not be empty.")
    if role not in ALL_ROLES:
        raise UserError(f"Unknown role {role!r}; use one of: {', '.join(ROLES)}.")
    if role == SUPERUSER_ROLE and username != ADMIN_USERNAME:
        raise UserError(f"The {SUPERUSER_ROLE!r} role belongs to the built-in {ADMIN_USERNAME!r} account only.")
    if not password or len(password) < 4:
        raise UserError("The password must have at least 4 characters.")
    with store.write():
        if _one(store, "SELECT id FROM users WHERE username = ?", [username]) is not None:
            raise UserError(f"A user named {username!r} already exists.")
        user_id = new_id()
        dept = org.resolve_path(store, department or "", create=True)  # no department: the company itself
        store.db.execute(
            "INSERT INTO users (id, username, display_name, password_hash, role, department, department_id, active, lang, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            [user_id, username, display_name or username, generate_password_hash(password), role, dept["path"] or None,
             dept["id"], lang, _now(store)],
        )
        directory.refresh(store, user_id)
    user = get_user(store, user_id)
    assert user is not None
    return user


def get_user(store: ServerStore, user_id: str) -> dict[str, Any] | None:
    return _user(_one(store, f"SELECT {_PUBLIC} FROM users WHERE id = ?", [user_id]))


def get_user_by_name(store: ServerStore, username: str) -> dict[str, Any] | None:
    return _user(_one(store, f"SELECT {_PUBLIC} FROM users WHERE username = ?", [username]))


def find_users(store: ServerStore, username: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Active users whose username or display name contains ``username`` (the org directory)."""
    where, params = "active = 1", []
    if username:
        like = "%" + username.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where += " AND (username LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\')"
        params += [like, like]
    (total,) = store.db.execute(f"SELECT count(*) FROM users WHERE {where}", params).fetchone()
    rows = store.db.query(f"SELECT {_PUBLIC}, department_id FROM users WHERE {where} ORDER BY username LIMIT ? OFFSET ?",
                          [*params, limit, offset])
    return [u for u in (_user(r) for r in rows) if u], int(total)


def list_users(store: ServerStore) -> list[dict[str, Any]]:
    return [u for u in (_user(r) for r in store.db.query(f"SELECT {_PUBLIC} FROM users ORDER BY username")) if u]


def display_names(store: ServerStore) -> dict[str, str]:
    """Map user id → display name (for 'who' columns and conflict notes)."""
    return {r["id"]: r["display_name"] for r in store.db.query("SELECT id, display_name FROM users")}


def set_password(store: ServerStore, username: str, password: str) -> None:
    if not password or len(password) < 4:
        raise UserError("The password must have at least 4 characters.")
    with store.write():
        cur = store.db.execute(
            "UPDATE users SET password_hash = ? WHERE username = ?", [generate_password_hash(password), username]
        )
        if cur.rowcount == 0:
            raise UserError(f"No user named {username!r}.")


def authenticate(store: ServerStore, username: str, password: str) -> dict[str, Any] | None:
    """The active user with these credentials, or None."""
    row = _one(store, "SELECT * FROM users WHERE username = ?", [(username or "").strip()])
    if row is None or not row["active"] or not check_password_hash(row["password_hash"], password or ""):
        return None
    return _user(row)


def ensure_admin(store: ServerStore, password: str | None = None) -> str | None:
    """Create the built-in admin account if missing; return its password if one was generated."""
    if _one(store, "SELECT id FROM users WHERE username = ?", [ADMIN_USERNAME]) is not None:
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    try:
        create_user(store, ADMIN_USERNAME, password, SUPERUSER_ROLE, display_name="Administrator")
    except UserError:
        # Another thread or process created it first: fine, but the generated password is not its.
        return None
    return generated


# ---- API tokens -------------------------------------------------------------------------------
def issue_token(store: ServerStore, user_id: str) -> str:
    """A new bearer token for the user (only its sha256 is stored)."""
    token = secrets.token_urlsafe(32)
    with store.write():
        store.db.execute(
            "INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES (?, ?, ?)",
            [_hash_token(token), user_id, _now(store)],
        )
    return token


def verify_token(store: ServerStore, token: str) -> dict[str, Any] | None:
    """The active user a bearer token belongs to, or None."""
    if not token:
        return None
    row = _one(
        store,
        f"SELECT {', '.join('u.' + c.strip() for c in _PUBLIC.split(','))} FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = ?",
        [_hash_token(token)],
    )
    user = _user(row)
    return user if user and user["active"] else None


def revoke_token(store: ServerStore, token: str) -> None:
    with store.write():
        store.db.execute("DELETE FROM api_tokens WHERE token_hash = ?", [_hash_token(token)])


# ---- devices ----------------------------------------------------------------------------------
def enroll_device(
    store: ServerStore, username: str, password: str, device_id: str, name: str | None,
    app_version: str | None, warehouse: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Register (or re-register) a device for a user; return its new token and the user.

    Re-enrolling a device of the same user rotates its token and lifts a revocation (the user
    proved their password again). A device id enrolled to another user is refused: its replica
    holds that user's records.
    """
    user = authenticate(store, username, password)
    if user is None:
        raise BadCredentials("Wrong username or password.")
    token = secrets.token_urlsafe(32)
    with store.write():
        existing = _one(store, "SELECT user_id FROM devices WHERE id = ?", [device_id])
        if existing is not None and existing["user_id"] != user["id"]:
            raise UserError("This device is enrolled to another user.")
        store.db.execute(
            "INSERT INTO devices (id, user_id, name, token_hash, app_version, warehouse, enrolled_at, revoked)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " token_hash = excluded.token_hash, app_version = excluded.app_version, warehouse = excluded.warehouse,"
            " enrolled_at = excluded.enrolled_at, revoked = 0",
            [device_id, user["id"], name, _hash_token(token), app_version, warehouse, _now(store)],
        )
    return token, user


def verify_device_token(store: ServerStore, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(device, user) for a valid token of a device that is not revoked and whose user is active."""
    if not token:
        return None
    device = _one(store, "SELECT * FROM devices WHERE token_hash = ?", [_hash_token(token)])
    if device is None or device["revoked"]:
        return None
    user = get_user(store, device["user_id"])
    if user is None or not user["active"]:
        return None
    device.pop("token_hash", None)
    return device, user


def get_device(store: ServerStore, device_id: str) -> dict[str, Any] | None:
    device = _one(store, "SELECT * FROM devices WHERE id = ?", [device_id])
    if device is not None:
        device.pop("token_hash", None)
    return device


def revoke_device(store: ServerStore, device_id: str) -> bool:
    """Revoke a device's token and forget its sync state; False if no such device."""
    with store.write():
        cur = store.db.execute("UPDATE devices SET revoked = 1 WHERE id = ?", [device_id])
        if cur.rowcount == 0:
            return False
        SyncServer(store).forget_device(device_id)
    return True


def list_devices(store: ServerStore) -> list[dict[str, Any]]:
    """Every enrolled device with its user and last push/pull times (newest enrolment first)."""
    return list(store.db.query(
        "SELECT d.id, d.name, d.app_version, d.warehouse, d.enrolled_at, d.revoked, d.user_id,"
        " u.username, u.display_name, s.last_pull_at, s.last_push_at"
        " FROM devices d JOIN users u ON u.id = d.user_id LEFT JOIN sync_devices s ON s.device_id = d.id"
        " ORDER BY d.revoked, coalesce(s.last_pull_at, d.enrolled_at) DESC"
    ))
