"""The replica store: one SQLite database holding a replica's documents, events and sync state.

Tables (all created by ``migrate``):
- ``sync_meta``: site id, cursor, clock offset, HLC, scope digest;
- ``sync_docs``: per record its Automerge bytes and heads;
- one materialized table per entity (``customers``, ``visits`` ...) of current values, written in
  the same transaction as the document or event, so lists and search never read documents;
- ``sync_outbox``: unacknowledged local changes and events (client replicas);
- ``sync_rejections``: what the server refused, shown on the "sync issues" page.

Deleted records stay as rows with ``deleted = 1``; only eviction (a record leaving the user's
scope) removes rows. Every public write runs in one ``BEGIN IMMEDIATE`` transaction.
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import sqlite_utils
from sqlite_utils.migrations import Migrations
from uuid6 import uuid7

from shared.schemas.registry import Entity, Registry

from .clock import Clock, Hlc, HybridLogicalClock, iso_from_ms
from .document import RecordDocument, Scalar, Stamp, change_hash

_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_EVENT_KEYS = frozenset({"id", "hlc", "author_id"})
_SQL_TYPES = {"str": str, "int": int, "float": float, "bool": int}


_CACHE_SIZE = 2048  # documents kept loaded between writes
_MAX_PARAMS = 32766  # bound parameters per statement (SQLite's default limit since 3.32; lowered to the build's)
_MAX_CHUNKS = 16  # appended change chunks before a document is saved compactly again


@dataclass
class _Entry:
    """A loaded document with the heads, bytes and chunk count stored for it."""

    doc: RecordDocument
    heads: list[str]
    data: bytes
    chunks: int


class _Batch:
    """Writes held back while a caller stores many records in one transaction (a push).

    SQLite runs the search-index trigger of every single-row statement as its own flush of the
    FTS5 index (about 15 µs per row); one multi-row statement per entity flushes it once. Reads
    through ``ReplicaStore.db`` write the held rows first, so nobody sees them missing.
    """

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], tuple[bytes, str, int]] = {}
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}  # entity -> id -> full row
        self.log: list[tuple[Any, ...]] = []  # sync_log rows, in order (server)
        self.absent: set[tuple[str, str]] = set()  # documents known not to be stored (see ``note_absent``)

    def __bool__(self) -> bool:
        return bool(self.docs or self.rows or self.log)


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA recursive_triggers=ON")  # REPLACE fires delete triggers (search indexes)


def new_id() -> str:
    """A time-ordered UUIDv7 as text: record ids are born where the record is born."""
    return str(uuid7())


class RecordNotFound(KeyError):
    """No record of that entity and id in this replica."""


def record_digest(entity: str, record_id: str, version: str) -> int:
    """The per-record contribution to a scope checksum (XOR-combined, so order does not matter)."""
    return int.from_bytes(hashlib.sha256(f"{entity}|{record_id}|{version}".encode()).digest()[:16], "big")


def heads_json(heads: Sequence[str]) -> str:
    """Heads (hex strings) as stored in ``sync_docs.heads``: the JSON list ``json.dumps`` writes."""
    if all(_HEX_HASH.fullmatch(h) for h in heads):
        return '["' + '", "'.join(heads) + '"]' if heads else "[]"
    return json.dumps(list(heads))  # not hashes (a malformed message): stored as valid JSON anyway


def heads_list(text: str) -> list[str]:
    """The heads stored by ``heads_json`` (split as text: JSON decoding cost more than the rest of a pull)."""
    if text == "[]":
        return []
    # without escapes no string holds a quote, so the separators json.dumps writes split exactly
    if text[:2] == '["' and text[-2:] == '"]' and "\\" not in text and '","' not in text:
        return text[2:-2].split('", "')
    return list(json.loads(text))  # written some other way


def heads_version(text: str) -> str:
    """The version string of stored heads, as ``record_digest`` takes it."""
    return ",".join(heads_list(text))


def migrations_for(registry: Registry) -> Migrations:
    """The named migrations creating the sync tables and one table per registered entity."""
    m = Migrations("fieldbook-sync")

    @m(name="sync_tables")
    def sync_tables(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE sync_docs (entity TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,"
            " heads TEXT NOT NULL, PRIMARY KEY (entity, id)) WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE sync_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL,"
            " record_id TEXT NOT NULL, kind TEXT NOT NULL, item_key TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        db.execute(
            "CREATE TABLE sync_rejections (id TEXT PRIMARY KEY, entity TEXT NOT NULL, record_id TEXT NOT NULL,"
            " field TEXT, kind TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT, created_at TEXT NOT NULL,"
            " dismissed INTEGER NOT NULL DEFAULT 0)"
        )

    for entity in registry:
        m(name=f"entity_{entity.plural}")(_entity_table(entity))

    @m(name="sync_docs_chunks")
    def sync_docs_chunks(db: sqlite_utils.Database) -> None:
        db.execute("ALTER TABLE sync_docs ADD COLUMN chunks INTEGER NOT NULL DEFAULT 0")

    for entity in registry:
        if entity.search_fields:
            m(name=f"search_{entity.plural}")(_search_index(entity))
        for index in entity.indexes:
            m(name=f"index_{entity.plural}_{'_'.join(index)}")(_plain_index(entity, index))

    @m(name="sync_docs_rowid")
    def sync_docs_rowid(db: sqlite_utils.Database) -> None:
        # documents are 0.5-2 KB: in a WITHOUT ROWID table they spill to overflow pages inside the
        # primary-key b-tree, which made every insert about twice as slow
        db.execute(
            "CREATE TABLE sync_docs_new (entity TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,"
            " heads TEXT NOT NULL, chunks INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (entity, id))"
        )
        db.execute("INSERT INTO sync_docs_new (entity, id, data, heads, chunks) SELECT entity, id, data, heads, chunks FROM sync_docs")
        db.execute("DROP TABLE sync_docs")
        db.execute("ALTER TABLE sync_docs_new RENAME TO sync_docs")

    return m


def _plain_index(entity: Entity, columns: tuple[str, ...]) -> Callable[[sqlite_utils.Database], None]:
    def create(db: sqlite_utils.Database) -> None:
        db[entity.table].create_index(list(columns), index_name=f"{entity.table}_{'_'.join(columns)}")  # type: ignore[union-attr]

    create.__name__ = f"index_{entity.plural}_{'_'.join(columns)}"
    return create


def _search_index(entity: Entity) -> Callable[[sqlite_utils.Database], None]:
    """An FTS5 trigram index over the entity's search fields (substring search on Chinese names)."""

    def create(db: sqlite_utils.Database) -> None:
        fts, cols = f"{entity.table}_fts", ", ".join(entity.search_fields)
        new_cols = ", ".join(f"new.[{c}]" for c in entity.search_fields)
        old_cols = ", ".join(f"old.[{c}]" for c in entity.search_fields)
        db.execute(f"CREATE VIRTUAL TABLE [{fts}] USING fts5({cols}, content='{entity.table}', content_rowid='rowid', tokenize='trigram')")
        insert = f"INSERT INTO [{fts}] (rowid, {cols}) VALUES (new.rowid, {new_cols});"
        delete = f"INSERT INTO [{fts}] ([{fts}], rowid, {cols}) VALUES ('delete', old.rowid, {old_cols});"
        db.execute(f"CREATE TRIGGER [{fts}_ai] AFTER INSERT ON [{entity.table}] BEGIN {insert} END")
        db.execute(f"CREATE TRIGGER [{fts}_ad] AFTER DELETE ON [{entity.table}] BEGIN {delete} END")
        watched = ", ".join(f"[{c}]" for c in entity.search_fields)  # other edits leave the index alone
        db.execute(f"CREATE TRIGGER [{fts}_au] AFTER UPDATE OF {watched} ON [{entity.table}] BEGIN {delete} {insert} END")
        db.execute(f"INSERT INTO [{fts}] ([{fts}]) VALUES ('rebuild')")

    create.__name__ = f"search_{entity.plural}"
    return create


def _entity_table(entity: Entity):
    def create(db: sqlite_utils.Database) -> None:
        columns: dict[str, Any] = {"id": str}
        columns.update({n: _SQL_TYPES[t] for n, t in entity.columns.items()})
        if entity.kind == "document":
            columns.update(updated_at=str, conflicts=str)
        else:
            columns.update(hlc=str, author_id=str)
        db[entity.table].create(columns, pk="id")  # type: ignore[union-attr]
        if entity.parent:
            db[entity.table].create_index([entity.parent[1]])  # type: ignore[union-attr]

    create.__name__ = f"entity_{entity.plural}"
    return create


class ReplicaStore:
    """A replica on SQLite. Subclasses decide where local writes are recorded (outbox or log)."""

    def __init__(self, db: sqlite_utils.Database | str, registry: Registry, clock: Clock) -> None:
        """Use one shared connection (``Database``) or, given a file path, one connection per thread."""
        self.registry = registry
        self.clock = clock
        self._path = db if isinstance(db, str) else None
        self._shared = None if isinstance(db, str) else db
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.RLock()
        self._cache: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._digest = self._stored_digest = self._offset = 0
        if self._shared is not None:
            _configure(self._shared.conn)
        migrations_for(registry).apply(self.db)
        self.site_id = self._meta("site_id") or self._init_site()
        self.actor = uuid.UUID(self.site_id).bytes
        self._load_state()

    @classmethod
    def open(cls, path: str, registry: Registry, clock: Clock) -> ReplicaStore:
        """Open (creating if needed) a WAL-mode database file as a replica."""
        return cls(path, registry, clock)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (WAL: readers never see another thread's open transaction).

        Writes held back by ``batched()`` are written first, so every reader sees them.
        """
        batch = getattr(self._local, "batch", None)
        if batch:
            self._flush(batch)
        return self._db()

    def _db(self) -> sqlite_utils.Database:
        if self._shared is not None:
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            assert self._path is not None
            conn = sqlite3.connect(self._path, check_same_thread=False, timeout=30, isolation_level=None)
            _configure(conn)
            self._connections.append(conn)
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    def close(self) -> None:
        """Close every connection this store opened."""
        for conn in self._connections:
            conn.close()
        self._connections.clear()
        self._local = threading.local()

    # ---- transactions and meta --------------------------------------------------------------
    @contextmanager
    def batched(self) -> Iterator[None]:
        """Hold back document, row and log writes of whole records until the block ends or
        something reads ``db`` (call inside ``write()``; the caller's view stays consistent)."""
        assert self._db().conn.in_transaction, "batched() runs inside write()"
        if getattr(self._local, "batch", None) is not None:
            yield  # already batching
            return
        batch = self._local.batch = _Batch()
        try:
            yield
            self._flush(batch)
        finally:
            self._local.batch = None

    def _batch(self) -> _Batch | None:
        return getattr(self._local, "batch", None)

    def note_absent(self, entity_name: str, record_ids: Sequence[str]) -> None:
        """Look up many documents at once inside ``batched()``, so finding a new one costs no query."""
        batch = self._batch()
        if batch is None:
            return
        conn = self._db().conn
        for start in range(0, len(record_ids), 500):
            chunk = [i for i in record_ids[start:start + 500] if (entity_name, i) not in self._cache and (entity_name, i) not in batch.docs]
            if not chunk:
                continue
            marks = ", ".join("?" for _ in chunk)
            stored = {i for (i,) in conn.execute(f"SELECT id FROM sync_docs WHERE entity = ? AND id IN ({marks})", [entity_name, *chunk])}
            batch.absent.update((entity_name, i) for i in chunk if i not in stored)

    def _flush(self, batch: _Batch) -> None:
        """Write what ``batch`` holds: documents, then rows (one statement per entity and chunk), then log."""
        conn = self._db().conn
        if batch.docs:
            conn.executemany(
                "INSERT INTO sync_docs (entity, id, data, heads, chunks) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data, heads = excluded.heads, chunks = excluded.chunks",
                [(e, i, *v) for (e, i), v in batch.docs.items()],
            )
            batch.docs.clear()
        for name, rows in batch.rows.items():
            self._upsert_rows(self.registry[name], rows)
        batch.rows.clear()
        if batch.log:
            conn.executemany(
                "INSERT OR IGNORE INTO sync_log (kind, entity, record_id, item_key, payload, origin, target)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                batch.log,
            )
            batch.log.clear()

    def _upsert_rows(self, entity: Entity, rows: Mapping[str, Mapping[str, Any]]) -> None:
        """Write full materialized rows, many per statement (see ``_Batch``)."""
        cols = [*entity.columns, "updated_at", "conflicts"]
        bools = {c for c, kind in entity.columns.items() if kind == "bool"}
        special = [(c, c in bools) for c in cols if c in bools or c == "conflicts"]
        plain = [c for c in cols if c not in bools and c != "conflicts"]
        order = [*plain, *(c for c, _ in special)]
        conn = self._db().conn
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if hasattr(conn, "getlimit") else 999
        per = max(1, min(_MAX_PARAMS, limit) // (len(cols) + 1))
        items = list(rows.items())
        col_sql = ", ".join(f"[{c}]" for c in order)
        sets = ", ".join(f"[{c}] = excluded.[{c}]" for c in order)
        one = f"({', '.join('?' for _ in range(len(cols) + 1))})"
        for start in range(0, len(items), per):
            part = items[start:start + per]
            params: list[Any] = []
            for record_id, row in part:
                get = row.get
                params.append(record_id)
                params += [get(c) for c in plain]  # scalars as SQLite takes them
                params += [_as_column(get(c), is_bool) for c, is_bool in special]
            conn.execute(
                f"INSERT INTO [{entity.table}] (id, {col_sql}) VALUES {', '.join(one for _ in part)}"
                f" ON CONFLICT (id) DO UPDATE SET {sets}",
                params,
            )

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        with self._lock:
            db = self.db  # writes held by batched() are written here
            conn = db.conn
            if conn.in_transaction:
                digest = self._digest
                held, self._local.batch = self._batch(), None  # a nested write (effects) is not held back
                if held is not None:
                    held.absent.clear()  # it may store any record
                try:
                    with db.atomic():
                        yield db
                except BaseException:
                    self._digest = digest
                    self._cache.clear()
                    raise
                finally:
                    self._local.batch = held
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                if int(self._meta("digest") or 0) != self._stored_digest:
                    self._load_state()  # another process wrote records since we last looked: drop the cache
                yield db
                batch = self._batch()
                if batch:
                    self._flush(batch)
                if self._digest != self._stored_digest:
                    self._set_meta("digest", str(self._digest))
                    self._stored_digest = self._digest
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                    conn.execute("ROLLBACK")
                self._load_state()  # the cache and digest may hold what was just rolled back
                raise

    def reload(self) -> None:
        """Forget cached state after the database was changed behind this store's back (tests, repair)."""
        with self._lock:
            self._load_state()

    def _load_state(self) -> None:
        """(Re)read what this object caches from the database."""
        batch = self._batch()
        if batch is not None:  # rolled back: what it held is gone with the transaction
            batch.docs.clear()
            batch.rows.clear()
            batch.log.clear()
        self._cache.clear()
        self._stored_digest = self._digest = int(self._meta("digest") or 0)
        self._offset = int(self._meta("clock_offset_ms") or 0)

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM sync_meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO sync_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def _init_site(self) -> str:
        site = str(uuid.uuid4())
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            self._set_meta("site_id", site)
            self.db.execute("COMMIT")
        return site

    def now_ms(self) -> int:
        """Server-canonical time: the local clock plus the offset learned from the server."""
        return self.clock.now_ms() + self._offset

    def set_clock_offset(self, offset_ms: int) -> None:
        with self.write():
            self._set_meta("clock_offset_ms", str(offset_ms))
            self._offset = offset_ms

    def _hlc(self) -> HybridLogicalClock:
        last = self._meta("hlc")
        outer = self

        class _Canonical:
            def now_ms(self) -> int:
                return outer.now_ms()

        return HybridLogicalClock(self.site_id, _Canonical(), Hlc.decode(last) if last else None)

    def _stamp(self, author: str) -> Stamp:
        return Stamp(self.now_ms(), author, self.site_id)

    # ---- local writes: documents ------------------------------------------------------------
    def create(self, entity_name: str, values: Mapping[str, Scalar], author: str, record_id: str | None = None) -> str:
        """Create a document record; returns its new id."""
        entity = self._entity(entity_name, "document")
        record_id = record_id or new_id()
        stamp = self._stamp(author)
        full = {"deleted": False, **values}
        for tf in entity.text_fields:
            full.setdefault(tf, "")
        doc = RecordDocument.new(self.actor, _only_columns(entity, full), stamp, entity.text_fields)
        with self.write():
            if self._doc_row(entity.name, record_id) is not None:
                raise ValueError(f"{entity.name} {record_id} already exists")
            self._save_local(entity, record_id, None, doc)
        return record_id

    def update(self, entity_name: str, record_id: str, values: Mapping[str, Scalar], author: str) -> None:
        """Set fields of a record (text fields by minimal splice) as one change."""
        entity = self._entity(entity_name, "document")
        with self.write():
            entry = self._open(entity, record_id)
            doc = entry.doc
            wanted = _only_columns(entity, values)
            if len(wanted) > 2:  # one read of the whole map beats a binding call per field
                current = doc.values()
                changed = {k: v for k, v in wanted.items() if current.get(k) != v}
            else:
                changed = {k: v for k, v in wanted.items() if doc.get(k) != v}
            if not changed:
                return
            stamp = self._stamp(author)
            doc.set_fields(changed, stamp, entity.text_fields)
            self._save_local(entity, record_id, entry, doc, fields=changed, updated_ms=stamp.ms)

    def splice_text(self, entity_name: str, record_id: str, name: str, pos: int, delete: int, insert: str, author: str) -> None:
        """Edit a text field character-wise."""
        entity = self._entity(entity_name, "document")
        if name not in entity.text_fields:
            raise ValueError(f"{name!r} is not a text field of {entity.name}")
        with self.write():
            entry = self._open(entity, record_id)
            stamp = self._stamp(author)
            entry.doc.splice_text(name, pos, delete, insert, stamp)
            self._save_local(entity, record_id, entry, entry.doc, fields=[name], updated_ms=stamp.ms)

    def delete(self, entity_name: str, record_id: str, author: str) -> None:
        """Mark a record deleted (a field, so it merges with concurrent edits)."""
        self.update(entity_name, record_id, {"deleted": True}, author)

    def resolve_conflict(self, entity_name: str, record_id: str, conflict_id: str, action: str, author: str) -> None:
        """Restore a kept value (it becomes the field's value) or dismiss it."""
        if action not in ("restore", "dismiss"):
            raise ValueError("action must be 'restore' or 'dismiss'")
        entity = self._entity(entity_name, "document")
        with self.write():
            entry = self._open(entity, record_id)
            doc = entry.doc
            kept = next((c for c in doc.conflicts() if c["id"] == conflict_id), None)
            if kept is None:
                raise RecordNotFound(f"no kept conflict {conflict_id}")
            if action == "restore":
                doc.set_fields({kept["field"]: kept["value"]}, self._stamp(author), entity.text_fields)
            doc.drop_conflict(conflict_id)
            self._save_local(entity, record_id, entry, doc)

    # ---- local writes: events ---------------------------------------------------------------
    def add_event(self, entity_name: str, values: Mapping[str, Scalar], author: str, event_id: str | None = None) -> str:
        """Record an immutable event; returns its id."""
        entity = self._entity(entity_name, "event")
        event_id = event_id or new_id()
        with self.write():
            if self.event_row(entity.name, event_id) is not None:
                return event_id  # events are immutable and deduplicated by id: a repeat is a no-op
            clock = self._hlc()
            hlc = clock.tick()
            self._set_meta("hlc", hlc.encode())
            clean = {k: v for k, v in values.items() if k not in _EVENT_KEYS}
            row = {**_only_columns(entity, clean), "id": event_id, "hlc": hlc.encode(), "author_id": author}
            self._insert_event(entity, row)
            self._record_local_event(entity, row)
        return event_id

    # ---- reading ----------------------------------------------------------------------------
    def get(self, entity_name: str, record_id: str) -> dict[str, Any]:
        """The materialized row (conflicts decoded); raises ``RecordNotFound``."""
        entity = self.registry[entity_name]
        row = self.db.execute(f"SELECT * FROM [{entity.table}] WHERE id = ?", [record_id]).fetchone()
        if row is None:
            raise RecordNotFound(f"{entity.name} {record_id}")
        cur = self.db.execute(f"SELECT * FROM [{entity.table}] LIMIT 0")
        return self.decode_row(entity, dict(zip([d[0] for d in cur.description], row)))

    def document(self, entity_name: str, record_id: str) -> RecordDocument:
        """A fresh copy of a record's document (not the cached one: callers may edit it)."""
        row = self._doc_row(self._entity(entity_name, "document").name, record_id)
        if row is None:
            raise RecordNotFound(f"{entity_name} {record_id}")
        return RecordDocument.load(row[0], self.actor)

    def doc_heads(self, entity_name: str, record_id: str) -> list[str] | None:
        row = self._doc_row(entity_name, record_id)
        return None if row is None else heads_list(row[1])

    def rows(self, entity_name: str, where: str = "1", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        entity = self.registry[entity_name]
        return [self.decode_row(entity, r) for r in self.db.query(f"SELECT * FROM [{entity.table}] WHERE {where} ORDER BY id", params)]

    def decode_row(self, entity: Entity, row: dict[str, Any]) -> dict[str, Any]:
        """A materialized row as the API shows it: booleans as bool, conflicts decoded."""
        for name, kind in entity.columns.items():
            if kind == "bool" and row.get(name) is not None:
                row[name] = bool(row[name])
        if entity.kind == "document":
            row["conflicts"] = json.loads(row.get("conflicts") or "[]")
        return row

    def digest(self) -> str:
        """This replica's scope checksum (maintained incrementally on every write)."""
        return f"{self._digest:032x}"

    def manifest(self) -> list[tuple[str, str, str]]:
        """Every record held, as (entity, id, version): heads for documents, HLC for events."""
        out = [(e, i, heads_version(h)) for e, i, h in self.db.execute("SELECT entity, id, heads FROM sync_docs")]
        for entity in self.registry:
            if entity.kind == "event":
                out += [(entity.name, i, h) for i, h in self.db.execute(f"SELECT id, hlc FROM [{entity.table}]")]
        return out

    def recompute_digest(self) -> str:
        """The checksum computed from scratch (for tests and repair checks)."""
        value = 0
        for e, i, v in self.manifest():
            value ^= record_digest(e, i, v)
        return f"{value:032x}"

    # ---- remote input (used by sync engine / server) ----------------------------------------
    def apply_changes(self, entity_name: str, record_id: str, changes: Sequence[bytes]) -> list[str]:
        """Apply received changes to a record (creating it if new); returns the new hashes."""
        entity = self._entity(entity_name, "document")
        entry = self._find(entity, record_id)
        doc = entry.doc if entry else RecordDocument.empty(self.actor)
        added = doc.apply(changes, base=entry.data if entry else b"")
        if added:
            fresh = set(added)
            chunks = [c for c in changes if change_hash(c) in fresh]
            self._store_doc(entity, record_id, entry, doc, chunks)
        return added

    def merge_document(
        self, entity_name: str, record_id: str, data: bytes,
        row: Mapping[str, Any] | None = None, heads: Sequence[str] | None = None,
    ) -> None:
        """Merge a whole saved document of a record (entering scope, or repair).

        When the record is new here and the sender gave its materialized ``row`` and ``heads``
        (the server does), the bytes are stored as they are and the row is taken as given.
        """
        entity = self._entity(entity_name, "document")
        if row is not None and heads is not None and (entity.name, record_id) not in self._cache:
            inserted = self.db.conn.execute(
                "INSERT OR IGNORE INTO sync_docs (entity, id, data, heads, chunks) VALUES (?, ?, ?, ?, 0)",
                [entity.name, record_id, data, heads_json(heads)],
            ).rowcount
            if inserted:  # new here: one statement for the document, one for its row
                self._xor_digest(record_digest(entity.name, record_id, ",".join(heads)))
                self._write_row(entity, record_id, {k: row.get(k) for k in (*entity.columns, "updated_at", "conflicts")}, new=True)
                return
        entry = self._find(entity, record_id)
        if entry is None:
            doc = RecordDocument.load(data, self.actor)
            self._store_doc(entity, record_id, None, doc, [data])
            return
        doc = entry.doc
        doc.merge_saved(data, base=entry.data)
        if doc.heads() != entry.heads:
            self._store_doc(entity, record_id, entry, doc, [data])

    def receive_documents(self, records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Store whole documents sent with their row and heads, many at once (first sync, scope entry).

        Records this replica already holds are returned for the caller to merge one by one.
        """
        held: list[Mapping[str, Any]] = []
        by_entity: dict[str, list[Mapping[str, Any]]] = {}
        unique: dict[tuple[str, str], Mapping[str, Any]] = {}
        for record in records:  # a page may carry one record twice (queue and log): keep the last
            unique[(record["entity"], record["record_id"])] = record
        for record in unique.values():
            by_entity.setdefault(record["entity"], []).append(record)
        conn = self.db.conn
        for name, group in by_entity.items():
            entity = self._entity(name, "document")
            ids = [r["record_id"] for r in group]
            present = {key[1] for key in self._cache if key[0] == name}
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                present |= {i for (i,) in conn.execute(f"SELECT id FROM sync_docs WHERE entity = ? AND id IN ({marks})", [name, *chunk])}
            fresh = [r for r in group if r["record_id"] not in present]
            held += [r for r in group if r["record_id"] in present]
            conn.executemany(
                "INSERT INTO sync_docs (entity, id, data, heads, chunks) VALUES (?, ?, ?, ?, 0)",
                [(name, r["record_id"], r["document"], heads_json(r["heads"])) for r in fresh],
            )
            for r in fresh:
                self._xor_digest(record_digest(name, r["record_id"], ",".join(r["heads"])))
            self._upsert_rows(entity, {r["record_id"]: r["row"] for r in fresh})
        return held

    def put_events(self, entity_name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store many received events at once; changed ones (a server-corrected clock) one by one."""
        entity = self._entity(entity_name, "event")
        conn = self.db.conn
        known: dict[str, str] = {}
        ids = [r["id"] for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            known.update(conn.execute(f"SELECT id, hlc FROM [{entity.table}] WHERE id IN ({marks})", chunk).fetchall())
        fresh = [r for r in rows if r["id"] not in known]
        for row in rows:
            if row["id"] in known and known[row["id"]] != row["hlc"]:
                self.put_event(entity_name, row)
        cols = ["id", *entity.columns, "hlc", "author_id"]
        bools = {c for c, kind in entity.columns.items() if kind == "bool"}
        for row in fresh:
            unknown = set(row) - set(cols)
            if unknown:
                raise ValueError(f"unknown field(s) for {entity.name}: {', '.join(sorted(unknown))}")
        conn.executemany(
            f"INSERT OR IGNORE INTO [{entity.table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [tuple(_as_column(r.get(c), c in bools) for c in cols) for r in fresh],
        )
        for row in fresh:
            self._xor_digest(record_digest(entity.name, row["id"], row["hlc"]))
        if fresh:
            clock = self._hlc()
            clock.observe(max(Hlc.decode(r["hlc"]) for r in fresh))
            self._set_meta("hlc", clock.last.encode())

    def put_event(self, entity_name: str, row: Mapping[str, Any]) -> bool:
        """Store a received event (the server's copy wins over a local one); True if new or changed."""
        entity = self._entity(entity_name, "event")
        old = self.db.execute(f"SELECT hlc FROM [{entity.table}] WHERE id = ?", [row["id"]]).fetchone()
        if old is not None and old[0] == row["hlc"]:
            return False
        if old is not None:
            self._xor_digest(record_digest(entity.name, row["id"], old[0]))
            self.db.execute(f"DELETE FROM [{entity.table}] WHERE id = ?", [row["id"]])
        values = {k: v for k, v in row.items() if k not in _EVENT_KEYS}
        clean = {**_only_columns(entity, values), "id": row["id"], "hlc": row["hlc"], "author_id": row.get("author_id")}
        self._insert_event(entity, clean)
        clock = self._hlc()
        clock.observe(Hlc.decode(row["hlc"]))
        self._set_meta("hlc", clock.last.encode())
        return True

    def event_row(self, entity_name: str, event_id: str) -> dict[str, Any] | None:
        entity = self._entity(entity_name, "event")
        rows = list(self.db.query(f"SELECT * FROM [{entity.table}] WHERE id = ?", [event_id]))
        return rows[0] if rows else None

    def evict(self, entity_name: str, record_id: str) -> int:
        """Remove a record and everything hanging off it from this replica; returns rows removed."""
        entity = self.registry[entity_name]
        removed = 0
        for child in self.registry.children_of(entity.name):
            assert child.parent is not None
            for (child_id,) in self.db.execute(f"SELECT id FROM [{child.table}] WHERE [{child.parent[1]}] = ?", [record_id]).fetchall():
                removed += self.evict(child.name, child_id)
        if entity.kind == "document":
            row = self._doc_row(entity.name, record_id)
            self._cache.pop((entity.name, record_id), None)
            if row is not None:
                self._xor_digest(record_digest(entity.name, record_id, heads_version(row[1])))
                self.db.execute("DELETE FROM sync_docs WHERE entity = ? AND id = ?", [entity.name, record_id])
        else:
            old = self.db.execute(f"SELECT hlc FROM [{entity.table}] WHERE id = ?", [record_id]).fetchone()
            if old is not None:
                self._xor_digest(record_digest(entity.name, record_id, old[0]))
        removed += self.db.execute(f"DELETE FROM [{entity.table}] WHERE id = ?", [record_id]).rowcount
        return removed

    # ---- outbox (client side) ---------------------------------------------------------------
    def pending_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM sync_outbox").fetchone()[0])

    def outbox_batch(self, max_items: int, max_bytes: int) -> list[dict[str, Any]]:
        """The oldest outbox rows, bounded by count and payload bytes, never ending mid-record.

        A record's pending changes always travel together (the server judges a record by what
        they add up to), so the last record is completed even past the bounds.
        """
        out: list[dict[str, Any]] = []
        size = 0
        rows = self.db.execute(
            "SELECT seq, entity, record_id, kind, item_key, payload FROM sync_outbox ORDER BY seq LIMIT ?", [max_items]
        ).fetchall()
        for seq, entity, record_id, kind, key, payload in rows:
            size += len(payload)
            if out and size > max_bytes and (entity, record_id) != (out[-1]["entity"], out[-1]["record_id"]):
                break
            out.append({"seq": seq, "entity": entity, "record_id": record_id, "kind": kind, "key": key, "payload": payload})
        if out and out[-1]["kind"] == "change":
            last = out[-1]
            for seq, entity, record_id, kind, key, payload in self.db.execute(
                "SELECT seq, entity, record_id, kind, item_key, payload FROM sync_outbox"
                " WHERE entity = ? AND record_id = ? AND kind = 'change' AND seq > ? ORDER BY seq",
                [last["entity"], last["record_id"], last["seq"]],
            ):
                out.append({"seq": seq, "entity": entity, "record_id": record_id, "kind": kind, "key": key, "payload": payload})
        return out

    def requeue(self, entity_name: str, record_id: str, author: str | None = None) -> int:
        """Put a record's whole history back in the outbox (the server lost it); returns rows queued.

        Events are queued only when ``author`` wrote them: the server attributes an event to the
        device that pushes it, so another user's event is not this device's to send.
        """
        entity = self.registry.get(entity_name)
        if entity is None:
            return 0
        if entity.kind == "document":
            row = self._doc_row(entity.name, record_id)
            if row is None:
                return 0
            changes = RecordDocument.load(row[0], self.actor).changes_since([])
            self._record_local_changes(entity, record_id, changes)
            return len(changes)
        event = self.event_row(entity.name, record_id)
        if event is None or author is None or event.get("author_id") != author:
            return 0
        self._record_local_event(entity, event)
        return 1

    def ack(self, seqs: Sequence[int]) -> None:
        self.db.conn.executemany("DELETE FROM sync_outbox WHERE seq = ?", [(s,) for s in seqs])

    def drop_outbox_for(self, entity_name: str, record_id: str) -> None:
        self.db.execute("DELETE FROM sync_outbox WHERE entity = ? AND record_id = ?", [entity_name, record_id])

    def pending_for(self, entity_name: str, record_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM sync_outbox WHERE entity = ? AND record_id = ?", [entity_name, record_id]).fetchone()[0])

    # ---- rejections -------------------------------------------------------------------------
    def add_rejection(self, rejection: Mapping[str, Any]) -> bool:
        """Keep a rejection the server sent (idempotent by id); True if it was new."""
        return self.db.execute(
            "INSERT OR IGNORE INTO sync_rejections (id, entity, record_id, field, kind, reason, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [rejection["id"], rejection["entity"], rejection["record_id"], rejection.get("field"), rejection["kind"],
             rejection["reason"], json.dumps(rejection.get("detail"), ensure_ascii=False), rejection.get("created_at") or iso_from_ms(self.now_ms())],
        ).rowcount == 1

    def rejections(self, include_dismissed: bool = False) -> list[dict[str, Any]]:
        where = "1" if include_dismissed else "dismissed = 0"
        return [{**r, "detail": json.loads(r["detail"] or "null")} for r in self.db.query(f"SELECT * FROM sync_rejections WHERE {where} ORDER BY created_at DESC")]

    # ---- cursor -----------------------------------------------------------------------------
    @property
    def cursor(self) -> str:
        """The pull cursor (opaque, exclusive, only moves forward)."""
        return self._meta("cursor") or ""

    def set_cursor(self, cursor: str) -> None:
        self._set_meta("cursor", cursor)

    # ---- internals --------------------------------------------------------------------------
    def _entity(self, name: str, kind: str) -> Entity:
        entity = self.registry.get(name)
        if entity is None or entity.kind != kind:
            raise ValueError(f"{name!r} is not a registered {kind} entity")
        return entity

    def _doc_row(self, entity: str, record_id: str) -> tuple[bytes, str] | None:
        return self.db.execute("SELECT data, heads FROM sync_docs WHERE entity = ? AND id = ?", [entity, record_id]).fetchone()

    def _open(self, entity: Entity, record_id: str) -> _Entry:
        """The record's document, from the cache or loaded (call inside ``write()``)."""
        entry = self._find(entity, record_id)
        if entry is None:
            raise RecordNotFound(f"{entity.name} {record_id}")
        return entry

    def _find(self, entity: Entity, record_id: str) -> _Entry | None:
        """Like ``_open``, but None for a record this replica does not hold."""
        key = (entity.name, record_id)
        entry = self._cache.get(key)
        if entry is not None:
            self._cache.move_to_end(key)
            return entry
        batch = self._batch()
        if batch is not None and key in batch.absent:
            return None
        # a document not held back reads the same from the table: no need to write the batch first
        db = self.db if batch is not None and key in batch.docs else self._db()
        row = db.execute("SELECT data, heads, chunks FROM sync_docs WHERE entity = ? AND id = ?", [entity.name, record_id]).fetchone()
        if row is None:
            return None
        entry = _Entry(RecordDocument.load(row[0], self.actor), heads_list(row[1]), row[0], row[2])
        self._remember(key, entry)
        return entry

    def _remember(self, key: tuple[str, str], entry: _Entry) -> None:
        self._cache[key] = entry
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def _save_local(
        self, entity: Entity, record_id: str, entry: _Entry | None, doc: RecordDocument,
        fields: Sequence[str] | Mapping[str, Any] | None = None, updated_ms: int | None = None,
    ) -> None:
        changes = doc.changes_since(entry.heads if entry else [])
        self._store_doc(entity, record_id, entry, doc, [c.data for c in changes], fields, updated_ms)
        self._record_local_changes(entity, record_id, changes)

    def _store_doc(
        self, entity: Entity, record_id: str, entry: _Entry | None, doc: RecordDocument, chunks: Sequence[bytes],
        fields: Sequence[str] | Mapping[str, Any] | None = None, updated_ms: int | None = None,
        values: Mapping[str, Any] | None = None, compact: bool = True,
    ) -> None:
        """Persist a document that grew by ``chunks`` (appended, compacted now and then) and its row.

        ``values``: the document's current field values when the caller has them (spares a read);
        ``compact=False`` stores a new record's several chunks as they are instead of saving it.
        """
        heads = doc.heads()
        if entry is None:
            if len(chunks) == 1 or not compact:
                data, count = b"".join(chunks), len(chunks)
            else:  # several raw chunks are ~3x a saved document on the wire
                data, count = doc.save(), 0
            self._put_doc(entity, record_id, data, heads, count, new=True)
            self._xor_digest(record_digest(entity.name, record_id, ",".join(heads)))
        else:
            if entry.chunks + len(chunks) > _MAX_CHUNKS:
                data, count = doc.save(), 0
            else:
                data, count = entry.data + b"".join(chunks), entry.chunks + len(chunks)
            self._put_doc(entity, record_id, data, heads, count, new=False)
            self._xor_digest(record_digest(entity.name, record_id, ",".join(entry.heads)) ^ record_digest(entity.name, record_id, ",".join(heads)))
        self._remember((entity.name, record_id), _Entry(doc, heads, data, count))
        self._materialize(entity, record_id, doc, new=entry is None, fields=fields, updated_ms=updated_ms, values=values)

    def _put_doc(self, entity: Entity, record_id: str, data: bytes, heads: list[str], chunks: int, new: bool) -> None:
        batch = self._batch()
        if batch is not None:
            batch.docs[(entity.name, record_id)] = (data, heads_json(heads), chunks)
            batch.absent.discard((entity.name, record_id))
        elif new:
            self.db.execute("INSERT INTO sync_docs (entity, id, data, heads, chunks) VALUES (?, ?, ?, ?, ?)",
                            [entity.name, record_id, data, heads_json(heads), chunks])
        else:
            self.db.execute("UPDATE sync_docs SET data = ?, heads = ?, chunks = ? WHERE entity = ? AND id = ?",
                            [data, heads_json(heads), chunks, entity.name, record_id])

    def _materialize(
        self, entity: Entity, record_id: str, doc: RecordDocument, new: bool,
        fields: Sequence[str] | Mapping[str, Any] | None = None, updated_ms: int | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the record's current values to its table: all of them, or just ``fields``
        (a mapping gives the values just written, sparing reads from the document)."""
        if isinstance(fields, Mapping):
            row: dict[str, Any] = dict(fields)
        elif fields is not None:
            row = {name: doc.get(name) for name in fields}
        else:
            if values is None:
                values = doc.values()
            row = {name: values.get(name) for name in entity.columns}
        if updated_ms is None:
            times = doc.stamp_times()
            updated_ms = max(times.values()) if times else None
        row["updated_at"] = iso_from_ms(updated_ms) if updated_ms is not None else None
        if fields is None:
            kept = doc.conflicts()
            row["conflicts"] = json.dumps(
                [{"id": c["id"], "field": c["field"], "value": c["value"], "author_id": c["author"],
                  "edited_at": iso_from_ms(int(c["at"])), "site_id": c["site"]} for c in kept],
                ensure_ascii=False,
            ) if kept else "[]"
            batch = self._batch()
            if batch is not None:  # a full row: held back and written with the batch's others
                batch.rows.setdefault(entity.name, {})[record_id] = row
                return
        self._write_row(entity, record_id, row, new)

    def _write_row(self, entity: Entity, record_id: str, row: Mapping[str, Any], new: bool) -> None:
        values = {k: (int(v) if entity.columns.get(k) == "bool" and v is not None else v) for k, v in row.items()}
        if new:
            cols = ["id", *values]
            self.db.execute(
                f"INSERT OR REPLACE INTO [{entity.table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [record_id, *values.values()],
            )
        else:
            self.db.execute(
                f"UPDATE [{entity.table}] SET {', '.join(f'[{c}] = ?' for c in values)} WHERE id = ?",
                [*values.values(), record_id],
            )

    def _insert_event(self, entity: Entity, row: Mapping[str, Any]) -> None:
        existing = self.db.execute(f"SELECT 1 FROM [{entity.table}] WHERE id = ?", [row["id"]]).fetchone()
        if existing is not None:
            return
        cols = ["id", *entity.columns, "hlc", "author_id"]
        values = [int(row[c]) if entity.columns.get(c) == "bool" and row.get(c) is not None else row.get(c) for c in cols]
        self.db.execute(
            f"INSERT INTO [{entity.table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' for _ in cols)})", values
        )
        self._xor_digest(record_digest(entity.name, row["id"], row["hlc"]))

    def _xor_digest(self, value: int) -> None:
        self._digest ^= value  # written to sync_meta once, when the transaction commits

    # hooks: where a local write is recorded for others to receive
    def _record_local_changes(self, entity: Entity, record_id: str, changes: Sequence[Any]) -> None:
        self.db.conn.executemany(
            "INSERT INTO sync_outbox (entity, record_id, kind, item_key, payload) VALUES (?, ?, 'change', ?, ?)",
            [(entity.name, record_id, c.hash, c.data) for c in changes],
        )

    def _record_local_event(self, entity: Entity, row: Mapping[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO sync_outbox (entity, record_id, kind, item_key, payload) VALUES (?, ?, 'event', ?, ?)",
            [entity.name, row["id"], row["id"], json.dumps(dict(row), ensure_ascii=False).encode()],
        )


def _as_column(value: Any, is_bool: bool) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)  # conflicts, whether sent encoded or not
    return int(value) if is_bool and value is not None else value


def _only_columns(entity: Entity, values: Mapping[str, Any]) -> dict[str, Scalar]:
    unknown = set(values) - set(entity.columns)
    if unknown:
        raise ValueError(f"unknown field(s) for {entity.name}: {', '.join(sorted(unknown))}")
    return dict(values)
