"""The client's one database entry point: the process-wide replica store and the app tables.

``client.db`` owns opening ``DATA_DIR/client.db`` (a ``sync.ReplicaStore``) and the client's own
tables, created by named sqlite-utils migrations: the enrolled ``device``, the cached
``local_users`` (so login works offline), ``kiosk_users`` (other staff on a warehouse kiosk, checked by
the server once, then offline), ``local_tokens`` for the API, ``sync_status`` and the
FTS5 trigram index over the materialized ``customers`` table. Nothing else opens connections.
It must not know about HTTP: views call ``get_store()`` and pass the store to domain functions.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any

import sqlite_utils
from flask import Flask, current_app
from sqlite_utils.migrations import Migrations

from shared.schemas import REGISTRY
from sync import ReplicaStore, SystemClock
from sync.clock import Clock

DB_FILENAME = "client.db"

_stores: dict[str, ReplicaStore] = {}
_stores_lock = threading.Lock()

migrations = Migrations("fieldbook-client")


@migrations(name="app_tables")
def _app_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE device (id INTEGER PRIMARY KEY CHECK (id = 1), server_url TEXT NOT NULL,"
        " device_token TEXT NOT NULL, user TEXT NOT NULL, enrolled_at TEXT NOT NULL, warehouse TEXT)"
    )
    db.execute(
        "CREATE TABLE local_users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE,"
        " display_name TEXT, role TEXT NOT NULL, department TEXT, password_hash TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE local_tokens (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL"
        " REFERENCES local_users (id) ON DELETE CASCADE, created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE sync_status (id INTEGER PRIMARY KEY CHECK (id = 1), last_success_at TEXT,"
        " last_attempt_at TEXT, last_error TEXT, online INTEGER NOT NULL DEFAULT 0, last_report TEXT)"
    )
    db.execute("INSERT INTO sync_status (id, online) VALUES (1, 0)")


@migrations(name="kiosk_users")
def _kiosk_users(db: sqlite_utils.Database) -> None:
    """Warehouse staff other than the enrolled user who logged in on a kiosk while it was online:
    the server checked the password, the hash kept here lets them log in offline later."""
    db.execute(
        "CREATE TABLE kiosk_users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, display_name TEXT,"
        " role TEXT NOT NULL, department TEXT, password_hash TEXT NOT NULL, verified_at TEXT NOT NULL)"
    )


def open_store(path: str, clock: Clock | None = None) -> ReplicaStore:
    """Open (creating if needed) the client database and apply the client's migrations."""
    store = ReplicaStore.open(path, REGISTRY, clock or SystemClock())
    with store.write():
        migrations.apply(store.db)
    return store


def store_for(data_dir: str, clock: Clock | None = None) -> ReplicaStore:
    """Return the process-wide store of a data directory, opening it on first use."""
    path = os.path.abspath(os.path.join(data_dir, DB_FILENAME))
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            store = open_store(path, clock)
            _stores[path] = store
        return store


def get_store() -> ReplicaStore:
    """The current app's replica store (one per DATA_DIR per process)."""
    return store_for(current_app.config["DATA_DIR"], current_app.config.get("CLOCK"))


def close_store(data_dir: str) -> None:
    """Close and forget the store of a data directory (tests, shutdown)."""
    path = os.path.abspath(os.path.join(data_dir, DB_FILENAME))
    with _stores_lock:
        store = _stores.pop(path, None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    """Open the store eagerly so migrations run at start-up, not on the first request."""
    store_for(app.config["DATA_DIR"], app.config.get("CLOCK"))


# ---- device and sync status rows ------------------------------------------------------------
def get_device(store: ReplicaStore) -> dict[str, Any] | None:
    """The enrolled device row (``user`` decoded), or None before enrollment."""
    rows = list(store.db.query("SELECT * FROM device WHERE id = 1"))
    if not rows:
        return None
    row = rows[0]
    row["user"] = json.loads(row["user"])
    return row


def save_device(store: ReplicaStore, server_url: str, device_token: str, user: dict[str, Any],
                enrolled_at: str, warehouse: str | None) -> None:
    with store.write():
        store.db.execute(
            "INSERT OR REPLACE INTO device (id, server_url, device_token, user, enrolled_at, warehouse)"
            " VALUES (1, ?, ?, ?, ?, ?)",
            [server_url, device_token, json.dumps(user, ensure_ascii=False), enrolled_at, warehouse],
        )


def get_sync_status(store: ReplicaStore) -> dict[str, Any]:
    row = next(iter(store.db.query("SELECT * FROM sync_status WHERE id = 1")))
    row["online"] = bool(row["online"])
    row["last_report"] = json.loads(row["last_report"]) if row["last_report"] else None
    return row


def update_sync_status(store: ReplicaStore, **values: Any) -> None:
    if "last_report" in values and values["last_report"] is not None:
        values["last_report"] = json.dumps(values["last_report"])
    if "online" in values:
        values["online"] = int(bool(values["online"]))
    sets = ", ".join(f"[{k}] = ?" for k in values)
    with store.write():
        store.db.execute(f"UPDATE sync_status SET {sets} WHERE id = 1", list(values.values()))
