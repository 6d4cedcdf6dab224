"""server.backup in process: timestamped copies with retention, refusals, restore into a fresh dir."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from server import backup, db, users
from server_testkit import PASSWORD


def test_backups_are_timestamped_verified_and_pruned(app: Flask, store: Any, tmp_path: Path) -> None:
    users.create_user(store, "rep1", PASSWORD, "sales_rep")
    data_dir = app.config["DATA_DIR"]
    start = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)
    made = [backup.create_backup(data_dir, str(tmp_path / "b"), keep=2, now=start + timedelta(minutes=m)) for m in range(3)]
    assert [p.name for p in backup.list_backups(str(tmp_path / "b"))] == [made[1].name, made[2].name]
    assert made[0].name == "server-20261122T080000000000Z.db" and not made[0].exists()
    assert not list((tmp_path / "b").glob("*.partial"))
    with pytest.raises(backup.BackupError):
        backup.create_backup(data_dir, str(tmp_path / "b"), keep=0)


def test_restore_into_a_fresh_dir_and_refusals(app: Flask, store: Any, tmp_path: Path) -> None:
    users.create_user(store, "rep1", PASSWORD, "sales_rep")
    data_dir = app.config["DATA_DIR"]
    made = backup.create_backup(data_dir, str(tmp_path / "b"))
    # the app's store still has the live database open: a restore over it is refused even with overwrite
    with pytest.raises(backup.BackupError, match="open in another process"):
        backup.restore_backup(str(made), data_dir, overwrite=True)
    fresh = str(tmp_path / "fresh")
    backup.restore_backup(str(made), fresh)
    try:
        restored = db.open_store(fresh)
        assert users.get_user_by_name(restored, "rep1") is not None
    finally:
        db.close_store(fresh)
    with pytest.raises(backup.BackupError, match="--yes"):
        backup.restore_backup(str(made), fresh)
    backup.restore_backup(str(made), fresh, overwrite=True)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(backup.BackupError, match="not a Fieldbook server database"):
        backup.restore_backup(str(tmp_path / "junk.db"), str(tmp_path / "other"))
    with pytest.raises(backup.BackupError, match="No backup file"):
        backup.restore_backup(str(tmp_path / "missing.db"), str(tmp_path / "other"))
