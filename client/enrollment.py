"""Device enrollment: register this replica with the server, cache the user, run the first sync.

Domain code: plain values in, plain values out; no Flask request objects. The page at
``/enroll`` (``client.pages``) and the CLI (``client.cli``) both call ``enroll``.
"""
from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

import requests
from werkzeug.security import generate_password_hash

from sync import ReplicaStore
from sync.clock import iso_from_ms
from sync.errors import Forbidden, TransportUnavailable

from . import db
from .transport import error_from_response

log = logging.getLogger(__name__)

ENROLL_PATH = "/api/devices/enroll"


class NotEnrolled(Exception):
    """This client has no device token yet: enroll first."""


def app_version() -> str:
    try:
        return metadata.version("fieldbook")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def remember_user(store: ReplicaStore, user: dict[str, Any], password: str) -> None:
    """Cache a user and a locally computed hash of their password, so login works offline."""
    with store.write():
        store.db.execute("DELETE FROM local_users WHERE username = ? AND id != ?", [user["username"], user["id"]])
        store.db.execute(
            "INSERT INTO local_users (id, username, display_name, role, department, password_hash)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
            " display_name = excluded.display_name, role = excluded.role,"
            " department = excluded.department, password_hash = excluded.password_hash",
            [user["id"], user["username"], user.get("display_name") or user["username"], user.get("role") or "sales_rep",
             user.get("department"), generate_password_hash(password)],
        )


def register_device(store: ReplicaStore, server_url: str, username: str, password: str,
                    name: str | None = None, warehouse: str | None = None,
                    timeout: float = 30.0) -> dict[str, Any]:
    """POST the enrollment to the server; save the device row and the cached user; return the answer."""
    server_url = server_url.strip().rstrip("/")
    payload = {
        "username": username,
        "password": password,
        "device_id": store.site_id,
        "name": name or f"client-{store.site_id[:8]}",
        "app_version": app_version(),
        "warehouse": warehouse or None,
    }
    try:
        with requests.Session() as session:
            response = session.post(f"{server_url}{ENROLL_PATH}", json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise TransportUnavailable(f"cannot reach {server_url}", original=exc) from exc
    if response.status_code >= 400:
        raise error_from_response(response)
    try:
        answer = response.json()
        token, user = answer["device_token"], answer["user"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Forbidden("The server's enrollment answer is not understood.") from exc
    db.save_device(store, server_url, token, user, iso_from_ms(store.now_ms()), warehouse or None)
    remember_user(store, user, password)
    return dict(answer)


def enroll(store: ReplicaStore, server_url: str, username: str, password: str,
           name: str | None = None, warehouse: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """Enroll this device and run the first full sync; return the sync report as a dict.

    Raises ``TransportUnavailable`` when the server cannot be reached (nothing saved), and a
    ``sync.errors.SyncError`` (``Forbidden`` for bad credentials) when the server refuses.
    If the first sync fails after enrollment, the device stays enrolled and the error is raised:
    the worker retries it.
    """
    from .worker import run_sync  # the worker imports this module's NotEnrolled

    register_device(store, server_url, username, password, name, warehouse, timeout)
    return run_sync(store, timeout=timeout)
