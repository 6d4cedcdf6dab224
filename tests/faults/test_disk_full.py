"""The client's disk fills up in the middle of a pull (SQLite ``PRAGMA max_page_count``).

A page that cannot be written fails with SQLITE_FULL and is rolled back whole: the cursor stays at
the last committed page, no row of the failed page is stored, and the error reaches the caller as
an exception (the sync worker logs it and retries), never a half-applied page. Once space is back,
the next sync resumes from the cursor and the replica converges with the server.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from shared.schemas import REGISTRY
from sync import InMemoryTransport, ManualClock, Principal, ReplicaStore, ServerStore, SyncEngine, SyncServer, accept_all
from sync.scope import Everything

RECORDS = 240
PAGE = 40


class RecordingTransport(InMemoryTransport):
    """Keep every pull answer, to know which pages the replica received."""

    def __init__(self, server: SyncServer, principal: Principal) -> None:
        super().__init__(server, principal)
        self.pulls: list[dict[str, Any]] = []

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        answer = super().pull(message)
        self.pulls.append(json.loads(json.dumps(answer)))
        return answer


def _ids(store: ReplicaStore) -> set[str]:
    return {r for (r,) in store.db.execute("SELECT id FROM customers")} | {r for (r,) in store.db.execute("SELECT id FROM sync_docs")}


def _pages(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA page_count").fetchone()[0])


@pytest.fixture
def world(tmp_path: Path) -> Any:
    clock = ManualClock()
    server_store = ServerStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
    server = SyncServer(server_store, accept_all, Everything())
    writer = ReplicaStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
    for n in range(RECORDS):
        writer.create("customer", {"kind": "company", "name": f"杭州明达机械有限公司-{n}", "remark": "备注" * 200}, "u1")
    SyncEngine(writer, InMemoryTransport(server, Principal("u1", writer.site_id)), clock).run_once()
    target = ReplicaStore.open(str(tmp_path / "client.db"), REGISTRY, clock)
    transport = RecordingTransport(server, Principal("u2", target.site_id))
    engine = SyncEngine(target, transport, clock, pull_limit=PAGE)
    yield writer, target, transport, engine
    target.close()


def _fill_disk_mid_pull(target: ReplicaStore, engine: SyncEngine) -> sqlite3.OperationalError:
    """Cap the database so that a pull page fails part-way; return the error the sync raised."""
    conn = target.db.conn  # max_page_count is per connection: this thread's, which the engine uses
    per_record = 1 + len(("备注" * 200).encode()) // 4096
    conn.execute(f"PRAGMA max_page_count = {_pages(conn) + int(per_record * PAGE * 1.5) + 8}")
    with pytest.raises(sqlite3.OperationalError) as failed:
        engine.run_once()
    conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
    return failed.value


def test_a_pull_page_that_hits_a_full_disk_is_rolled_back_whole_and_the_next_sync_gets_every_row(world: Any) -> None:
    writer, target, transport, engine = world
    _fill_disk_mid_pull(target, engine)
    committed = transport.pulls[:-1]  # the last answer is the page that did not fit
    assert len(committed) >= 1, "the disk filled before any page: make the room larger"
    expected = {r["record_id"] for page in committed for r in page["records"]}
    assert _ids(target) == expected, "a failed page left rows behind or a committed page lost some"
    assert target.cursor == committed[-1]["cursor"], "the cursor moved past the failed page"
    assert transport.pulls[-1]["records"] and {r["record_id"] for r in transport.pulls[-1]["records"]}.isdisjoint(_ids(target))

    report = engine.run_once()
    assert report.pulled >= RECORDS - len(expected)
    assert sorted(r["id"] for r in target.rows("customer")) == sorted(r["id"] for r in writer.rows("customer"))
    assert target.recompute_digest() == writer.digest()


def test_a_full_disk_is_reported_as_such_and_leaves_the_replica_digest_right(world: Any) -> None:
    writer, target, transport, engine = world
    error = _fill_disk_mid_pull(target, engine)
    assert "full" in str(error), f"the sync raised {error!r} instead of SQLITE_FULL"
    assert target.digest() == target.recompute_digest()
    engine.run_once()
    assert target.digest() == writer.digest()
    assert engine.run_once().repaired == 0
