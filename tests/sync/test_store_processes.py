"""Two store objects on one database file, as two processes would have: caches never lose writes."""
from __future__ import annotations

import threading
from pathlib import Path

from shared.schemas import REGISTRY
from sync import ManualClock, ReplicaStore


def test_a_write_through_another_store_is_not_lost_by_a_cached_document(tmp_path: Path) -> None:
    path = str(tmp_path / "replica.db")
    clock = ManualClock()
    first = ReplicaStore.open(path, REGISTRY, clock)
    second = ReplicaStore.open(path, REGISTRY, clock)
    cid = first.create("customer", {"kind": "company", "name": "甲", "phone": "1"}, "u")
    first.update("customer", cid, {"phone": "2"}, "u")  # the document is now cached in `first`
    second.update("customer", cid, {"email": "b@example.com"}, "u")  # another process edits it
    # a thread that has not written before must also see it (a per-connection check would not)
    writer = threading.Thread(target=lambda: first.update("customer", cid, {"mobile": "13900000000"}, "u"))
    writer.start()
    writer.join()
    for store in (first, second):
        row = store.get("customer", cid)
        assert (row["phone"], row["email"], row["mobile"]) == ("2", "b@example.com", "13900000000")
        assert store.document("customer", cid).values()["email"] == "b@example.com"
    assert first.recompute_digest() == first.digest()
    first.close()
    second.close()


def test_threads_write_through_their_own_connections(tmp_path: Path) -> None:
    store = ReplicaStore.open(str(tmp_path / "replica.db"), REGISTRY, ManualClock())
    ids: list[str] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                ids.append(store.create("customer", {"kind": "person", "name": f"客户{n}-{i}"}, f"u{n}"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 80
    assert store.db.execute("SELECT count(*) FROM customers").fetchone()[0] == 80
    assert store.pending_count() == 80
    assert store.recompute_digest() == store.digest()
    store.close()
