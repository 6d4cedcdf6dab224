"""The server side of sync: the change log, per-device scope state, push judging and pull paging.

``ServerStore`` is a replica whose local writes go to the log (``sync_log``, ``server_seq`` =
``seq``) instead of an outbox. ``SyncServer`` handles protocol messages from authenticated
devices: it applies a pushed batch in one transaction, resolves concurrent field writes by edit
time (clamped for skew), asks the validator, compensates rejected fields, refuses records
outside the user's scope, and pages pulls from the log and a per-device queue of whole records
(entering scope, repair) and evictions (leaving scope). It knows nothing of HTTP.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping, Sequence

import sqlite_utils
from marshmallow import ValidationError, fields, validate
from sqlite_utils.migrations import Migrations

from shared.schemas.registry import Entity, Registry

from .authority import Effects, FieldChange, Principal, RecordDiff, Validator, Verdict, accept_all
from .clock import DEFAULT_MAX_SKEW_MS, Clock, Hlc, clamp_to_receipt, iso_from_ms
from .document import ChangeInfo, InvalidChanges, MissingDependencies, RecordDocument, Stamp
from .errors import Forbidden, InvalidMessage
from .protocol import (
    PullRequestSchema,
    PullResponseSchema,
    PushRequestSchema,
    PushResponseSchema,
    check_version,
    dump,
    load,
)
from .scope import Everything, Scope
from .store import ReplicaStore, heads_list, heads_version, new_id, record_digest

_server_migrations = Migrations("fieldbook-sync-server")


@_server_migrations(name="server_tables")
def _server_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE sync_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, entity TEXT NOT NULL,"
        " record_id TEXT NOT NULL, item_key TEXT NOT NULL, payload BLOB NOT NULL, origin TEXT, target TEXT,"
        " UNIQUE (kind, entity, record_id, item_key))"
    )
    db.execute("CREATE INDEX sync_log_record ON sync_log (entity, record_id, seq)")
    db.execute(
        "CREATE TABLE sync_devices (device_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL DEFAULT -1,"
        " verified TEXT, last_pull_at TEXT, last_push_at TEXT)"
    )
    db.execute(
        "CREATE TABLE sync_device_records (device_id TEXT NOT NULL, entity TEXT NOT NULL, record_id TEXT NOT NULL,"
        " PRIMARY KEY (device_id, entity, record_id)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE sync_device_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,"
        " entity TEXT NOT NULL, record_id TEXT NOT NULL, action TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX sync_device_queue_device ON sync_device_queue (device_id, seq)")


@_server_migrations(name="device_report_columns")
def _device_report_columns(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE sync_devices ADD COLUMN pending INTEGER")
    db.execute("ALTER TABLE sync_devices ADD COLUMN app_version TEXT")


@_server_migrations(name="device_queue_sent")
def _device_queue_sent(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE sync_devices ADD COLUMN queue_sent INTEGER NOT NULL DEFAULT 0")


class _NotYet(Exception):
    """A pushed record's changes depend on changes the server has not received yet."""


class ServerStore(ReplicaStore):
    """The central replica: local writes are appended to the log other replicas pull from."""

    def __init__(self, db: sqlite_utils.Database | str, registry: Registry, clock: Clock) -> None:
        super().__init__(db, registry, clock)
        _server_migrations.apply(self.db)

    def now_ms(self) -> int:
        return self.clock.now_ms()  # the server's time is canonical

    def log_max(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(seq), 0) FROM sync_log").fetchone()[0])

    def scope_epoch(self) -> int:
        return int(self._meta("scope_epoch") or 0)

    def bump_scope_epoch(self) -> None:
        """Make every device re-check its scope on its next pull (owner, role or org changed)."""
        with self.write():
            self._set_meta("scope_epoch", str(self.scope_epoch() + 1))

    def log_change(self, entity: str, record_id: str, change_hash: str, data: bytes, origin: str | None) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sync_log (kind, entity, record_id, item_key, payload, origin) VALUES ('change', ?, ?, ?, ?, ?)",
            [entity, record_id, change_hash, data, origin],
        )

    def log_changes(self, entity: str, record_id: str, changes: Sequence[Any], origin: str | None) -> None:
        rows = [("change", entity, record_id, c.hash, c.data, origin, None) for c in changes]
        batch = self._batch()
        if batch is not None:  # written with the batch's documents and rows, in order
            batch.log += rows
            return
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO sync_log (kind, entity, record_id, item_key, payload, origin, target) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def log_event(self, entity: str, row: Mapping[str, Any], origin: str | None) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sync_log (kind, entity, record_id, item_key, payload, origin) VALUES ('event', ?, ?, ?, ?, ?)",
            [entity, row["id"], row["id"], json.dumps(dict(row), ensure_ascii=False).encode(), origin],
        )

    def log_rejection(self, rejection: Mapping[str, Any], target: str) -> None:
        row = ("rejection", rejection["entity"], rejection["record_id"], rejection["id"],
               json.dumps(dict(rejection), ensure_ascii=False).encode(), None, target)
        batch = self._batch()
        if batch is not None:
            batch.log.append(row)
            return
        self.db.execute(
            "INSERT OR IGNORE INTO sync_log (kind, entity, record_id, item_key, payload, origin, target) VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    def _record_local_changes(self, entity: Entity, record_id: str, changes: Sequence[Any]) -> None:
        self.log_changes(entity.name, record_id, changes, None)
        if entity.scope_fields:
            self._set_meta("scope_epoch", str(self.scope_epoch() + 1))

    def _record_local_event(self, entity: Entity, row: Mapping[str, Any]) -> None:
        self.log_event(entity.name, row, None)


class SyncServer:
    """Judge pushes and serve pulls for authenticated devices."""

    def __init__(
        self,
        store: ServerStore,
        validator: Validator = accept_all,
        scope: Scope | None = None,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
        effects: Effects | None = None,
    ) -> None:
        self.store = store
        self.effects = effects
        self.registry = store.registry
        self.validator = validator
        self.scope = scope or Everything()
        self.max_skew_ms = max_skew_ms
        self._schemas: dict[str, Any] = {}
        self._checks: dict[str, dict[str, Callable[[Any], bool]]] = {}
        self._holds: list[tuple[str, str, str]] | None = None
        self._scope_moved = False

    def _schema(self, entity: Entity) -> Any:
        """One schema instance per entity: building one deep-copies every field (hot in push)."""
        if entity.name not in self._schemas:
            self._schemas[entity.name] = entity.schema()
        return self._schemas[entity.name]

    # ---- push -------------------------------------------------------------------------------
    def handle_push(self, principal: Principal, payload: Any) -> dict[str, Any]:
        """Apply one pushed batch atomically; return per-item acks and rejections."""
        msg = load(PushRequestSchema, payload)
        check_version(msg["schema_version"])
        if msg["device_id"] != principal.device_id:
            raise Forbidden("The message names another device than the one authenticated.")
        for item in msg["items"]:
            self._check_item_shape(item)
        acked: list[int] = []
        rejections: list[dict[str, Any]] = []
        conflicts = 0
        store = self.store
        with store.write(), store.batched():  # rows, documents and log written together (see ReplicaStore.batched)
            self._holds, self._scope_moved = [], False  # written once per push (the write lock is held)
            ids: dict[str, list[str]] = {}
            for item in msg["items"]:
                ids.setdefault(item["entity"], []).append(item["record_id"])
            for name, record_ids in ids.items():
                if self.registry[name].kind == "document":
                    store.note_absent(name, record_ids)  # one query for the batch's new records
            try:
                for item in msg["items"]:
                    entity = self.registry[item["entity"]]
                    if entity.kind == "document":
                        try:
                            found, kept = self._push_document(principal, entity, item)
                        except _NotYet:
                            continue  # not acked: the device sends it again, after what it depends on
                        conflicts += kept
                    else:
                        found = self._push_event(principal, entity, item)
                    for rejection in found:
                        store.log_rejection(rejection, principal.device_id)
                    rejections += found
                    acked += item["outbox"]
                store.db.conn.executemany("INSERT OR IGNORE INTO sync_device_records VALUES (?, ?, ?)", self._holds)
                if self._scope_moved:
                    store._set_meta("scope_epoch", str(store.scope_epoch() + 1))
            finally:
                self._holds = None
            self._touch_device(principal.device_id, "last_push_at")
        return dump(
            PushResponseSchema,
            {"acked": acked, "rejections": rejections, "conflicts": conflicts, "server_ms": store.now_ms()},
        )

    def _check_item_shape(self, item: Mapping[str, Any]) -> None:
        entity = self.registry.get(item["entity"])
        if entity is None:
            raise InvalidMessage(f"Unknown entity {item['entity']!r}.", fields={"entity": ["Unknown entity."]})
        if entity.kind == "document" and (not item["changes"] or item["event"] is not None):
            raise InvalidMessage(f"A {entity.name} push item carries changes, not an event.")
        if entity.kind == "event":
            event = item["event"]
            if not isinstance(event, dict) or item["changes"] is not None:
                raise InvalidMessage(f"A {entity.name} push item carries one event.")
            if event.get("id") != item["record_id"]:
                raise InvalidMessage("The event id must equal the item's record_id.")
            try:
                Hlc.decode(str(event.get("hlc")))
            except ValueError as exc:
                raise InvalidMessage("The event's hlc is malformed.") from exc
            values = {k: v for k, v in event.items() if k not in ("id", "hlc", "author_id")}
            errors = self._schema(entity).validate(values)
            if errors:
                raise InvalidMessage(f"The {entity.name} event is invalid.", fields=errors)

    def _rejection(self, entity: str, record_id: str, kind: str, reason: str, field: str | None = None, detail: Any = None) -> dict[str, Any]:
        return {
            "id": new_id(), "entity": entity, "record_id": record_id, "field": field, "kind": kind,
            "reason": reason, "detail": detail, "created_at": iso_from_ms(self.store.now_ms()),
        }

    def _push_document(self, principal: Principal, entity: Entity, item: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int]:
        store = self.store
        record_id = item["record_id"]
        entry = store._find(entity, record_id)
        if entry is not None:
            doc = entry.doc
            server_heads: list[str] = entry.heads
            before = doc.values()
            if not self._visible(principal, entity, before):
                return [self._rejection(entity.name, record_id, "record", "out_of_scope", detail={"drop": True})], 0
        else:
            doc = RecordDocument.empty(store.actor)
            server_heads, before = [], {}
        try:
            added = doc.apply_changes(item["changes"], base=entry.data if entry else b"")
        except InvalidChanges as exc:
            raise InvalidMessage(f"Change bytes for {entity.name} {record_id} are not valid Automerge changes.") from exc
        except MissingDependencies:
            raise _NotYet() from None  # an earlier change has not arrived (reordered delivery): keep it queued
        if not added:
            return [], 0  # a re-delivered push: already applied
        try:
            return self._judge_applied(principal, entity, record_id, entry, doc, server_heads, before, added)
        except BaseException:
            store._cache.pop((entity.name, record_id), None)  # the cached document holds unstored changes
            raise

    def _judge_applied(
        self, principal: Principal, entity: Entity, record_id: str, entry: Any, doc: RecordDocument,
        server_heads: list[str], before: dict[str, Any], new_changes: list[ChangeInfo],
    ) -> tuple[list[dict[str, Any]], int]:
        """Resolve conflicts, ask the rules, compensate, and store a record whose ``new_changes`` applied."""
        store = self.store
        row = entry
        give_up = self._refuse_unstored(entity, record_id)
        depended = {d for c in new_changes for d in c.deps}
        client_heads = sorted(c.hash for c in new_changes if c.hash not in depended)
        after, times = doc.values_and_times()
        resolved: dict[str, tuple[Any, Stamp]] = {}
        kept: dict[str, dict[str, Any]] = {}
        their_losers: dict[str, Any] = {}  # the pusher's values that lost a conflict (kept, so judged too)
        now = store.now_ms()
        for name in sorted(doc.conflicting_fields(server_heads, doc.heads()) if server_heads else ()):
            theirs, ours = doc.stamp(name, client_heads), doc.stamp(name, server_heads)
            if theirs is None or ours is None:
                continue
            theirs = Stamp(clamp_to_receipt(theirs.ms, now, self.max_skew_ms), theirs.author, theirs.site)
            their_value, our_value = doc.get(name, client_heads), doc.get(name, server_heads)
            if (theirs.ms, theirs.site) > (ours.ms, ours.site):
                win, lose = (their_value, theirs), (our_value, ours)
            else:
                win, lose = (our_value, ours), (their_value, theirs)
                their_losers[name] = their_value
            resolved[name] = win
            after[name] = win[0]
            kept[new_id()] = {"field": name, "value": lose[0], "author": lose[1].author, "at": lose[1].ms, "site": lose[1].site}
        for name, claimed_ms in times.items() if max(times.values(), default=now) > now + self.max_skew_ms else ():
            # An edit time far ahead would win every later conflict: re-stamp it with its receipt time.
            if name not in resolved and clamp_to_receipt(claimed_ms, now, self.max_skew_ms) != claimed_ms:
                claimed = doc.stamp(name)
                assert claimed is not None
                resolved[name] = (doc.get(name), Stamp(now, claimed.author, claimed.site))
        if row is None and not self._visible(principal, entity, after):
            return give_up([self._rejection(entity.name, record_id, "record", "out_of_scope", detail={"drop": True, "values": after})])
        if before:
            changed = tuple(
                FieldChange(n, before.get(n), after.get(n)) for n in sorted(set(before) | set(after)) if before.get(n) != after.get(n)
            )
        else:  # a new record: every field it sets
            changed = tuple(FieldChange(n, None, v) for n, v in sorted(after.items()) if v is not None)
        verdict = self._judge(principal, entity, RecordDiff(entity.name, record_id, row is None, before, changed))
        if verdict.refused:
            return give_up([self._rejection(entity.name, record_id, "record", verdict.refused, detail={"drop": row is None, "values": after})])
        rejections = []
        for name, reason in sorted(verdict.rejected_fields.items()):
            restore_stamp = doc.stamp(name, server_heads) if server_heads else None
            resolved[name] = (before.get(name), restore_stamp or Stamp(now, "server", store.site_id))
            kept = {k: v for k, v in kept.items() if v["field"] != name}
            rejections.append(self._rejection(entity.name, record_id, "field", reason, field=name, detail={"value": after.get(name)}))
        if their_losers:
            # A losing value is kept and shown on every replica, so it must pass the same rules.
            losing = tuple(FieldChange(n, before.get(n), v) for n, v in sorted(their_losers.items()))
            held = self._judge(principal, entity, RecordDiff(entity.name, record_id, row is None, before, losing))
            refused = {n: held.refused for n in their_losers} if held.refused else {}
            for name, reason in sorted({**held.rejected_fields, **refused}.items()):
                if name not in their_losers:
                    continue
                kept = {k: v for k, v in kept.items() if v["field"] != name}
                rejections.append(self._rejection(entity.name, record_id, "field", reason, field=name, detail={"value": their_losers[name]}))
        server_changes = []
        if resolved or kept:
            merged = doc.heads()
            doc.resolve(resolved, kept, entity.text_fields)
            server_changes = doc.changes_since(merged)
        store.log_changes(entity.name, record_id, new_changes, principal.device_id)
        store.log_changes(entity.name, record_id, server_changes, None)
        final_times = {**times, **{name: stamp.ms for name, (_, stamp) in resolved.items()}}  # stamps after resolve
        updated_ms = max(final_times.values(), default=None)
        # ``after`` is current unless the server changed the record; a new record's chunks are stored
        # as received (a save costs ~25 us, as much as the rest of the SQL work; compacted after _MAX_CHUNKS)
        store._store_doc(entity, record_id, entry, doc, [c.data for c in (*new_changes, *server_changes)], updated_ms=updated_ms,
                         values=None if server_changes else after, compact=False)
        self._hold(principal.device_id, entity.name, record_id)
        if entity.scope_fields and any(c.field in entity.scope_fields for c in changed):
            self._scope_moved = True
        if self.effects is not None:
            self.effects(principal, entity.name, record_id)
        return rejections, len(kept)

    def _refuse_unstored(self, entity: Entity, record_id: str) -> Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], int]]:
        """A way out that forgets the cached document the refused changes were applied to."""

        def refused(rejections: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
            self.store._cache.pop((entity.name, record_id), None)
            return rejections, 0

        return refused

    def _push_event(self, principal: Principal, entity: Entity, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        store = self.store
        event = dict(item["event"])
        if store.event_row(entity.name, event["id"]) is not None:
            self._hold(principal.device_id, entity.name, event["id"])
            return []
        values = {k: v for k, v in event.items() if k not in ("id", "hlc", "author_id")}
        if entity.parent and not self._parent_visible(principal, entity, values):
            return [self._rejection(entity.name, event["id"], "record", "out_of_scope", detail={"drop": True, "values": values})]
        changes = tuple(FieldChange(k, None, v) for k, v in sorted(values.items()))
        verdict = self._judge(principal, entity, RecordDiff(entity.name, event["id"], True, {}, changes))
        if verdict.refused or verdict.rejected_fields:
            reason = verdict.refused or "; ".join(f"{k}: {v}" for k, v in verdict.rejected_fields.items())
            return [self._rejection(entity.name, event["id"], "record", reason, detail={"drop": True, "values": values})]
        hlc = Hlc.decode(event["hlc"])
        now = store.now_ms()
        origin: str | None = principal.device_id
        if clamp_to_receipt(hlc.ms, now, self.max_skew_ms) != hlc.ms:
            clock = store._hlc()
            hlc = clock.tick()  # a clock far ahead must not jump the ledger queue
            origin = None  # the device must receive the corrected reading
        row = {**values, "id": event["id"], "hlc": hlc.encode(), "author_id": principal.user_id}
        if row["author_id"] != event.get("author_id"):
            origin = None
        store.put_event(entity.name, row)
        store.log_event(entity.name, row, origin)
        self._hold(principal.device_id, entity.name, event["id"])
        if self.effects is not None:
            self.effects(principal, entity.name, event["id"])
        return []

    def _quick_checks(self, entity: Entity) -> dict[str, Callable[[Any], bool]]:
        """Per plain string or boolean field, a test passing exactly the values ``deserialize``
        returns unchanged; anything it does not pass goes through ``deserialize`` (for the message)."""
        checks = self._checks.get(entity.name)
        if checks is None:
            checks = self._checks[entity.name] = {}
            for name, field in self._schema(entity).load_fields.items():
                if name in entity.text_fields:
                    checks[name] = _anything  # text fields are not checked here
                elif type(field) is fields.String:
                    checks[name] = _quick_string(field.validators)
                elif type(field) is fields.Boolean and not field.validators:
                    checks[name] = _is_bool
        return checks

    def _judge(self, principal: Principal, entity: Entity, diff: RecordDiff) -> Verdict:
        """Schema-check the new values, then ask the server's rules."""
        load_fields = self._schema(entity).load_fields
        quick = self._quick_checks(entity)
        errors: dict[str, Any] = {}
        for change in diff.changes:  # field by field: a whole-schema load per record costs 4x more
            if change.new is None:
                continue
            check = quick.get(change.field)
            if check is not None and check(change.new):
                continue
            field = load_fields.get(change.field)
            if field is None or change.field in entity.text_fields:
                continue
            try:
                field.deserialize(change.new)
            except ValidationError as exc:
                errors[change.field] = exc.messages
        verdict = self.validator(principal, diff)
        for name, messages in errors.items():
            verdict.rejected_fields.setdefault(name, f"invalid: {messages}")
        return verdict

    # ---- scope ------------------------------------------------------------------------------
    def _visible(self, principal: Principal, entity: Entity, values: Mapping[str, Any]) -> bool:
        if entity.parent:
            return self._parent_visible(principal, entity, values)
        return self.scope.visible(principal, entity.name, values)

    def _parent_visible(self, principal: Principal, entity: Entity, values: Mapping[str, Any]) -> bool:
        assert entity.parent is not None
        parent = self.registry[entity.parent[0]]
        parent_id = values.get(entity.parent[1])
        rows = list(self.store.db.query(f"SELECT * FROM [{parent.table}] WHERE id = ?", [parent_id])) if parent_id else []
        return bool(rows) and self._visible(principal, parent, rows[0])

    def visible_set(self, principal: Principal) -> set[tuple[str, str]]:
        """Every (entity, id) the principal may hold, parents deciding for their children."""
        visible: set[tuple[str, str]] = set()
        ids_by_entity: dict[str, set[str]] = {}
        for entity in self.registry:
            ids: set[str] = set()
            if entity.parent is None:
                for row in self.store.db.query(f"SELECT * FROM [{entity.table}]"):
                    if self.scope.visible(principal, entity.name, row):
                        ids.add(row["id"])
            else:
                parents = ids_by_entity.get(entity.parent[0], set())
                for record_id, parent_id in self.store.db.execute(f"SELECT id, [{entity.parent[1]}] FROM [{entity.table}]"):
                    if parent_id in parents:
                        ids.add(record_id)
            ids_by_entity[entity.name] = ids
            visible |= {(entity.name, i) for i in ids}
        return visible

    def _held(self, device_id: str) -> set[tuple[str, str]]:
        return {(e, i) for e, i in self.store.db.execute("SELECT entity, record_id FROM sync_device_records WHERE device_id = ?", [device_id])}

    def _hold(self, device_id: str, entity: str, record_id: str) -> None:
        if self._holds is not None:  # inside a push: recorded with the batch
            self._holds.append((device_id, entity, record_id))
            return
        self.store.db.execute("INSERT OR IGNORE INTO sync_device_records VALUES (?, ?, ?)", [device_id, entity, record_id])

    def _touch_device(self, device_id: str, column: str) -> None:
        self.store.db.execute("INSERT OR IGNORE INTO sync_devices (device_id) VALUES (?)", [device_id])
        self.store.db.execute(f"UPDATE sync_devices SET {column} = ? WHERE device_id = ?", [iso_from_ms(self.store.now_ms()), device_id])

    def _enqueue(self, device_id: str, items: Iterable[tuple[str, str]], action: str) -> None:
        order = {e.name: n for n, e in enumerate(self.registry)}
        rows = sorted(items, key=lambda k: (order.get(k[0], 99), k[1]))
        self.store.db.conn.executemany(
            "INSERT INTO sync_device_queue (device_id, entity, record_id, action) VALUES (?, ?, ?, ?)",
            [(device_id, e, i, action) for e, i in rows],
        )

    def _reconcile(self, principal: Principal, log_from: int, log_to: int) -> None:
        """Queue what entered and left the principal's scope, and refreshes for held records."""
        device = principal.device_id
        visible, held = self.visible_set(principal), self._held(device)
        touched = {
            (e, i) for e, i in self.store.db.execute(
                "SELECT DISTINCT entity, record_id FROM sync_log WHERE seq > ? AND seq <= ? AND kind != 'rejection'"
                " AND (origin IS NULL OR origin != ?)",
                [log_from, log_to, device],
            )
        } if held else set()  # only held records are refreshed: a new device skips the log scan
        self._enqueue(device, held - visible, "evict")
        self._enqueue(device, (visible - held) | (visible & held & touched), "enter")

    def _repair(self, principal: Principal, manifest: Sequence[Sequence[str]]) -> list[dict[str, str]]:
        """Queue whole records where the device's manifest differs from what it should hold.

        A record the server has never seen (a server restored from an older backup) is not
        evicted: the device is asked to send it again, so the newest copy of the data survives.
        """
        device = principal.device_id
        theirs = {(m[0], m[1]): m[2] for m in manifest if len(m) == 3 and m[0] in self.registry}
        visible = self.visible_set(principal)
        ours = {key: self._version(*key) for key in visible}
        extras = {k for k in theirs if k not in visible}
        unknown = {k for k in extras if self._version(*k) is None}
        self._enqueue(device, extras - unknown, "evict")
        self._enqueue(device, {k for k, v in ours.items() if theirs.get(k) != v}, "enter")
        return [{"entity": e, "record_id": i} for e, i in sorted(unknown)]

    def _version(self, entity: str, record_id: str) -> str | None:
        if self.registry[entity].kind == "document":
            heads = self.store.doc_heads(entity, record_id)
            return None if heads is None else ",".join(heads)
        row = self.store.event_row(entity, record_id)
        return None if row is None else str(row["hlc"])

    def _whole(self, entity: str, record_id: str) -> dict[str, Any] | None:
        if self.registry[entity].kind == "document":
            cursor = self.store.db.conn.execute(
                f"SELECT d.data, d.heads, t.* FROM sync_docs d JOIN [{self.registry[entity].table}] t ON t.id = d.id"
                " WHERE d.entity = ? AND d.id = ?",
                [entity, record_id],
            )
            found = cursor.fetchone()
            if found is None:
                return None
            values = dict(zip((c[0] for c in cursor.description[2:]), found[2:]))
            values.pop("id", None)
            return {"entity": entity, "record_id": record_id, "document": found[0], "row": values, "heads": json.loads(found[1])}
        event = self.store.event_row(entity, record_id)
        return None if event is None else {"entity": entity, "record_id": record_id, "event": event}

    def _wholes(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Whole records for many keys, read with one query per entity and 500 ids."""
        by_entity: dict[str, list[str]] = {}
        for entity_name, key_id in keys:
            by_entity.setdefault(entity_name, []).append(key_id)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        conn = self.store.db.conn
        for name, ids in by_entity.items():
            entity = self.registry[name]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                if entity.kind == "document":
                    cursor = conn.execute(
                        f"SELECT d.data, d.heads, t.* FROM sync_docs d JOIN [{entity.table}] t ON t.id = d.id"
                        f" WHERE d.entity = ? AND d.id IN ({marks})",
                        [name, *chunk],
                    )
                    columns = [c[0] for c in cursor.description[2:]]
                    for data, heads, *values in cursor:
                        row = dict(zip(columns, values))
                        record_id = row.pop("id")
                        out[(name, record_id)] = {"entity": name, "record_id": record_id, "document": data,
                                                  "row": row, "heads": heads_list(heads)}
                else:
                    cursor = conn.execute(f"SELECT * FROM [{entity.table}] WHERE id IN ({marks})", chunk)
                    columns = [c[0] for c in cursor.description]
                    for values in cursor:
                        event = dict(zip(columns, values))
                        out[(name, event["id"])] = {"entity": name, "record_id": event["id"], "event": event}
        return out

    def _checksum(self, device_id: str) -> str:
        """XOR of what the device should hold, read with one join per entity."""
        value = 0
        conn = self.store.db.conn
        for entity, record_id, heads in conn.execute(
            "SELECT r.entity, r.record_id, d.heads FROM sync_device_records r"
            " JOIN sync_docs d ON d.entity = r.entity AND d.id = r.record_id WHERE r.device_id = ?",
            [device_id],
        ):
            value ^= record_digest(entity, record_id, heads_version(heads))
        for entity in self.registry:
            if entity.kind == "event":
                for record_id, hlc in conn.execute(
                    f"SELECT t.id, t.hlc FROM sync_device_records r JOIN [{entity.table}] t ON t.id = r.record_id"
                    " WHERE r.device_id = ? AND r.entity = ?",
                    [device_id, entity.name],
                ):
                    value ^= record_digest(entity.name, record_id, hlc)
        return f"{value:032x}"

    # ---- pull -------------------------------------------------------------------------------
    def handle_pull(self, principal: Principal, payload: Any) -> dict[str, Any]:
        """Return the next page of what the device lacks: queued records, log changes, evictions."""
        msg = load(PullRequestSchema, payload)
        check_version(msg["schema_version"])
        device = principal.device_id
        if msg["device_id"] != device:
            raise Forbidden("The message names another device than the one authenticated.")
        log_pos, queue_pos = _parse_cursor(msg["cursor"])
        limit = msg["limit"]
        store = self.store
        with store.write():
            self._touch_device(device, "last_pull_at")
            store.db.execute(
                "UPDATE sync_devices SET pending = ?, app_version = coalesce(?, app_version) WHERE device_id = ?",
                [msg["pending"], msg["app_version"], device],
            )
            epoch = store.scope_epoch()
            device_epoch, queue_sent = store.db.execute(
                "SELECT epoch, queue_sent FROM sync_devices WHERE device_id = ?", [device]).fetchone()
            # only what this server sent is acknowledged: a cursor from before a restore may claim more
            queue_pos = min(queue_pos, queue_sent)
            store.db.execute("DELETE FROM sync_device_queue WHERE device_id = ? AND seq <= ?", [device, queue_pos])
            if log_pos > store.log_max():
                device_epoch = None  # a cursor past the log (restored server): re-check what it should hold
                log_pos = store.log_max()
            rejections: list[dict[str, Any]] = []
            if device_epoch != epoch:
                top = store.log_max()
                self._reconcile(principal, log_pos, top)
                # the log range is skipped (records come whole), but this device's rejections must not be
                rejections += [json.loads(p) for (p,) in store.db.execute(
                    "SELECT payload FROM sync_log WHERE seq > ? AND seq <= ? AND kind = 'rejection' AND target = ? ORDER BY seq",
                    [log_pos, top, device],
                )]
                log_pos = top
                store.db.execute("UPDATE sync_devices SET epoch = ? WHERE device_id = ?", [epoch, device])
            resend: list[dict[str, str]] = []
            if msg["manifest"] is not None:
                resend = self._repair(principal, msg["manifest"])
            page: dict[tuple[str, str], dict[str, Any]] = {}  # queue order; a record once, at its last place
            evictions: list[dict[str, Any]] = []
            queued = store.db.execute(
                "SELECT seq, entity, record_id, action FROM sync_device_queue WHERE device_id = ? ORDER BY seq LIMIT ?",
                [device, limit],
            ).fetchall()
            holds: list[tuple[str, str, str]] = []
            wholes = self._wholes([(e, i) for _, e, i, action in queued if action != "evict"])
            for seq, entity, record_id, action in queued:
                queue_pos = max(queue_pos, seq)
                if action == "evict":
                    store.db.conn.executemany("INSERT OR IGNORE INTO sync_device_records VALUES (?, ?, ?)", holds)
                    holds.clear()  # held before this eviction, in queue order
                    # the device applies a page's evictions first: an earlier entry must not outlive it
                    page.pop((entity, record_id), None)
                    evictions.append({"entity": entity, "record_id": record_id})
                    store.db.execute("DELETE FROM sync_device_records WHERE device_id = ? AND entity = ? AND record_id = ?", [device, entity, record_id])
                elif (whole := wholes.get((entity, record_id))) is not None:
                    page.pop((entity, record_id), None)
                    page[(entity, record_id)] = whole  # once per page, even if queued twice
                    holds.append((device, entity, record_id))
            self.store.db.conn.executemany("INSERT OR IGNORE INTO sync_device_records VALUES (?, ?, ?)", holds)
            records = list(page.values())
            if queued:
                store.db.execute("UPDATE sync_devices SET queue_sent = ? WHERE device_id = ?", [queued[-1][0], device])
            more = len(queued) == limit
            if not more:
                log_pos, more = self._page_log(principal, log_pos, limit - len(queued), records, rejections)
            checksum = None
            if not more:
                checksum = self._cached_checksum(device, f"{log_pos}:{epoch}")
        return dump(
            PullResponseSchema,
            {"records": records, "evictions": evictions, "rejections": rejections, "cursor": f"{log_pos}:{queue_pos}",
             "more": more, "checksum": checksum, "server_ms": store.now_ms(), "resend": resend},
        )

    def _cached_checksum(self, device: str, key: str) -> str:
        (cached,) = self.store.db.execute("SELECT verified FROM sync_devices WHERE device_id = ?", [device]).fetchone()
        if cached and cached.rsplit(":", 1)[0] == key:
            return str(cached.rsplit(":", 1)[1])
        checksum = self._checksum(device)
        self.store.db.execute("UPDATE sync_devices SET verified = ? WHERE device_id = ?", [f"{key}:{checksum}", device])
        return checksum

    def _page_log(
        self, principal: Principal, log_pos: int, limit: int, records: list[dict[str, Any]], rejections: list[dict[str, Any]]
    ) -> tuple[int, bool]:
        device = principal.device_id
        rows = self.store.db.execute(
            "SELECT seq, kind, entity, record_id, payload, origin, target FROM sync_log WHERE seq > ? ORDER BY seq LIMIT ?",
            [log_pos, max(limit, 1)],
        ).fetchall()
        held = None
        by_record: dict[tuple[str, str], dict[str, Any]] = {}
        sent_whole: set[tuple[str, str]] = {(r["entity"], r["record_id"]) for r in records}
        for seq, kind, entity_name, record_id, payload, origin, target in rows:
            log_pos = seq
            key = (entity_name, record_id)
            if kind == "rejection":
                if target == device:
                    rejections.append(json.loads(payload))
                continue
            if key in sent_whole:
                continue
            if held is None:
                held = self._held(device)
            if key in held:
                if origin == device:
                    continue
                if kind == "change":
                    by_record.setdefault(key, {"entity": entity_name, "record_id": record_id, "changes": []})["changes"].append(payload)
                else:
                    records.append({"entity": entity_name, "record_id": record_id, "event": json.loads(payload)})
                continue
            entity = self.registry[entity_name]
            current = self._current_values(entity, record_id)
            if current is not None and self._visible(principal, entity, current) and (whole := self._whole(entity_name, record_id)):
                records.append(whole)
                sent_whole.add(key)
                held.add(key)
                self._hold(device, entity_name, record_id)
        records.extend(by_record.values())
        return log_pos, len(rows) == limit

    def _current_values(self, entity: Entity, record_id: str) -> dict[str, Any] | None:
        rows = list(self.store.db.query(f"SELECT * FROM [{entity.table}] WHERE id = ?", [record_id]))
        return rows[0] if rows else None

    def device_states(self) -> dict[str, dict[str, Any]]:
        """Per device: last pull and push, pending changes it reported, app version."""
        return {r["device_id"]: r for r in self.store.db.query(
            "SELECT device_id, last_pull_at, last_push_at, pending, app_version FROM sync_devices")}

    def forget_device(self, device_id: str) -> None:
        """Drop a device's sync state (revoked or re-seeded)."""
        with self.store.write():
            for table in ("sync_devices", "sync_device_records", "sync_device_queue"):
                self.store.db.execute(f"DELETE FROM {table} WHERE device_id = ?", [device_id])


def _anything(value: Any) -> bool:
    return True


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _quick_string(validators: Sequence[Callable[[Any], Any]]) -> Callable[[Any], bool]:
    if not validators:
        return lambda value: isinstance(value, str)
    if len(validators) == 1 and type(validators[0]) is validate.Length and validators[0].equal is None:
        low = validators[0].min if validators[0].min is not None else 0
        high = validators[0].max if validators[0].max is not None else float("inf")
        return lambda value: isinstance(value, str) and low <= len(value) <= high
    if len(validators) == 1 and type(validators[0]) is validate.OneOf:
        choices = frozenset(c for c in validators[0].choices if isinstance(c, str))
        return lambda value: isinstance(value, str) and value in choices

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            for validator in validators:
                if validator(value) is False:
                    return False
        except ValidationError:
            return False
        return True

    return check


def _parse_cursor(cursor: str) -> tuple[int, int]:
    if cursor == "":
        return 0, 0
    try:
        log_pos, queue_pos = (int(p) for p in cursor.split(":"))
    except ValueError as exc:
        raise InvalidMessage("The cursor is malformed.", fields={"cursor": ["Malformed cursor."]}) from exc
    if log_pos < 0 or queue_pos < 0:
        raise InvalidMessage("The cursor is malformed.", fields={"cursor": ["Malformed cursor."]})
    return log_pos, queue_pos
