"""The push/pull protocol: marshmallow schemas for every message, and the version check.

Binary change bytes travel base64-encoded. Every message carries ``schema_version``; a replica
whose major version differs is refused with ``IncompatibleVersion`` ("please update").
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Callable

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .errors import IncompatibleVersion, InvalidMessage

SCHEMA_VERSION = "2.0"  # 2.0: the sales entities (old clients cannot hold them)
MAX_PUSH_ITEMS = 500
MAX_CHANGES_PER_ITEM = 2000
MAX_MANIFEST = 500_000
_NAME_PATTERN = re.compile(r"^[a-z_]{1,40}$")
_NAME = validate.Regexp(_NAME_PATTERN)
_ID = validate.Length(min=1, max=64)
_QUICK: dict[Any, Callable[[str], bool]] = {  # passes exactly what the validator passes
    _NAME: lambda value: _NAME_PATTERN.match(value) is not None,
    _ID: lambda value: 1 <= len(value) <= 64,
}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValidationError("Expected base64 text.")
    try:  # strict decoding accepts a subset of what the checked path below accepts, in C
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("Not valid base64.") from exc


def _b64_text(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")  # base64.b64encode, one call less


class _ItemList(fields.Field):
    """A list of protocol items checked by hand, item by item.

    Pushes and pulls carry thousands of items; a nested schema per item costs more than the
    sync work itself, so these fields validate each item's keys and types directly and report
    errors per index and key, as a nested schema would.
    """

    max_items = MAX_PUSH_ITEMS
    _item: Callable[[dict[str, Any]], dict[str, Any]]  # each list says what its items are

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} items.")
        out, errors = [], {}
        for index, item in enumerate(value):
            try:
                if not isinstance(item, dict):
                    raise ValidationError({"_schema": ["Invalid input type."]})
                out.append(self._item(item))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out

    @staticmethod
    def _check_keys(item: dict[str, Any], allowed: frozenset[str]) -> None:
        if allowed.issuperset(item):
            return
        unknown = set(item) - allowed
        if unknown:
            raise ValidationError({k: ["Unknown field."] for k in sorted(unknown)})

    @staticmethod
    def _text(item: dict[str, Any], key: str, check: Any = None) -> str:
        value = item.get(key)
        if type(value) is str and check in _QUICK and _QUICK[check](value):
            return value  # the common case, without the validator's call
        if not isinstance(value, str):
            raise ValidationError({key: ["Missing data for required field." if value is None else "Not a valid string."]})
        if check is not None:
            try:
                check(value)
            except ValidationError as exc:
                raise ValidationError({key: exc.messages}) from exc
        return value

    @staticmethod
    def _changes(item: dict[str, Any], key: str = "changes") -> list[bytes] | None:
        value = item.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) > MAX_CHANGES_PER_ITEM:
            raise ValidationError({key: [f"Expected a list of at most {MAX_CHANGES_PER_ITEM} base64 strings."]})
        try:
            return [_b64(v) for v in value]
        except ValidationError as exc:
            raise ValidationError({key: exc.messages}) from exc

    @staticmethod
    def _mapping(item: dict[str, Any], key: str) -> dict[str, Any] | None:
        value = item.get(key)
        if value is not None and not isinstance(value, dict):
            raise ValidationError({key: ["Not a valid mapping type."]})
        return value


class PushItems(_ItemList):
    """Outbox items: one record's changes, or one event, with the outbox rows they came from."""

    keys = frozenset({"entity", "record_id", "outbox", "changes", "event"})

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        quick = self._changes_item(item)
        if quick is not None:
            return quick
        self._check_keys(item, self.keys)
        outbox = item.get("outbox")
        if (not isinstance(outbox, list) or not 1 <= len(outbox) <= MAX_CHANGES_PER_ITEM
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in outbox)):
            raise ValidationError({"outbox": [f"Expected 1 to {MAX_CHANGES_PER_ITEM} integers."]})
        return {
            "entity": self._text(item, "entity", _NAME),
            "record_id": self._text(item, "record_id", _ID),
            "outbox": outbox,
            "changes": self._changes(item),
            "event": self._mapping(item, "event"),
        }

    def _changes_item(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """A well-formed record's changes (most of a push) checked in one go; None otherwise."""
        entity, record_id, outbox, changes = item.get("entity"), item.get("record_id"), item.get("outbox"), item.get("changes")
        if not (type(entity) is str and type(record_id) is str and type(outbox) is list and type(changes) is list
                and 1 <= len(outbox) <= MAX_CHANGES_PER_ITEM and len(changes) <= MAX_CHANGES_PER_ITEM
                and item.get("event") is None and self.keys.issuperset(item)
                and _QUICK[_NAME](entity) and _QUICK[_ID](record_id)
                and all(type(n) is int for n in outbox) and all(type(c) is str for c in changes)):
            return None
        try:
            data = [binascii.a2b_base64(c, strict_mode=True) for c in changes]
        except (binascii.Error, ValueError):
            return None  # the full check says what is wrong
        return {"entity": entity, "record_id": record_id, "outbox": outbox, "changes": data, "event": None}

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[dict[str, Any]]:
        out = []
        for item in value:
            wire = {"entity": item["entity"], "record_id": item["record_id"], "outbox": list(item["outbox"])}
            if item.get("changes") is not None:
                wire["changes"] = [_b64_text(c) for c in item["changes"]]
            if item.get("event") is not None:
                wire["event"] = item["event"]
            out.append(wire)
        return out


class PulledRecords(_ItemList):
    """Records sent by a pull: new changes, a whole document (with its row and heads), or an event."""

    max_items = 100_000
    keys = frozenset({"entity", "record_id", "changes", "document", "row", "heads", "event"})

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        whole = self._whole_document(item)
        if whole is not None:
            return whole
        self._check_keys(item, self.keys)
        document = item.get("document")
        heads = item.get("heads")
        if heads is not None and (not isinstance(heads, list) or not all(isinstance(h, str) for h in heads)):
            raise ValidationError({"heads": ["Expected a list of strings."]})
        out = {
            "entity": self._text(item, "entity", _NAME),
            "record_id": self._text(item, "record_id", _ID),
            "changes": self._changes(item),
            "document": None if document is None else self._b64_field(document),
            "row": self._mapping(item, "row"),
            "heads": heads,
            "event": self._mapping(item, "event"),
        }
        if sum(out[k] is not None for k in ("changes", "document", "event")) != 1:
            raise ValidationError({"_schema": ["A record carries exactly one of changes, document or event."]})
        return out

    def _whole_document(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """A well-formed whole document (most of a first sync) checked in one go; None otherwise."""
        entity, record_id, document = item.get("entity"), item.get("record_id"), item.get("document")
        heads, row = item.get("heads"), item.get("row")
        if not (type(entity) is str and type(record_id) is str and type(document) is str and type(row) is dict
                and type(heads) is list and item.get("changes") is None and item.get("event") is None
                and self.keys.issuperset(item) and _QUICK[_NAME](entity) and _QUICK[_ID](record_id)
                and all(type(h) is str for h in heads)):
            return None
        try:
            data = binascii.a2b_base64(document, strict_mode=True)
        except (binascii.Error, ValueError):
            return None  # the full check below says what is wrong
        return {"entity": entity, "record_id": record_id, "changes": None, "document": data, "row": row,
                "heads": heads, "event": None}

    @staticmethod
    def _b64_field(value: Any) -> bytes:
        try:
            return _b64(value)
        except ValidationError as exc:
            raise ValidationError({"document": exc.messages}) from exc

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[dict[str, Any]]:
        out = []
        for record in value:
            wire: dict[str, Any] = {"entity": record["entity"], "record_id": record["record_id"]}
            if record.get("document") is not None:
                wire["document"] = _b64_text(record["document"])
                wire["row"] = record.get("row")
                wire["heads"] = record.get("heads")
            elif record.get("changes") is not None:
                wire["changes"] = [_b64_text(c) for c in record["changes"]]
            else:
                wire["event"] = record.get("event")
            out.append(wire)
        return out


class PushRequestSchema(_Strict):
    schema_version = fields.String(required=True)
    device_id = fields.String(required=True, validate=_ID)
    items = PushItems(required=True)


class RejectionSchema(_Strict):
    id = fields.String(required=True)
    entity = fields.String(required=True)
    record_id = fields.String(required=True)
    field = fields.String(allow_none=True, load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(["field", "record"]))
    reason = fields.String(required=True)
    detail = fields.Raw(allow_none=True, load_default=None)
    created_at = fields.String(required=True)


class PushResponseSchema(_Strict):
    acked = fields.List(fields.Integer(), required=True)
    rejections = fields.List(fields.Nested(RejectionSchema), required=True)
    conflicts = fields.Integer(required=True)
    server_ms = fields.Integer(required=True)


class PullRequestSchema(_Strict):
    schema_version = fields.String(required=True)
    device_id = fields.String(required=True, validate=_ID)
    cursor = fields.String(required=True, validate=validate.Length(max=64))
    checksum = fields.String(load_default=None, allow_none=True)
    manifest = fields.List(fields.List(fields.String()), load_default=None, allow_none=True, validate=validate.Length(max=MAX_MANIFEST))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))
    pending = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))
    app_version = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class EvictionSchema(_Strict):
    entity = fields.String(required=True)
    record_id = fields.String(required=True)


class PullResponseSchema(_Strict):
    records = PulledRecords(required=True)
    evictions = fields.List(fields.Nested(EvictionSchema), required=True)
    rejections = fields.List(fields.Nested(RejectionSchema), required=True)
    cursor = fields.String(required=True)
    more = fields.Boolean(required=True)
    checksum = fields.String(allow_none=True, load_default=None)
    server_ms = fields.Integer(required=True)
    # records the server has never seen (restored from a backup): the device sends them again
    resend = fields.List(fields.Nested(EvictionSchema), load_default=list)


def check_version(theirs: str) -> None:
    """Refuse a peer whose major schema version differs from ours."""
    if theirs.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise IncompatibleVersion(
            f"This device speaks sync schema {theirs}; the server speaks {SCHEMA_VERSION}. Please update Fieldbook.",
        )


_INSTANCES: dict[type[Schema], Schema] = {}


def _instance(schema: Schema | type[Schema]) -> Schema:
    """One instance per schema class: building one deep-copies every field (~0.1 ms a message)."""
    if not isinstance(schema, type):
        return schema
    found = _INSTANCES.get(schema)
    if found is None:
        found = _INSTANCES[schema] = schema()
    return found


def load(schema: Schema | type[Schema], payload: Any) -> dict[str, Any]:
    """Validate and load a message, turning field errors into ``InvalidMessage``."""
    if not isinstance(payload, dict):
        raise InvalidMessage("The message must be a JSON object.")
    try:
        return _instance(schema).load(payload)
    except ValidationError as exc:
        raise InvalidMessage("The sync message is invalid.", fields=exc.normalized_messages()) from exc


def dump(schema: Schema | type[Schema], message: dict[str, Any]) -> dict[str, Any]:
    return _instance(schema).dump(message)
