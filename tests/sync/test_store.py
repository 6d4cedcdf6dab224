"""The store contract: every store (client replica, server) passes the same class of tests."""
from __future__ import annotations

from typing import Any

import pytest
import sqlite_utils

from shared.schemas import REGISTRY
from sync import ManualClock, RecordNotFound, ReplicaStore, ServerStore
from sync_testkit import customer, visit


def recorded(store: ReplicaStore) -> list[tuple[str, str, str]]:
    """Where local writes go for others to receive: the outbox (client) or the log (server)."""
    table = "sync_log" if isinstance(store, ServerStore) else "sync_outbox"
    return [tuple(r) for r in store.db.execute(f"SELECT kind, entity, record_id FROM {table} ORDER BY 1, 2, 3")]


def doc_count(store: ReplicaStore) -> int:
    return int(store.db.execute("SELECT count(*) FROM sync_docs").fetchone()[0])


class TestStoreContract:
    """Run against ``ReplicaStore`` and ``ServerStore`` via the ``store`` fixture."""

    def test_create_materializes_and_records(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer("ACME", phone="1", is_hot=True), "u1")
        row = store.get("customer", cid)
        assert row["name"] == "ACME" and row["phone"] == "1" and row["is_hot"] is True
        assert row["deleted"] is False and row["remark"] == "" and row["conflicts"] == []
        assert row["updated_at"] == "2026-01-01T00:00:00.000+00:00"
        assert store.document("customer", cid).values()["name"] == "ACME"
        assert {r[2] for r in recorded(store)} == {cid}
        assert store.doc_heads("customer", cid) == store.document("customer", cid).heads()
        with pytest.raises(ValueError):
            store.create("customer", customer("dup"), "u1", record_id=cid)
        with pytest.raises(ValueError):
            store.create("customer", {"kind": "company", "name": "x", "nope": 1}, "u1")
        with pytest.raises(ValueError):
            store.create("visit", visit(cid), "u1")  # an event is not a document

    def test_update_changes_only_what_differs(self, store: ReplicaStore, clock: ManualClock) -> None:
        cid = store.create("customer", customer(phone="1"), "u1")
        n = len(recorded(store))
        clock.advance(60_000)
        store.update("customer", cid, {"phone": "2", "city": "Chengdu"}, "u2")
        row = store.get("customer", cid)
        assert (row["phone"], row["city"]) == ("2", "Chengdu")
        assert row["updated_at"] == "2026-01-01T00:01:00.000+00:00"
        assert len(recorded(store)) == n + 1
        store.update("customer", cid, {"phone": "2"}, "u2")  # no change, no new change
        assert len(recorded(store)) == n + 1
        with pytest.raises(RecordNotFound):
            store.update("customer", "no-such-id", {"phone": "3"}, "u1")
        with pytest.raises(RecordNotFound):
            store.get("customer", "no-such-id")

    def test_splice_text(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer(remark="hello"), "u1")
        store.splice_text("customer", cid, "remark", 5, 0, " world", "u1")
        assert store.get("customer", cid)["remark"] == "hello world"
        with pytest.raises(ValueError):
            store.splice_text("customer", cid, "name", 0, 0, "x", "u1")

    def test_delete_keeps_the_row_flagged(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer(), "u1")
        other = store.create("customer", customer("Other"), "u1")
        store.delete("customer", cid, "u1")
        row = store.get("customer", cid)
        assert row["deleted"] is True and row["name"] == "ACME"
        assert [r["id"] for r in store.rows("customer", "deleted = 1")] == [cid]
        assert {r["id"] for r in store.rows("customer")} == {cid, other}
        assert store.document("customer", cid).get("deleted") is True
        assert doc_count(store) == 2

    def test_events_are_deduplicated_by_id(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer(), "u1")
        vid = store.add_event("visit", visit(cid), "u1")
        row = store.event_row("visit", vid)
        assert row is not None and row["author_id"] == "u1" and row["content"] == "called"
        n = len(recorded(store))
        digest = store.digest()
        assert store.put_event("visit", row) is False
        assert store.add_event("visit", visit(cid, "again"), "u1", event_id=vid) == vid
        assert len(store.rows("visit")) == 1
        assert store.event_row("visit", vid)["content"] == "called"
        assert len(recorded(store)) == n
        assert store.digest() == digest == store.recompute_digest()
        with pytest.raises(ValueError):
            store.add_event("customer", visit(cid), "u1")

    def test_received_event_replaces_local_copy_of_other_clock(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer(), "u1")
        vid = store.add_event("visit", visit(cid), "u1")
        row = dict(store.event_row("visit", vid))
        row["hlc"] = "001767225600000.000009.server"
        assert store.put_event("visit", row) is True
        assert store.event_row("visit", vid)["hlc"] == row["hlc"]
        assert len(store.rows("visit")) == 1
        assert store.digest() == store.recompute_digest()

    def test_write_failure_rolls_back_record_and_outbox(self, store: ReplicaStore) -> None:
        digest, before = store.digest(), recorded(store)
        with pytest.raises(RuntimeError):
            with store.write():
                cid = store.create("customer", customer(), "u1")
                store.add_event("visit", visit(cid), "u1")
                assert recorded(store) != before  # visible inside the transaction
                raise RuntimeError("crash mid-write")
        assert doc_count(store) == 0
        assert store.rows("customer") == [] and store.rows("visit") == []
        assert recorded(store) == before
        assert store.digest() == digest

    def test_failed_update_keeps_the_previous_state(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer(phone="1"), "u1")
        heads, before, digest = store.doc_heads("customer", cid), recorded(store), store.digest()
        with pytest.raises(RuntimeError):
            with store.write():
                store.update("customer", cid, {"phone": "2"}, "u1")
                raise RuntimeError("crash")
        assert store.get("customer", cid)["phone"] == "1"
        assert store.doc_heads("customer", cid) == heads
        assert recorded(store) == before and store.digest() == digest

    def test_incremental_digest_matches_recompute(self, store: ReplicaStore, clock: ManualClock) -> None:
        other = ReplicaStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
        cid = store.create("customer", customer(), "u1")
        assert store.digest() == store.recompute_digest() != f"{0:032x}"
        store.update("customer", cid, {"phone": "9"}, "u1")
        store.add_event("visit", visit(cid), "u1")
        store.create("contact", {"customer_id": cid, "name": "Li"}, "u1")
        remote = other.create("customer", customer("Remote"), "u2")
        with store.write():
            store.apply_changes("customer", remote, [c.data for c in other.document("customer", remote).changes_since([])])
        other.update("customer", remote, {"city": "Wuhan"}, "u2")
        with store.write():
            store.merge_document("customer", remote, other.db.execute("SELECT data FROM sync_docs").fetchone()[0])
        assert store.get("customer", remote)["city"] == "Wuhan"
        assert store.digest() == store.recompute_digest()
        store.delete("customer", cid, "u1")
        with store.write():
            store.evict("customer", remote)
        assert store.digest() == store.recompute_digest()

    def test_evict_removes_record_and_children(self, store: ReplicaStore) -> None:
        cid = store.create("customer", customer(), "u1")
        keep = store.create("customer", customer("Keep"), "u1")
        contact = store.create("contact", {"customer_id": cid, "name": "Li"}, "u1")
        vid = store.add_event("visit", visit(cid), "u1")
        store.add_event("visit_void", {"visit_id": vid, "customer_id": cid, "voided_at": "2026-01-01T10:00:00+08:00"}, "u1")
        store.add_event("visit", visit(keep), "u1")
        with store.write():
            removed = store.evict("customer", cid)
        assert removed == 4
        for entity in ("customer", "contact"):
            ids = {r["id"] for r in store.rows(entity)}
            assert cid not in ids and contact not in ids
        assert [r["customer_id"] for r in store.rows("visit")] == [keep]
        assert store.rows("visit_void") == []
        assert store.doc_heads("customer", cid) is None and store.doc_heads("contact", contact) is None
        assert store.get("customer", keep)["name"] == "Keep"
        assert store.digest() == store.recompute_digest()
        with store.write():
            assert store.evict("customer", cid) == 0

    def test_apply_changes_from_another_replica(self, store: ReplicaStore, clock: ManualClock) -> None:
        other = ReplicaStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
        cid = other.create("customer", customer(phone="7"), "u2")
        changes = [c.data for c in other.document("customer", cid).changes_since([])]
        with store.write():
            added = store.apply_changes("customer", cid, changes)
        assert len(added) == len(changes)
        row = store.get("customer", cid)
        assert row == other.get("customer", cid)
        n = len(recorded(store))
        with store.write():
            assert store.apply_changes("customer", cid, changes) == []
        assert len(recorded(store)) == n  # received changes are not re-recorded as local writes

    def test_rejections_and_cursor(self, store: ReplicaStore) -> None:
        rejection: dict[str, Any] = {"id": "r1", "entity": "customer", "record_id": "c1", "field": "phone",
                                     "kind": "field", "reason": "nope", "detail": {"value": "x"}, "created_at": "2026-01-01T00:00:00+00:00"}
        store.add_rejection(rejection)
        store.add_rejection(rejection)
        assert [(r["id"], r["detail"]) for r in store.rejections()] == [("r1", {"value": "x"})]
        assert store.cursor == ""
        store.set_cursor("5:0")
        assert store.cursor == "5:0"

    def test_site_id_survives_reopening(self, tmp_path: Any, clock: ManualClock, store: ReplicaStore) -> None:
        path = str(tmp_path / "replica.db")
        first = ReplicaStore.open(path, REGISTRY, clock)
        cid = first.create("customer", customer(), "u1")
        first.db.conn.close()
        again = ReplicaStore.open(path, REGISTRY, clock)
        assert again.site_id == first.site_id != store.site_id
        assert again.get("customer", cid)["name"] == "ACME"
        assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        again.db.conn.close()
