"""The device side of sync: push the outbox, pull until caught up, verify the scope checksum.

``SyncEngine(store, transport, clock).run_once()`` is resumable after an exception at any point:
each push answer is committed with its acks in one transaction, each pull page with its cursor,
and the server treats every re-delivery as a no-op.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from .clock import Clock, SystemClock
from .document import MissingDependencies
from .protocol import (
    SCHEMA_VERSION,
    PushItems,
    PullResponseSchema,
    PushResponseSchema,
    load,
)
from .store import ReplicaStore
from .transport import Transport


@dataclass
class SyncReport:
    pushed: int = 0
    pulled: int = 0
    rejected: int = 0
    conflicts: int = 0
    evicted: int = 0
    repaired: int = 0
    bytes: int = 0
    round_trips: int = 0
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SyncEngine:
    """Synchronise one replica with the server through a transport."""

    def __init__(
        self,
        store: ReplicaStore,
        transport: Transport,
        clock: Clock | None = None,
        *,
        device_id: str | None = None,
        max_items: int = 200,
        max_bytes: int = 1_000_000,
        pull_limit: int = 500,
        app_version: str | None = None,
        user_id: str | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock or SystemClock()
        self.device_id = device_id or store.site_id
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.pull_limit = pull_limit
        self.app_version = app_version
        self.user_id = user_id  # whose events this device may send again if the server lost them

    def run_once(self) -> SyncReport:
        """Push everything pending, then pull until the server says there is no more."""
        started = time.perf_counter()
        report = SyncReport()
        before = self.transport.bytes_sent + self.transport.bytes_received
        self._push(report)
        if self._pull(report):  # the server asked for records it lost: send them, then catch up
            self._push(report)
            self._pull(report)
        report.bytes = self.transport.bytes_sent + self.transport.bytes_received - before
        report.duration_ms = (time.perf_counter() - started) * 1000
        return report

    def _learn_time(self, server_ms: int) -> None:
        offset = server_ms - self.clock.now_ms()
        current = self.store.now_ms() - self.store.clock.now_ms()
        if abs(offset - current) > 1000:
            self.store.set_clock_offset(offset)

    def _push(self, report: SyncReport) -> None:
        while True:
            batch = self.store.outbox_batch(self.max_items, self.max_bytes)
            if not batch:
                return
            items: list[dict[str, Any]] = []
            by_record: dict[tuple[str, str], dict[str, Any]] = {}
            for row in batch:
                if row["kind"] == "event":
                    items.append({"entity": row["entity"], "record_id": row["record_id"], "outbox": [row["seq"]],
                                  "event": json.loads(row["payload"])})
                    continue
                key = (row["entity"], row["record_id"])
                if key not in by_record:  # a record's changes form one item, placed where it first appears
                    by_record[key] = {"entity": row["entity"], "record_id": row["record_id"], "outbox": [], "changes": []}
                    items.append(by_record[key])
                by_record[key]["outbox"].append(row["seq"])
                by_record[key]["changes"].append(row["payload"])
            message = {
                "schema_version": SCHEMA_VERSION,
                "device_id": self.device_id,
                "items": PushItems()._serialize(items, None, None),
            }
            answer = load(PushResponseSchema, self.transport.push(message))
            report.round_trips += 1
            with self.store.write():
                self.store.ack(answer["acked"])
                self._take_rejections(answer["rejections"], report)
            report.pushed += len(answer["acked"])
            report.conflicts += answer["conflicts"]
            self._learn_time(answer["server_ms"])
            if not answer["acked"]:
                return  # the server took nothing: do not spin

    def _take_rejections(self, rejections: list[dict[str, Any]], report: SyncReport) -> None:
        for rejection in rejections:
            if self.store.add_rejection(rejection):  # the push answer and the pull may both carry it
                report.rejected += 1
            detail = rejection.get("detail") or {}
            if rejection["kind"] == "record" and isinstance(detail, dict) and detail.get("drop"):
                self.store.drop_outbox_for(rejection["entity"], rejection["record_id"])
                self.store.evict(rejection["entity"], rejection["record_id"])

    def _pull(self, report: SyncReport) -> bool:
        """Pull until caught up; True if records were queued again for the server."""
        repairs = 0
        requeued = 0
        manifest: list[list[str]] | None = None
        while True:
            pending = self.store.pending_count()
            message: dict[str, Any] = {
                "schema_version": SCHEMA_VERSION,
                "device_id": self.device_id,
                "cursor": self.store.cursor,
                "checksum": self.store.digest() if pending == 0 else None,
                "limit": self.pull_limit,
                "pending": pending,
            }
            if self.app_version:
                message["app_version"] = self.app_version
            if manifest is not None:
                message["manifest"] = manifest
                manifest = None
            answer = load(PullResponseSchema, self.transport.pull(message))
            report.round_trips += 1
            broken = False
            with self.store.write():
                for eviction in answer["evictions"]:
                    self.store.evict(eviction["entity"], eviction["record_id"])
                    report.evicted += 1
                broken |= not self._apply_records(answer["records"])
                report.pulled += len(answer["records"])
                self._take_rejections(answer["rejections"], report)
                for ref in answer["resend"]:
                    requeued += self.store.requeue(ref["entity"], ref["record_id"], author=self.user_id)
                self.store.set_cursor(answer["cursor"])
            self._learn_time(answer["server_ms"])
            if answer["more"]:
                continue
            mismatch = answer["checksum"] is not None and self.store.pending_count() == 0 and answer["checksum"] != self.store.digest()
            if (broken or mismatch) and repairs < 2:
                repairs += 1
                report.repaired += 1
                manifest = [list(m) for m in self.store.manifest()]
                continue
            return requeued > 0

    def _apply_records(self, records: list[dict[str, Any]]) -> bool:
        """Apply a page: whole documents and events in bulk, then changes record by record."""
        whole = [r for r in records if r.get("document") is not None and r.get("row") is not None and r.get("heads") is not None]
        for record in self.store.receive_documents(whole):
            self.store.merge_document(record["entity"], record["record_id"], record["document"])
        for record in records:
            if record.get("document") is not None and (record.get("row") is None or record.get("heads") is None):
                self.store.merge_document(record["entity"], record["record_id"], record["document"])
        intact = True
        for record in records:
            if record.get("changes"):
                try:
                    self.store.apply_changes(record["entity"], record["record_id"], record["changes"])
                except MissingDependencies:
                    intact = False
        events: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            if record.get("event") is not None:
                events.setdefault(record["entity"], []).append(record["event"])
        for entity, rows in events.items():
            self.store.put_events(entity, rows)
        return intact
