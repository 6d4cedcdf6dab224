"""Backup while two real clients sync, restore into a fresh server, clients continue.

Two managers' clients edit and ``POST /api/sync`` in a loop while ``fieldbook backup`` runs three
times (retention keeps two). The clients keep syncing after the last backup, so the old server
acknowledged changes the backup lacks. The old server stops; the newest backup is restored into a
fresh data dir and a new server starts on another port.

- With ``fieldbook reseed --server NEW`` on each client, everything comes back: the restored server
  ends with every customer the old one had, with the same values, and the clients keep working.
- Without it (the device row just re-pointed), an ordinary sync recovers too: the cursor past the
  restored log makes the server re-check the device's scope, the checksum differs, and the repair
  asks the device to send again the records the restored server has never seen.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from e2e.harness import ADMIN_PASSWORD, Api, Cluster, Proc, free_port, fieldbook_cmd, process_env, run

pytestmark = pytest.mark.e2e

USERS = {"laptop_a": ("zhang", "zhang-pass-1"), "laptop_b": ("wang", "wang-pass-1")}
KEYS = ("id", "name", "phone", "city", "remark", "owner_id")


def _customers(api: Api) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        got = api.get("/api/customers", params={"per_page": 200, "page": page})
        out.update({c["id"]: {k: c.get(k) for k in KEYS} for c in got["items"]})
        if len(out) >= got["total"] or not got["items"]:
            return out
        page += 1


def _busy(name: str, api: Api, stop: threading.Event, errors: list[str]) -> None:
    """Edit and sync until told to stop; a sync must never fail while a backup runs."""
    n = 0
    while not stop.is_set() or n < 3:
        n += 1
        try:
            created = api.post("/api/customers", {"kind": "company", "name": f"备份客户-{name}-{n}", "phone": f"0571-{n}"})
            api.patch(f"/api/customers/{created['id']}", {"city": "杭州", "remark": f"{name} 第{n}次修改"})
            report = api.sync()
            assert report["rejected"] == 0, report
        except AssertionError as exc:
            errors.append(f"{name}: {exc}")
            return


class Restored:
    """The state after a backup taken mid-sync was restored into a fresh server on a new port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cluster = Cluster(root)
        self.apis: dict[str, Api] = {}
        for name, (username, password) in USERS.items():
            self.cluster.add_user(username, password, "sales_manager")
            self.cluster.enroll(name, username, password)
            self.apis[name] = Api(self.cluster.clients[name].url, username, password)
        backups = root / "backups"
        stop = threading.Event()
        errors: list[str] = []
        workers = [threading.Thread(target=_busy, args=(n, a, stop, errors)) for n, a in self.apis.items()]
        for w in workers:
            w.start()
        try:
            for _ in range(3):
                run("backup", "--data", str(self.cluster.server.data), "--to", str(backups), "--keep", "2")
        finally:
            stop.set()
            for w in workers:
                w.join(timeout=120)
        assert not errors, errors
        self.backups = sorted(backups.iterdir())
        for api in self.apis.values():
            api.sync()
        self.truth = _customers(Api(self.cluster.server.url, "admin", ADMIN_PASSWORD))
        self.cluster.server.stop()

        self.server = Proc("server", root / "restored", free_port(), root / "restored.log")
        run("restore", "--data", str(self.server.data), "--from", str(self.backups[-1]))
        self.server.start()
        self.cluster.clients["restored"] = self.server  # closed with the cluster
        self.admin = Api(self.server.url, "admin", ADMIN_PASSWORD)

    def close(self) -> None:
        self.cluster.close()


@pytest.fixture
def restored(tmp_path: Path) -> Any:
    state = Restored(tmp_path)
    try:
        yield state
    finally:
        state.close()


def test_backup_while_syncing_then_reseed_brings_everything_back(restored: Restored) -> None:
    import subprocess

    assert len(restored.backups) == 2 and all(p.name.startswith("server-") for p in restored.backups)
    behind = _customers(restored.admin)
    assert set(behind) < set(restored.truth), "the backup should miss changes acked after it"
    # an existing database is not replaced without --yes
    refused = subprocess.run(fieldbook_cmd("restore", "--data", str(restored.server.data), "--from", str(restored.backups[0])),
                             env=process_env(), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "open in another process" in refused.stderr

    for name in USERS:
        out = run("reseed", "--data", str(restored.cluster.clients[name].data), "--server", restored.server.url).stdout
        assert "queued" in out
    for _ in range(2):
        for api in restored.apis.values():
            assert api.sync()["rejected"] == 0
    assert _customers(restored.admin) == restored.truth
    for api in restored.apis.values():
        assert api.get("/api/sync/status")["pending"] == 0
        assert _customers(api) == restored.truth

    a, b = restored.apis["laptop_a"], restored.apis["laptop_b"]
    fresh = a.post("/api/customers", {"kind": "company", "name": "恢复后的新客户"})
    a.sync()
    b.sync()
    assert _customers(b)[fresh["id"]]["name"] == "恢复后的新客户"


def test_an_ordinary_sync_after_restore_recovers_without_reseed(restored: Restored) -> None:
    for name in USERS:
        conn = sqlite3.connect(restored.cluster.clients[name].data / "client.db")
        with conn:
            conn.execute("UPDATE device SET server_url = ? WHERE id = 1", [restored.server.url])
        conn.close()
    for _ in range(2):
        for api in restored.apis.values():
            api.sync()
    for api in restored.apis.values():
        assert set(_customers(api)) == set(restored.truth), "the repair evicted records the restore lost"
    assert _customers(restored.admin) == restored.truth
