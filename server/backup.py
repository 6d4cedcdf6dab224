"""Online backups of the server database and restoring one into a data directory.

A backup is a consistent copy of ``server.db`` made with SQLite's online backup API in one step
(``Connection.backup`` with all pages at once): it reads one WAL snapshot, so clients keep syncing
while it runs and the copy holds whole transactions only. Backups are named by their UTC time
(``server-20261122T204000123456Z.db``) and the oldest beyond ``keep`` are deleted.

Restoring copies a backup into ``DATA_DIR/server.db`` with the same API. It refuses a database
that another process has open (a running server) and, without ``overwrite``, any existing one.
A restored server is behind every device that synced after the backup: each such device must be
re-seeded (``fieldbook reseed``), see docs/sync.md. This module knows nothing of HTTP.
"""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from . import db

PREFIX = "server-"
SUFFIX = ".db"
DEFAULT_KEEP = 7


class BackupError(ValueError):
    """A backup or restore that cannot be done as asked (bad file, database in use, would overwrite)."""


def default_dir(data_dir: str) -> str:
    return os.path.join(os.path.abspath(data_dir), "backups")


def backup_name(now: datetime) -> str:
    return f"{PREFIX}{now.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}{SUFFIX}"


def list_backups(backup_dir: str) -> list[Path]:
    """The backups in ``backup_dir``, oldest first (names sort by time)."""
    folder = Path(backup_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX))


def _check(path: str) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
        conn.execute("SELECT count(*) FROM sync_log").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a Fieldbook server database: {exc}") from exc
    finally:
        conn.close()
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")


def copy_database(source: sqlite3.Connection, target_path: str) -> None:
    """Copy ``source`` to a new file at ``target_path`` in one backup step, then verify it."""
    partial = target_path + ".partial"
    target = sqlite3.connect(partial)
    try:
        source.backup(target)  # pages=-1: one step, one read snapshot; WAL writers are not blocked
        target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        target.close()
    _check(partial)
    os.replace(partial, target_path)


def create_backup(data_dir: str, backup_dir: str | None = None, keep: int = DEFAULT_KEEP,
                  now: datetime | None = None) -> Path:
    """Back up the server database of ``data_dir`` and prune to the newest ``keep``; return the file."""
    if keep < 1:
        raise BackupError("--keep must be at least 1.")
    path = db.db_path(data_dir)
    if not os.path.exists(path):
        raise BackupError(f"No server database in {data_dir!r}.")
    folder = Path(backup_dir or default_dir(data_dir))
    folder.mkdir(parents=True, exist_ok=True)
    moment = now or datetime.now(timezone.utc)
    target = folder / backup_name(moment)
    # outside the store: a backup only reads and must not run migrations against a live server's file
    source = sqlite3.connect(path, timeout=30)
    try:
        copy_database(source, str(target))
    finally:
        source.close()
    for old in list_backups(str(folder))[:-keep]:
        old.unlink()
    return target


def in_use(path: str) -> bool:
    """True if another connection holds the WAL database at ``path`` open (a running server).

    SQLite deletes the ``-wal`` file when the last connection closes; if it survives our own
    open-and-close, someone else still has the database open.
    """
    if not os.path.exists(path + "-wal"):
        return False
    conn = sqlite3.connect(path)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        conn.close()
    return os.path.exists(path + "-wal")


def restore_backup(backup_file: str, data_dir: str, overwrite: bool = False) -> str:
    """Copy ``backup_file`` into ``data_dir`` as its server database; return the database path."""
    if not os.path.isfile(backup_file):
        raise BackupError(f"No backup file {backup_file!r}.")
    _check(backup_file)
    path = db.db_path(data_dir)
    if os.path.exists(path):
        if in_use(path):
            raise BackupError(f"{path} is open in another process: stop the server first.")
        if not overwrite:
            raise BackupError(f"{path} exists; pass --yes to replace it with the backup.")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
        source.close()
    _check(path)
    return path
