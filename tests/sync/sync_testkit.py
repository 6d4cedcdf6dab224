"""Helpers for the sync tests: a server plus client replicas on in-memory SQLite, and fault wrappers.

Everything here uses the real stores, server and engine; only the transport is wrapped to inject
faults (lost answers, failed sends, duplicated and stale re-deliveries).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import sqlite_utils

from shared.schemas import REGISTRY
from sync import (
    InMemoryTransport,
    ManualClock,
    Principal,
    ReplicaStore,
    ServerStore,
    SyncEngine,
    SyncServer,
    TransportUnavailable,
    accept_all,
)
from sync.scope import Everything

TABLES = ("customers", "contacts", "visits", "visit_voids")
VISITED_AT = "2026-01-01T09:30:00+08:00"


class FaultyTransport:
    """Wrap an ``InMemoryTransport``; ``faults`` is a queue of faults for the next pushes/pulls.

    - ``"before"``: raise ``TransportUnavailable`` without sending;
    - ``"after"``: the server processes the message, the answer is lost (raise);
    - ``"dup"``: the message is delivered twice (the second answer is what the client sees);
    - ``"replay"``: after delivering, re-deliver the oldest message ever sent (stale, out of order).
    """

    def __init__(self, inner: InMemoryTransport) -> None:
        self.inner = inner
        self.push_faults: list[str] = []
        self.pull_faults: list[str] = []
        self.sent_pushes: list[dict[str, Any]] = []
        self.delivered = 0

    @property
    def bytes_sent(self) -> int:
        return self.inner.bytes_sent

    @property
    def bytes_received(self) -> int:
        return self.inner.bytes_received

    def _send(self, faults: list[str], send: Callable[[dict[str, Any]], dict[str, Any]], message: dict[str, Any]) -> dict[str, Any]:
        fault = faults.pop(0) if faults else None
        if fault == "before":
            raise TransportUnavailable("injected: failed before sending")
        answer = send(message)
        self.delivered += 1
        if fault == "dup":
            answer = send(json.loads(json.dumps(message)))
            self.delivered += 1
        if fault == "replay" and self.sent_pushes:
            send(self.sent_pushes[0])
            self.delivered += 1
        if fault == "after":
            raise TransportUnavailable("injected: answer lost after the server committed")
        return answer

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        answer = self._send(self.push_faults, self.inner.push, message)
        self.sent_pushes.append(json.loads(json.dumps(message)))
        return answer

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._send(self.pull_faults, self.inner.pull, message)


@dataclass
class Client:
    user: str
    store: ReplicaStore
    transport: FaultyTransport
    engine: SyncEngine
    principal: Principal

    def sync(self) -> Any:
        return self.engine.run_once()


@dataclass
class World:
    """One server and any number of clients sharing a manual clock (unless given their own)."""

    validator: Any = accept_all
    scope: Any = None
    clock: ManualClock = field(default_factory=ManualClock)

    def __post_init__(self) -> None:
        self.server_store = ServerStore(sqlite_utils.Database(memory=True), REGISTRY, self.clock)
        self.server = SyncServer(self.server_store, self.validator, self.scope or Everything())
        self.clients: list[Client] = []

    def client(self, user: str = "u1", clock: Any = None, **engine_kw: Any) -> Client:
        clock = clock or self.clock
        store = ReplicaStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
        principal = Principal(user, store.site_id)
        transport = FaultyTransport(InMemoryTransport(self.server, principal))
        engine = SyncEngine(store, transport, clock, **engine_kw)
        c = Client(user, store, transport, engine, principal)
        self.clients.append(c)
        return c

    def sync_all(self, rounds: int = 5) -> int:
        """Sync every client until one whole round moves nothing; return rounds used."""
        for n in range(1, rounds + 1):
            moved = 0
            for c in self.clients:
                r = c.sync()
                moved += r.pushed + r.pulled + r.evicted + r.repaired + r.rejected
            if moved == 0:
                return n
        raise AssertionError(f"not quiescent after {rounds} rounds")


def table_rows(store: ReplicaStore, table: str, ids: set[str] | None = None) -> list[dict[str, Any]]:
    rows = [dict(r) for r in store.db.query(f"SELECT * FROM [{table}] ORDER BY id")]
    return [r for r in rows if ids is None or r["id"] in ids]


def snapshot(store: ReplicaStore, keys: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Materialized tables plus document values and conflict lists, optionally for some records only."""
    out: dict[str, Any] = {}
    for entity in REGISTRY:
        ids = None if keys is None else {i for e, i in keys if e == entity.name}
        out[entity.table] = table_rows(store, entity.table, ids)
        if entity.kind == "document":
            docs = {}
            for row in out[entity.table]:
                doc = store.document(entity.name, row["id"])
                docs[row["id"]] = (doc.values(), doc.conflicts(), doc.heads())
            out[f"{entity.name}_docs"] = docs
    return out


def customer(name: str = "ACME", **extra: Any) -> dict[str, Any]:
    return {"kind": "company", "name": name, **extra}


def visit(customer_id: str, content: str = "called") -> dict[str, Any]:
    return {"customer_id": customer_id, "method": "phone", "content": content, "visited_at": VISITED_AT}


def log_count(world: World) -> int:
    return int(world.server_store.db.execute("SELECT count(*) FROM sync_log").fetchone()[0])
