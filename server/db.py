"""The server's one database entry point: a process-wide ``ServerStore`` over ``DATA_DIR/server.db``.

Every module reaches the database through ``get_store()`` (in a request) or ``open_store(path)``
(CLI, jobs). The store gives each thread its own WAL connection (a page never reads another
thread's unfinished write) and serializes writes with its lock and ``BEGIN IMMEDIATE``, so every
multi-step write goes through ``store.write()``. The app's own tables (users, tokens, devices) are created here by named
migrations. Nothing else opens connections.
"""
from __future__ import annotations

import os
import threading

import sqlite_utils
from flask import Flask, current_app
from sqlite_utils.migrations import Migrations

from shared.schemas import REGISTRY
from sync import Clock, ServerStore, SystemClock

from . import org

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


@migrations(name="org_roles_permissions_oplog")
def _org_roles_permissions_oplog(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE departments (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES departments (id), name TEXT NOT NULL,"
        " position INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX departments_parent ON departments (parent_id, position)")
    db.execute("ALTER TABLE users ADD COLUMN department_id TEXT REFERENCES departments (id)")
    db.execute("CREATE INDEX users_department ON users (department_id)")
    db.execute("CREATE TABLE roles (code TEXT PRIMARY KEY, name TEXT NOT NULL, builtin INTEGER NOT NULL, deletable INTEGER NOT NULL)")
    db.execute(
        "CREATE TABLE role_permissions (role_code TEXT NOT NULL REFERENCES roles (code), module TEXT NOT NULL,"
        " action TEXT NOT NULL, PRIMARY KEY (role_code, module, action)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE user_roles (user_id TEXT NOT NULL REFERENCES users (id), role_code TEXT NOT NULL REFERENCES roles (code),"
        " PRIMARY KEY (user_id, role_code)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE user_permissions (user_id TEXT NOT NULL REFERENCES users (id), module TEXT NOT NULL,"
        " action TEXT NOT NULL, PRIMARY KEY (user_id, module, action)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE op_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user_id TEXT, username TEXT,"
        " action TEXT NOT NULL, target TEXT, detail TEXT)"
    )
    db.execute("CREATE INDEX op_log_action ON op_log (action, id)")
    db.execute("CREATE INDEX op_log_user ON op_log (username, id)")


def db_path(data_dir: str) -> str:
    return os.path.join(os.path.abspath(data_dir), DB_NAME)


def open_store(data_dir: str, clock: Clock | None = None) -> ServerStore:
    """Open (once per process and file) the server's store, applying every migration."""
    os.makedirs(data_dir, exist_ok=True)
    path = db_path(data_dir)
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = ServerStore.open(path, REGISTRY, clock or SystemClock())  # one connection per thread
            with store.write():
                migrations.apply(store.db)
                org.seed(store)
            _stores[path] = store
        return store


def close_store(data_dir: str) -> None:
    """Close the process-wide store of ``data_dir`` (tests, shutdown)."""
    with _stores_lock:
        store = _stores.pop(db_path(data_dir), None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> ServerStore:
    store = open_store(app.config["DATA_DIR"], app.config.get("CLOCK"))
    app.extensions[_EXTENSION] = store
    return store


def get_store() -> ServerStore:
    """The store of the current app."""
    return current_app.extensions[_EXTENSION]
