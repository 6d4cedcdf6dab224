"""The server's one database entry point: a process-wide ``ServerStore`` over ``DATA_DIR/server.db``.

Every module reaches the database through ``get_store()`` (in a request) or ``open_store(path)``
(CLI, jobs). The sqlite connection is shared by all threads (``check_same_thread=False``); the store
serializes writes with its own lock and ``BEGIN IMMEDIATE``, so every multi-step write goes through
``store.write()``. The app's own tables (users, tokens, devices) are created here by named
migrations. Nothing else opens connections.
"""
from __future__ import annotations

import os
import sqlite3
import threading

import sqlite_utils
from flask import Flask, current_app
from sqlite_utils.migrations import Migrations

from shared.schemas import REGISTRY
from sync import Clock, ServerStore, SystemClock

DB_NAME = "server.db"
_EXTENSION = "fieldbook_store"
_stores: dict[str, ServerStore] = {}
_stores_lock = threading.Lock()

migrations = Migrations("fieldbook-server")


@migrations(name="users_tokens_devices")
def _users_tokens_devices(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " display_name TEXT NOT NULL, password_hash TEXT NOT NULL, role TEXT NOT NULL, department TEXT,"
        " active INTEGER NOT NULL DEFAULT 1, lang TEXT, created_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (id),"
        " created_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX api_tokens_user ON api_tokens (user_id)")
    db.execute(
        "CREATE TABLE devices (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users (id), name TEXT,"
        " token_hash TEXT NOT NULL UNIQUE, app_version TEXT, warehouse TEXT, enrolled_at TEXT NOT NULL,"
        " revoked INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute("CREATE INDEX devices_user ON devices (user_id)")


@migrations(name="customers_fts")
def _customers_fts(db: sqlite_utils.Database) -> None:
    # Substring search on Chinese names: an external-content FTS5 trigram index over the
    # materialized customers table (shared.web.api uses it for q of 3+ characters). The store
    # writes customers with INSERT OR REPLACE, so the delete trigger must fire on REPLACE too:
    # open_store sets PRAGMA recursive_triggers on the one connection.
    db.execute(
        "CREATE VIRTUAL TABLE customers_fts USING fts5(name, phone, mobile,"
        " content='customers', content_rowid='rowid', tokenize='trigram')"
    )
    insert = "INSERT INTO customers_fts (rowid, name, phone, mobile) VALUES (new.rowid, new.name, new.phone, new.mobile);"
    delete = (
        "INSERT INTO customers_fts (customers_fts, rowid, name, phone, mobile)"
        " VALUES ('delete', old.rowid, old.name, old.phone, old.mobile);"
    )
    db.execute(f"CREATE TRIGGER customers_fts_ai AFTER INSERT ON customers BEGIN {insert} END")
    db.execute(f"CREATE TRIGGER customers_fts_ad AFTER DELETE ON customers BEGIN {delete} END")
    db.execute(f"CREATE TRIGGER customers_fts_au AFTER UPDATE ON customers BEGIN {delete} {insert} END")
    db.execute("INSERT INTO customers_fts (customers_fts) VALUES ('rebuild')")


def db_path(data_dir: str) -> str:
    return os.path.join(os.path.abspath(data_dir), DB_NAME)


def open_store(data_dir: str, clock: Clock | None = None) -> ServerStore:
    """Open (once per process and file) the server's store, applying every migration."""
    os.makedirs(data_dir, exist_ok=True)
    path = db_path(data_dir)
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA recursive_triggers=ON")  # REPLACE must fire the FTS delete trigger
            store = ServerStore(db, REGISTRY, clock or SystemClock())
            with store.write():
                migrations.apply(db)
            _stores[path] = store
        return store


def close_store(data_dir: str) -> None:
    """Close the process-wide store of ``data_dir`` (tests, shutdown)."""
    with _stores_lock:
        store = _stores.pop(db_path(data_dir), None)
    if store is not None:
        store.db.conn.close()


def init_app(app: Flask) -> ServerStore:
    store = open_store(app.config["DATA_DIR"], app.config.get("CLOCK"))
    app.extensions[_EXTENSION] = store
    return store


def get_store() -> ServerStore:
    """The store of the current app."""
    return current_app.extensions[_EXTENSION]
