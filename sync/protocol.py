"""The push/pull protocol: marshmallow schemas for every message, and the version check.

Binary change bytes travel base64-encoded. Every message carries ``schema_version``; a replica
whose major version differs is refused with ``IncompatibleVersion`` ("please update").
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .errors import IncompatibleVersion, InvalidMessage

SCHEMA_VERSION = "1.0"
MAX_PUSH_ITEMS = 500
MAX_CHANGES_PER_ITEM = 2000
MAX_MANIFEST = 500_000
_NAME = validate.Regexp(r"^[a-z_]{1,40}$")
_ID = validate.Length(min=1, max=64)


class Base64Bytes(fields.Field):
    """Bytes on the wire as base64 text."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else base64.b64encode(value).decode("ascii")

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str):
            raise ValidationError("Expected base64 text.")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError("Not valid base64.") from exc


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PushItemSchema(_Strict):
    """One record's changes, or one event, from the outbox."""

    entity = fields.String(required=True, validate=_NAME)
    record_id = fields.String(required=True, validate=_ID)
    outbox = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=MAX_CHANGES_PER_ITEM))
    changes = fields.List(Base64Bytes(), load_default=None, validate=validate.Length(max=MAX_CHANGES_PER_ITEM))
    event = fields.Dict(load_default=None)


class PushRequestSchema(_Strict):
    schema_version = fields.String(required=True)
    device_id = fields.String(required=True, validate=_ID)
    items = fields.List(fields.Nested(PushItemSchema), required=True, validate=validate.Length(max=MAX_PUSH_ITEMS))


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


class PulledRecordSchema(_Strict):
    entity = fields.String(required=True)
    record_id = fields.String(required=True)
    changes = fields.List(Base64Bytes(), load_default=None, allow_none=True)
    document = Base64Bytes(load_default=None, allow_none=True)
    event = fields.Dict(load_default=None, allow_none=True)


class EvictionSchema(_Strict):
    entity = fields.String(required=True)
    record_id = fields.String(required=True)


class PullResponseSchema(_Strict):
    records = fields.List(fields.Nested(PulledRecordSchema), required=True)
    evictions = fields.List(fields.Nested(EvictionSchema), required=True)
    rejections = fields.List(fields.Nested(RejectionSchema), required=True)
    cursor = fields.String(required=True)
    more = fields.Boolean(required=True)
    checksum = fields.String(allow_none=True, load_default=None)
    server_ms = fields.Integer(required=True)


def check_version(theirs: str) -> None:
    """Refuse a peer whose major schema version differs from ours."""
    if theirs.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise IncompatibleVersion(
            f"This device speaks sync schema {theirs}; the server speaks {SCHEMA_VERSION}. Please update Fieldbook.",
        )


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    """Validate and load a message, turning field errors into ``InvalidMessage``."""
    if not isinstance(payload, dict):
        raise InvalidMessage("The message must be a JSON object.")
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise InvalidMessage("The sync message is invalid.", fields=exc.normalized_messages()) from exc


def dump(schema: Schema, message: dict[str, Any]) -> dict[str, Any]:
    return schema.dump(message)
