"""One Automerge document per record, behind the small interface the rest of Fieldbook uses.

This is the only module that imports ``automerge``. A record document is a root map of field
values; long free text fields are Automerge Text (concurrent edits merge character by character).
Two maps ride along inside the document and replicate with it:

- ``_m``: per field, the edit stamp ``ms|author|site`` of the write that set it (the binding's
  change timestamps are always 0, so edit times live here);
- ``_c``: the kept conflicts, id -> JSON ``{field, value, author, at, site}``; restoring or
  dismissing one is an ordinary edit, so it works offline and merges like any field.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from automerge.core import ROOT, Document, ObjType, ScalarType

META = "_m"
CONFLICTS = "_c"

Scalar = str | int | float | bool | None


class MissingDependencies(Exception):
    """Changes were applied whose ancestors the document does not hold."""


class InvalidChanges(Exception):
    """Bytes that are not valid Automerge changes."""


@dataclass(frozen=True)
class Stamp:
    """Who set a field and when (milliseconds, server-canonical time) on which replica."""

    ms: int
    author: str
    site: str

    def encode(self) -> str:
        return f"{self.ms}|{self.author}|{self.site}"

    @classmethod
    def decode(cls, text: str) -> Stamp:
        ms, author, site = text.split("|", 2)
        return cls(int(ms), author, site)


class ChangeInfo(NamedTuple):
    """A change as stored and sent: its hash, the hashes it depends on, and its bytes.

    (A named tuple: built for every change applied, where a frozen dataclass cost 1 µs each.)
    """

    hash: str
    deps: tuple[str, ...]
    data: bytes


def _scalar(value: Scalar) -> tuple[ScalarType, Scalar]:
    if value is None:
        return ScalarType.Null, None
    if isinstance(value, bool):
        return ScalarType.Boolean, value
    if isinstance(value, int):
        return ScalarType.Int, value
    if isinstance(value, float):
        return ScalarType.F64, value
    if isinstance(value, str):
        return ScalarType.Str, value
    raise TypeError(f"a record field cannot hold {type(value).__name__}")


# The binding exposes patches only through their Debug text; keys are our field identifiers.
_CONFLICT_PATCH = re.compile(r'^Patch \{ obj: Root, path: \[\], action: Conflict \{ prop: Map\("(\w+)"\) \} \}$')
_PUT_CONFLICT_PATCH = re.compile(
    r'^Patch \{ obj: Root, path: \[\], action: PutMap \{ key: "(\w+)", .*, conflict: true \} \}$', re.S
)


class RecordDocument:
    """A record as an Automerge document: fields, text fields, edit stamps and kept conflicts."""

    def __init__(self, doc: Document) -> None:
        self._doc = doc

    # ---- life cycle -------------------------------------------------------------------------
    @classmethod
    def new(
        cls,
        actor: bytes,
        values: Mapping[str, Scalar],
        stamp: Stamp,
        text_fields: Iterable[str] = (),
    ) -> RecordDocument:
        """Create a record with its text objects, stamps map and conflicts map."""
        doc = Document(actor_id=actor)
        texts = set(text_fields)
        with doc.transaction() as tx:  # one change: a record never travels half-created
            tx.put_object(ROOT, META, ObjType.Map)
            tx.put_object(ROOT, CONFLICTS, ObjType.Map)
            for name in texts:
                tx.put_object(ROOT, name, ObjType.Text)
            _write(tx, {name: (value, stamp) for name, value in values.items()}, texts)
        return cls(doc)

    @classmethod
    def empty(cls, actor: bytes) -> RecordDocument:
        """Return a document with no history, to apply a record's first changes to."""
        return cls(Document(actor_id=actor))

    @classmethod
    def load(cls, data: bytes, actor: bytes) -> RecordDocument:
        """Load saved bytes (optionally followed by more change or document chunks)."""
        try:
            doc = Document.load(data)
        except Exception as exc:  # the binding raises plain Exception
            raise _classify(exc) from exc
        doc.set_actor(actor)
        return cls(doc)

    def save(self) -> bytes:
        return self._doc.save()

    def heads(self) -> list[str]:
        """The document's heads as sorted hex strings."""
        return sorted(h.hex() for h in self._doc.get_heads())

    # ---- reading ----------------------------------------------------------------------------
    def get(self, name: str, heads: Sequence[str] | None = None) -> Scalar:
        """The field's value (text fields as str), optionally as of given heads."""
        found = self._doc.get(ROOT, name, _raw(heads))
        if found is None:
            return None
        value, obj_id = found
        if isinstance(value, ObjType):
            return self._doc.text(obj_id, _raw(heads)) if value == ObjType.Text else None
        return value[1]  # type: ignore[return-value]

    def values(self, heads: Sequence[str] | None = None) -> dict[str, Scalar]:
        """Every user field (not the stamps or conflicts maps)."""
        raw = _raw(heads)
        out: dict[str, Scalar] = {}
        for key, (value, obj_id) in zip(self._doc.keys(ROOT, raw), self._doc.values(ROOT, raw)):  # two calls, not one per key
            if key.startswith("_"):
                continue
            if isinstance(value, ObjType):
                out[key] = self._doc.text(obj_id, raw) if value == ObjType.Text else None
            else:
                out[key] = value[1]  # type: ignore[assignment]
        return out

    def values_and_times(self) -> tuple[dict[str, Scalar], dict[str, int]]:
        """``values()`` and ``stamp_times()`` in one pass over the root map."""
        out: dict[str, Scalar] = {}
        meta = None
        for key, (value, obj_id) in zip(self._doc.keys(ROOT), self._doc.values(ROOT)):
            if key.startswith("_"):
                if key == META and value == ObjType.Map:
                    meta = obj_id
                continue
            if isinstance(value, ObjType):
                out[key] = self._doc.text(obj_id) if value == ObjType.Text else None
            else:
                out[key] = value[1]  # type: ignore[assignment]
        if meta is None:
            return out, {}
        return out, {k: int(str(v[1]).partition("|")[0]) for k, v in self._raw_stamps(meta).items()}

    def stamp(self, name: str, heads: Sequence[str] | None = None) -> Stamp | None:
        """The stamp of the write that set ``name`` as of ``heads``."""
        meta = self._doc.get(ROOT, META, _raw(heads))
        if meta is None:
            return None
        found = self._doc.get(meta[1], name, _raw(heads))
        if found is None or isinstance(found[0], ObjType):
            return None
        return Stamp.decode(str(found[0][1]))

    def stamps(self) -> dict[str, Stamp]:
        meta = self._doc.get(ROOT, META)
        if meta is None:
            return {}
        return {k: Stamp.decode(str(v[1])) for k, v in self._raw_stamps(meta[1]).items()}

    def stamp_times(self) -> dict[str, int]:
        """Per field, the edit time of its stamp (cheaper than ``stamps`` where only time counts)."""
        meta = self._doc.get(ROOT, META)
        if meta is None:
            return {}
        return {k: int(str(v[1]).split("|", 1)[0]) for k, v in self._raw_stamps(meta[1]).items()}

    def _raw_stamps(self, meta: bytes) -> dict[str, Any]:
        return {
            k: value for k, (value, _) in zip(self._doc.keys(meta), self._doc.values(meta))
            if not isinstance(value, ObjType)
        }

    def conflicts(self) -> list[dict[str, Any]]:
        """The kept losing values, oldest first: ``{id, field, value, author, at, site}``."""
        found = self._doc.get(ROOT, CONFLICTS)
        if found is None:
            return []
        out = []
        for key in self._doc.keys(found[1]):
            item = self._doc.get(found[1], key)
            if item is not None and not isinstance(item[0], ObjType):
                out.append({"id": key, **json.loads(str(item[0][1]))})
        return sorted(out, key=lambda c: (c["at"], c["id"]))

    # ---- writing ----------------------------------------------------------------------------
    def set_fields(
        self, values: Mapping[str, Scalar], stamp: Stamp, text_fields: Iterable[str] = ()
    ) -> None:
        """Set fields in one change; text fields are replaced by a minimal splice."""
        self.resolve({name: (value, stamp) for name, value in values.items()}, {}, text_fields)

    def resolve(
        self,
        values: Mapping[str, tuple[Scalar, Stamp]],
        kept: Mapping[str, Mapping[str, Any]],
        text_fields: Iterable[str] = (),
    ) -> None:
        """One change setting fields with their own stamps and keeping losing values."""
        with self._doc.transaction() as tx:
            _write(tx, values, set(text_fields))
            if kept:
                conflicts = _map(tx, CONFLICTS)
                for conflict_id, payload in kept.items():
                    tx.put(conflicts, conflict_id, ScalarType.Str, json.dumps(dict(payload), ensure_ascii=False))

    def splice_text(self, name: str, pos: int, delete: int, insert: str, stamp: Stamp) -> None:
        """Edit a text field character-wise: delete ``delete`` chars at ``pos``, insert ``insert``."""
        with self._doc.transaction() as tx:
            obj = _text_obj(tx, name)
            length = tx.length(obj)
            if not 0 <= pos <= length or pos + delete > length or delete < 0:
                raise ValueError(f"splice {pos}+{delete} is outside the text of length {length}")
            for _ in range(delete):
                tx.delete(obj, pos)
            for offset, char in enumerate(insert):
                tx.insert(obj, pos + offset, ScalarType.Str, char)
            tx.put(_map(tx, META), name, ScalarType.Str, stamp.encode())

    def keep_conflict(self, conflict_id: str, kept: Mapping[str, Any]) -> None:
        """Store a losing value so users can see, restore or dismiss it."""
        with self._doc.transaction() as tx:
            tx.put(_map(tx, CONFLICTS), conflict_id, ScalarType.Str, json.dumps(kept, ensure_ascii=False))

    def drop_conflict(self, conflict_id: str) -> None:
        with self._doc.transaction() as tx:
            tx.delete(_map(tx, CONFLICTS), conflict_id)

    # ---- exchanging changes -----------------------------------------------------------------
    def changes_since(self, heads: Sequence[str]) -> list[ChangeInfo]:
        """Changes not in the history of ``heads``, in causal order."""
        return [
            ChangeInfo(c.hash.hex(), tuple(d.hex() for d in c.deps), bytes(c.raw_bytes))
            for c in self._doc.get_changes(_raw(heads) or [])
        ]

    def apply(self, changes: Sequence[bytes], base: bytes | None = None) -> list[str]:
        """Apply raw change bytes; return the hashes that were new. Known changes are no-ops.

        See ``apply_changes``, which returns the new changes themselves.
        """
        return [c.hash for c in self.apply_changes(changes, base)]

    def apply_changes(self, changes: Sequence[bytes], base: bytes | None = None) -> list[ChangeInfo]:
        """Apply raw change bytes; return the changes that were new, in causal order
        (what ``changes_since`` the previous heads would return).

        Raises ``InvalidChanges`` for bytes that are not uncompressed change chunks and
        ``MissingDependencies`` when a change's ancestors are absent (the binding would
        otherwise queue it silently), leaving the document untouched either way. ``base``, when
        given, is this document's stored bytes (saves re-serialising it).
        """
        if not changes:
            return []
        given = [change_hash(data) for data in changes]
        before = self._doc.get_heads()
        try:
            doc = Document.load((self._doc.save() if base is None else base) + b"".join(changes))
        except Exception as exc:
            raise _classify(exc) from exc
        added = [ChangeInfo(c.hash.hex(), tuple(d.hex() for d in c.deps), bytes(c.raw_bytes)) for c in doc.get_changes(before)]
        absent = set(given) - {c.hash for c in added}
        if absent:
            known = {c.hash.hex() for c in self._doc.get_changes([])}
            if absent - known:
                raise MissingDependencies(f"{len(absent - known)} change(s) lack their ancestors")
        doc.set_actor(self._doc.get_actor())
        self._doc = doc
        return added

    def merge_saved(self, data: bytes, base: bytes | None = None) -> None:
        """Merge a whole saved document of the same record (keeps local changes)."""
        actor = self._doc.get_actor()
        try:
            doc = Document.load((self._doc.save() if base is None else base) + data)
        except Exception as exc:
            raise _classify(exc) from exc
        doc.set_actor(actor)
        self._doc = doc

    def conflicting_fields(self, before: Sequence[str], after: Sequence[str]) -> set[str]:
        """User fields that hold concurrent values at ``after`` which were not conflicting at ``before``."""
        found: set[str] = set()
        for patch in self._doc.diff(_raw(before) or [], _raw(after) or []):
            text = repr(patch)
            match = _CONFLICT_PATCH.match(text) or _PUT_CONFLICT_PATCH.match(text)
            if match and not match.group(1).startswith("_"):
                found.add(match.group(1))
        return found


_CHANGE_MAGIC = bytes.fromhex("856f4a83")


def change_hash(data: bytes) -> str:
    """The hash of one uncompressed change chunk, checked against its embedded checksum."""
    if len(data) < 10 or data[:4] != _CHANGE_MAGIC or data[8] != 1:
        raise InvalidChanges("not an uncompressed Automerge change chunk")
    digest = hashlib.sha256(data[8:]).digest()
    if digest[:4] != data[4:8]:
        raise InvalidChanges("change checksum does not match")
    return digest.hex()


def _raw(heads: Sequence[str] | None) -> list[bytes] | None:
    return None if heads is None else [bytes.fromhex(h) for h in heads]


def _write(tx: Any, values: Mapping[str, tuple[Scalar, Stamp]], texts: set[str]) -> None:
    meta = _map(tx, META)
    for name, (value, stamp) in values.items():
        if name in texts:
            _splice_to(tx, name, "" if value is None else str(value))
        else:
            scalar_type, scalar = _scalar(value)
            tx.put(ROOT, name, scalar_type, scalar)
        tx.put(meta, name, ScalarType.Str, stamp.encode())


def _map(tx: Any, name: str) -> bytes:
    found = tx.get(ROOT, name)
    if found is None or found[0] != ObjType.Map:
        return tx.put_object(ROOT, name, ObjType.Map)
    return found[1]


def _text_obj(tx: Any, name: str) -> bytes:
    found = tx.get(ROOT, name)
    if found is None or found[0] != ObjType.Text:
        raise ValueError(f"{name!r} is not a text field of this record")
    return found[1]


def _splice_to(tx: Any, name: str, new: str) -> None:
    """Turn the text into ``new`` by replacing only the part between common prefix and suffix."""
    obj = _text_obj(tx, name)
    old = tx.text(obj)
    if old == new:
        return
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    for _ in range(len(old) - prefix - suffix):
        tx.delete(obj, prefix)
    for offset, char in enumerate(new[prefix : len(new) - suffix]):
        tx.insert(obj, prefix + offset, ScalarType.Str, char)


def _classify(exc: Exception) -> Exception:
    if "deps" in str(exc):
        return MissingDependencies(str(exc))
    return InvalidChanges(str(exc))
