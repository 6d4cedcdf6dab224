"""Customer policy, owned by the server and replicated to every device: customer levels (default
reminder interval, idle days before recycling) and the policy settings (duplicate-check fields,
owner cap, default idle days). Devices receive these records but never push them: the server's
rules refuse any push of an entity they do not know (``server.rules.ENTITY_MODULE``).
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .registry import Registry

#: The customer fields the duplicate check may compare.
DUPLICATE_FIELDS = ("name", "phone", "mobile", "email", "wechat")
#: The id of the one policy-settings record.
POLICY_ID = "default"

_days = validate.Range(min=0, max=3650)


class CustomerLevelSchema(Schema):
    """One customer level (客户等级): its code is what ``customer.level`` holds."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reminder_days = fields.Integer(allow_none=True, validate=_days)
    idle_days = fields.Integer(allow_none=True, validate=_days)
    ordering = fields.Integer(load_default=0)
    updated_at = fields.String(dump_only=True)


class CustomerPolicySchema(Schema):
    """The policy settings (one record, id ``default``)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    duplicate_fields = fields.String(allow_none=True, validate=validate.Length(max=200))  # comma-separated
    owner_cap = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1_000_000))
    idle_days = fields.Integer(allow_none=True, validate=_days)  # for customers without a level
    updated_at = fields.String(dump_only=True)


def register(registry: Registry) -> None:
    """Add the policy entities (root documents every device holds)."""
    registry.register("customer_level", "customer_levels", "document", CustomerLevelSchema, indexes=(("ordering",),))
    registry.register("customer_policy", "customer_policies", "document", CustomerPolicySchema)
