"""Benchmark the sync engine; prints ONE JSON object.

(a) ``write_ratio``: a 15-field customer edit through ``ReplicaStore.update`` on a file-backed WAL
    database vs a plain SQLite ``UPDATE`` of 15 columns (same pragmas, one transaction each).
(b) ``apply_changes_per_s`` / ``apply_ratio``: the server applying pushed changes through
    ``SyncServer.handle_push`` in engine-sized batches, vs plain SQLite inserts of the same change
    rows in the same batches (``apply_ratio`` = engine time / plain time: the slowdown factor).
(c) ``pull_records_per_s``: a client pulling every record into an empty replica through
    ``SyncEngine`` over ``InMemoryTransport`` (JSON round trip included).

Usage: ``python -m scripts.bench.sync_bench [--n 100000]`` (targets: (a) <= 3, (b) >= 20,000/s,
(c) >= 20,000/s). Time is measured with ``perf_counter``; the clock the engine sees is manual.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from typing import Any

import sqlite_utils

from shared.schemas import REGISTRY
from sync import InMemoryTransport, ManualClock, Principal, ReplicaStore, ServerStore, SyncEngine, SyncServer
from sync.document import RecordDocument, Stamp
from sync.protocol import SCHEMA_VERSION
from sync.store import new_id

FIELDS = ("name", "level", "source", "industry", "phone", "mobile", "email", "wechat", "qq",
          "province", "city", "address", "owner_id", "kind", "is_hot")
PUSH_ITEMS = 200  # the engine's default max_items per push


def edit_values(n: int) -> dict[str, Any]:
    values: dict[str, Any] = {f: f"{f}-{n}" for f in FIELDS}
    values["kind"] = "company" if n % 2 else "person"
    values["is_hot"] = bool(n % 2)
    values["email"] = f"rep{n}@example.com"
    return values


def open_db(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def bench_write(tmp: str, records: int, edits: int) -> dict[str, Any]:
    """(a) local write cost: engine edit vs plain UPDATE, per edit."""
    clock = ManualClock()
    store = ReplicaStore.open(os.path.join(tmp, "replica.db"), REGISTRY, clock)
    ids = [store.create("customer", edit_values(0), "rep") for _ in range(records)]
    plain = open_db(os.path.join(tmp, "plain.db"))
    cols = ", ".join(f"[{f}] TEXT" for f in FIELDS)
    plain.execute(f"CREATE TABLE customers (id TEXT PRIMARY KEY, {cols})")
    plain.executemany(f"INSERT INTO customers VALUES (?, {', '.join('?' for _ in FIELDS)})",
                      [(i, *(str(v) for v in edit_values(0).values())) for i in ids])
    sets = ", ".join(f"[{f}] = ?" for f in FIELDS)

    started = time.perf_counter()
    for n in range(1, edits + 1):
        clock.advance(1000)
        for rid in ids:
            store.update("customer", rid, edit_values(n), "rep")
    engine_s = time.perf_counter() - started

    started = time.perf_counter()
    for n in range(1, edits + 1):
        values = [str(v) for v in edit_values(n).values()]
        for rid in ids:
            plain.execute("BEGIN IMMEDIATE")
            plain.execute(f"UPDATE customers SET {sets} WHERE id = ?", [*values, rid])
            plain.execute("COMMIT")
    plain_s = time.perf_counter() - started
    count = records * edits
    assert store.get("customer", ids[0])["phone"] == f"phone-{edits}"
    # The floor under (a): the same 15-field edit on an in-memory record document alone (Automerge
    # transaction with the per-field edit stamps), no save and no SQLite, on fresh documents.
    docs = [RecordDocument.new(bytes(16), {"deleted": False, **edit_values(0)}, Stamp(1, "rep", "s"), ("remark",))
            for _ in range(records)]
    started = time.perf_counter()
    for n in range(1, edits + 1):
        for doc in docs:
            doc.set_fields(edit_values(n), Stamp(1 + n, "rep", "s"), ("remark",))
    document_s = time.perf_counter() - started
    store.db.conn.close()
    plain.close()
    return {
        "write_edits": count,
        "write_engine_us_per_edit": round(engine_s / count * 1e6, 1),
        "write_plain_us_per_edit": round(plain_s / count * 1e6, 1),
        "write_ratio": round(engine_s / plain_s, 2),
        "write_document_only_us_per_edit": round(document_s / count * 1e6, 1),
        "write_document_only_ratio": round(document_s / plain_s, 2),
    }


def make_pushes(
    n_changes: int, device: str, edits: int = 2, max_records: int | None = None
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, bytes]]]:
    """Push messages as the engine builds them: new customers plus ``edits`` later edits each."""
    actor = uuid.UUID(device).bytes
    items: list[dict[str, Any]] = []
    rows: list[tuple[str, str, str, bytes]] = []
    seq = 0
    while seq < n_changes and (max_records is None or len(items) < max_records):
        rid = new_id()
        stamp = Stamp(1_767_225_600_000, "rep", device)
        doc = RecordDocument.new(actor, {"deleted": False, **edit_values(seq)}, stamp, ("remark",))
        for k in range(edits):  # later edits of a few fields, as a rep would make
            doc.set_fields({"phone": f"p{seq}-{k}", "city": f"c{k}"}, Stamp(stamp.ms + k + 1, "rep", device))
        changes = doc.changes_since([])[: n_changes - seq]
        outbox = list(range(seq + 1, seq + 1 + len(changes)))
        seq += len(changes)
        items.append({"entity": "customer", "record_id": rid, "outbox": outbox,
                      "changes": [base64.b64encode(c.data).decode() for c in changes]})
        rows += [("customer", rid, c.hash, c.data) for c in changes]
    messages, batch, size = [], [], 0
    for item in items:
        if batch and size + len(item["outbox"]) > PUSH_ITEMS:
            messages.append({"schema_version": SCHEMA_VERSION, "device_id": device, "items": batch})
            batch, size = [], 0
        batch.append(item)
        size += len(item["outbox"])
    if batch:
        messages.append({"schema_version": SCHEMA_VERSION, "device_id": device, "items": batch})
    return messages, rows


def bench_apply(tmp: str, n: int) -> tuple[dict[str, Any], SyncServer, ManualClock]:
    """(b) server apply of pushed changes vs plain inserts of the same rows."""
    clock = ManualClock()
    conn = open_db(os.path.join(tmp, "server.db"))
    store = ServerStore(sqlite_utils.Database(conn), REGISTRY, clock)
    server = SyncServer(store)
    device = str(uuid.uuid4())
    principal = Principal("rep", device)
    messages, rows = make_pushes(n, device)

    started = time.perf_counter()
    acked = 0
    for message in messages:
        acked += len(server.handle_push(principal, message)["acked"])
    engine_s = time.perf_counter() - started
    assert acked == len(rows) == n

    plain = open_db(os.path.join(tmp, "plain_apply.db"))
    plain.execute("CREATE TABLE changes (seq INTEGER PRIMARY KEY, entity TEXT, record_id TEXT, hash TEXT, data BLOB, UNIQUE (entity, record_id, hash))")
    started = time.perf_counter()
    pos = 0
    for message in messages:
        count = sum(len(i["outbox"]) for i in message["items"])
        plain.execute("BEGIN IMMEDIATE")
        plain.executemany("INSERT INTO changes (entity, record_id, hash, data) VALUES (?, ?, ?, ?)", rows[pos:pos + count])
        plain.execute("COMMIT")
        pos += count
    plain_s = time.perf_counter() - started
    plain.close()
    records = store.db.execute("SELECT count(*) FROM sync_docs").fetchone()[0]
    return {
        "apply_changes": n,
        "apply_records": records,
        "apply_batches": len(messages),
        "apply_seconds": round(engine_s, 2),
        "apply_changes_per_s": round(n / engine_s),
        "apply_plain_inserts_per_s": round(n / plain_s),
        "apply_ratio": round(engine_s / plain_s, 1),
    }, server, clock


def bench_pull(tmp: str, server: SyncServer, clock: ManualClock, records: int) -> dict[str, Any]:
    """(c) an empty replica pulls every record."""
    store = ReplicaStore.open(os.path.join(tmp, "puller.db"), REGISTRY, clock)
    have = server.store.db.execute("SELECT count(*) FROM sync_docs").fetchone()[0]
    if have < records:  # top up with more pushed records (untimed)
        device = str(uuid.uuid4())
        messages, _ = make_pushes(10 * records, device, edits=0, max_records=records - have)
        for message in messages:
            server.handle_push(Principal("rep", device), message)
    total = server.store.db.execute("SELECT count(*) FROM sync_docs").fetchone()[0]
    transport = InMemoryTransport(server, Principal("boss", store.site_id))
    engine = SyncEngine(store, transport, clock, pull_limit=500)
    started = time.perf_counter()
    report = engine.run_once()
    seconds = time.perf_counter() - started
    pulled = store.db.execute("SELECT count(*) FROM customers").fetchone()[0]
    assert pulled == total and store.digest() == server.store.digest()
    store.db.conn.close()
    return {
        "pull_records": pulled,
        "pull_seconds": round(seconds, 2),
        "pull_records_per_s": round(pulled / seconds),
        "pull_round_trips": report.round_trips,
        "pull_bytes": report.bytes,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="changes applied and records pulled")
    parser.add_argument("--write-records", type=int, default=200)
    parser.add_argument("--write-edits", type=int, default=5, help="15-field edits per record")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"n": args.n, "python": platform.python_version(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(bench_write(tmp, args.write_records, args.write_edits))
        applied, server, clock = bench_apply(tmp, args.n)
        result.update(applied)
        result.update(bench_pull(tmp, server, clock, args.n))
        server.store.db.conn.close()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
