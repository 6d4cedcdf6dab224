"""Customers, contacts and visits: the first CRM entities and their JSON contract."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .fields import IsoDate, IsoDateTime

CUSTOMER_KINDS = ("company", "person")
VISIT_METHODS = ("phone", "email", "im", "onsite", "other")

_short = validate.Length(max=200)
_long = validate.Length(max=20000)


class CustomerSchema(Schema):
    """A company or private person we sell to."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf(CUSTOMER_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    level = fields.String(allow_none=True, validate=_short)
    source = fields.String(allow_none=True, validate=_short)
    industry = fields.String(allow_none=True, validate=_short)
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    mobile = fields.String(allow_none=True, validate=validate.Length(max=50))
    email = fields.Email(allow_none=True)
    wechat = fields.String(allow_none=True, validate=validate.Length(max=100))
    qq = fields.String(allow_none=True, validate=validate.Length(max=30))
    province = fields.String(allow_none=True, validate=_short)
    city = fields.String(allow_none=True, validate=_short)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    remark = fields.String(allow_none=True, validate=_long)
    owner_id = fields.String(allow_none=True)
    is_hot = fields.Boolean()
    next_contact_at = IsoDateTime(allow_none=True)
    created_at = IsoDateTime(dump_only=True)
    updated_at = IsoDateTime(dump_only=True)
    conflicts = fields.List(fields.Dict(), dump_only=True)


class ContactSchema(Schema):
    """A person at a customer."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    customer_id = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    title = fields.String(allow_none=True, validate=_short)
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    mobile = fields.String(allow_none=True, validate=validate.Length(max=50))
    email = fields.Email(allow_none=True)
    wechat = fields.String(allow_none=True, validate=validate.Length(max=100))
    birthday = IsoDate(allow_none=True)
    remark = fields.String(allow_none=True, validate=_long)
    conflicts = fields.List(fields.Dict(), dump_only=True)


class VisitSchema(Schema):
    """One contact with a customer (an event: never edited, only voided)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    customer_id = fields.String(required=True)
    contact_id = fields.String(allow_none=True)
    method = fields.String(required=True, validate=validate.OneOf(VISIT_METHODS))
    content = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    visited_at = IsoDateTime(required=True)
    next_contact_at = IsoDateTime(allow_none=True)
    author_id = fields.String(dump_only=True)
    voided = fields.Boolean(dump_only=True, metadata={"derived": True})


class VisitVoidSchema(Schema):
    """The author's same-day void of a visit (an event of its own)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    visit_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    voided_at = IsoDateTime(required=True)
