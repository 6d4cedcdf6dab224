"""Sales entities: products and categories, opportunities and their stages, quotes, sales orders,
receipts, approvals, sales targets, and each user's rights as their devices see them.

Lines of a quote or order and allocations of a receipt are lists inside one record: the document
field holds them as JSON text (``JsonList``), the API shows them as lists. Money is a JSON number
with at most two decimals; ``shared.sales.money`` does every sum in integer fen, never in floats.

Kinds (DESIGN §3.3): products, categories, stages, opportunities, quotes, orders, receipts and
targets are documents; an approval is an event (who approved or rejected which version, when).
``product_cost`` (purchase cost) and ``user_rights`` are server-owned records no device pushes,
and reps never receive a cost (``server.rules`` scopes them).
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .fields import IsoDate, IsoDateTime
from .registry import Registry

ORDER_STATUSES = ("draft", "submitted", "approved", "rejected")
QUOTE_STATUSES = ("draft", "sent", "converted", "lost")
APPROVAL_ACTIONS = ("approve", "reject")
APPROVAL_TARGETS = ("sales_order", "receipt")
RECEIPT_METHODS = ("cash", "bank_transfer", "wechat_pay", "alipay", "cheque", "other")
MAX_LINES = 200
MAX_MONEY = Decimal("1000000000000")  # 10^12 yuan: far beyond any order, inside exact float range

_short = validate.Length(max=200)
_long = validate.Length(max=20000)


class Money(fields.Float):
    """A non-negative amount of money with at most two decimals."""

    def __init__(self, *args: Any, places: int = 2, signed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.places = places
        self.signed = signed

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationError("Not a valid number.")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValidationError("Not a valid number.") from exc
        if not amount.is_finite():
            raise ValidationError("Not a valid number.")
        if abs(amount) >= MAX_MONEY:
            raise ValidationError("Out of range.")
        if amount < 0 and not self.signed:
            raise ValidationError("Must not be negative.")
        if amount != amount.quantize(Decimal(1).scaleb(-self.places)):
            raise ValidationError(f"At most {self.places} decimal places.")
        return float(amount)


class JsonList(fields.Field):
    """A list of objects kept in one document field as JSON text; loads from a list or that text."""

    def __init__(self, item: type[Schema], max_items: int = MAX_LINES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.max_items = max_items

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValidationError("Not valid JSON.") from exc
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} items.")
        return self.item(many=True).load(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


# ---- products -----------------------------------------------------------------------------------
class ProductCategorySchema(Schema):
    """A product category (商品类别); categories form a tree through ``parent_id``."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    parent_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    ordering = fields.Integer(load_default=0, validate=validate.Range(min=-1_000_000, max=1_000_000))
    updated_at = fields.String(dump_only=True)


class ProductSchema(Schema):
    """A product (商品资料) every device holds; its purchase cost lives in ``product_cost``."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=50))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    spec = fields.String(allow_none=True, validate=_short)
    unit = fields.String(allow_none=True, validate=validate.Length(max=20))
    price = Money(required=True)
    barcode = fields.String(allow_none=True, validate=validate.Length(max=64))
    category_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    updated_at = fields.String(dump_only=True)


class ProductCostSchema(Schema):
    """A product's purchase cost: server-owned, never sent to a role without cost rights."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    product_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    cost = Money(required=True, places=4)
    updated_at = fields.String(dump_only=True)


# ---- opportunities --------------------------------------------------------------------------------
class OpportunityStageSchema(Schema):
    """One stage of the sales funnel (configurable on the server)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]{1,40}$"))
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=100))
    probability = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100))
    ordering = fields.Integer(load_default=0, validate=validate.Range(min=-1_000_000, max=1_000_000))
    closed = fields.Boolean(load_default=False)  # won or lost: left out of the open funnel
    updated_at = fields.String(dump_only=True)


class OpportunitySchema(Schema):
    """A customer need (销售机会) moving through the stages."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    customer_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    stage = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = Money(allow_none=True)
    expected_date = IsoDate(allow_none=True)
    probability = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=100))
    owner_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    remark = fields.String(allow_none=True, validate=_long)
    created_at = IsoDateTime(dump_only=True)
    updated_at = fields.String(dump_only=True)
    conflicts = fields.List(fields.Dict(), dump_only=True)


# ---- quotes and orders ---------------------------------------------------------------------------
class LineSchema(Schema):
    """One product line: ``amount`` = quantity × unit price × (1 − discount%) × (1 + tax%)."""

    class Meta:
        unknown = RAISE

    product_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Money(required=True, places=3)
    unit_price = Money(required=True)
    discount = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=100))  # percent off
    tax_rate = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=100))  # percent
    amount = Money(load_default=None, allow_none=True)  # computed; a given amount must match


class AllocationSchema(Schema):
    """The part of a receipt paying one order."""

    class Meta:
        unknown = RAISE

    order_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    amount = Money(required=True)


class QuoteSchema(Schema):
    """Priced product lines for a customer (and optionally an opportunity)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    number = fields.String(dump_only=True)
    number_is_final = fields.Boolean(dump_only=True)
    customer_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    opportunity_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    status = fields.String(load_default="draft", validate=validate.OneOf(QUOTE_STATUSES))
    lines = JsonList(LineSchema, required=True)
    total = Money(dump_only=True)
    valid_until = IsoDate(allow_none=True)
    order_id = fields.String(dump_only=True)  # set when converted
    owner_id = fields.String(dump_only=True)
    remark = fields.String(allow_none=True, validate=_long)
    created_at = IsoDateTime(dump_only=True)
    updated_at = fields.String(dump_only=True)
    conflicts = fields.List(fields.Dict(), dump_only=True)


class _WorkflowDocumentSchema(Schema):
    """What every document with an approval workflow carries (DESIGN §3.5): the number the server
    assigns, the customer, the status and who decided when; the device writes only the content."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    number = fields.String(dump_only=True)
    number_is_final = fields.Boolean(dump_only=True)
    customer_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    status = fields.String(dump_only=True)
    owner_id = fields.String(dump_only=True)
    remark = fields.String(allow_none=True, validate=_long)
    submitted_at = IsoDateTime(dump_only=True)
    approved_by = fields.String(dump_only=True)
    approved_at = IsoDateTime(dump_only=True)
    reject_reason = fields.String(dump_only=True)
    created_at = IsoDateTime(dump_only=True)
    updated_at = fields.String(dump_only=True)
    conflicts = fields.List(fields.Dict(), dump_only=True)


class SalesOrderSchema(_WorkflowDocumentSchema):
    """A sales order (销售订单): draft → submitted → approved / rejected (→ submitted again)."""

    quote_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    lines = JsonList(LineSchema, required=True)
    total = Money(dump_only=True)
    delivery_date = IsoDate(allow_none=True)
    due_date = IsoDate(allow_none=True)  # payment due; the receivable ages from it
    outbound_requested = fields.Boolean(load_default=False)  # ask the warehouse to ship once approved
    warehouse_id = fields.String(allow_none=True, validate=validate.Length(max=64))  # ships from (default: the first)


class ReceiptSchema(_WorkflowDocumentSchema):
    """Money received from a customer (收款单), allocated to approved orders; approved by finance."""

    payer = fields.String(allow_none=True, validate=_short)
    method = fields.String(required=True, validate=validate.OneOf(RECEIPT_METHODS))
    amount = Money(required=True, validate=validate.Range(min=0.01))
    received_at = IsoDate(required=True)
    allocations = JsonList(AllocationSchema, load_default=list)


class ApprovalSchema(Schema):
    """An approver's decision on a submitted order or receipt, carrying the version they saw."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    target = fields.String(required=True, validate=validate.OneOf(APPROVAL_TARGETS))
    record_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    customer_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    action = fields.String(required=True, validate=validate.OneOf(APPROVAL_ACTIONS))
    version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(allow_none=True, validate=validate.Length(max=1000))
    acted_at = IsoDateTime(required=True)
    author_id = fields.String(dump_only=True)


class SalesTargetSchema(Schema):
    """A rep's sales target for one month (销售任务), set by a manager."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    amount = Money(required=True)
    updated_at = fields.String(dump_only=True)


class UserRightsSchema(Schema):
    """A user's rights as their own devices see them (to offer approve offline); server-owned."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    rights = fields.String(required=True, validate=validate.Length(max=5000))  # "module.action" comma-separated


def register(registry: Registry) -> None:
    """Declare the sales entities (customer-bound ones follow their customer's scope)."""
    registry.register("product_category", "product_categories", "document", ProductCategorySchema,
                      indexes=(("parent_id", "ordering"),))
    registry.register("product", "products", "document", ProductSchema, search_fields=("code", "name", "barcode"),
                      indexes=(("code",), ("barcode",), ("category_id",)))
    registry.register("product_cost", "product_costs", "document", ProductCostSchema)
    registry.register("opportunity_stage", "opportunity_stages", "document", OpportunityStageSchema,
                      indexes=(("ordering",),))
    registry.register("opportunity", "opportunities", "document", OpportunitySchema, text_fields=("remark",),
                      parent=("customer", "customer_id"), search_fields=("name",),
                      indexes=(("customer_id",), ("stage",), ("owner_id",)))
    registry.register("quote", "quotes", "document", QuoteSchema, parent=("customer", "customer_id"),
                      search_fields=("number",), indexes=(("customer_id",), ("updated_at",)))
    registry.register("sales_order", "sales_orders", "document", SalesOrderSchema, parent=("customer", "customer_id"),
                      search_fields=("number",), indexes=(("customer_id",), ("status", "updated_at"), ("owner_id",)))
    registry.register("receipt", "receipts", "document", ReceiptSchema, parent=("customer", "customer_id"),
                      search_fields=("number",), indexes=(("customer_id",), ("status", "updated_at")))
    registry.register("approval", "approvals", "event", ApprovalSchema, parent=("customer", "customer_id"),
                      indexes=(("record_id",),))
    registry.register("sales_target", "sales_targets", "document", SalesTargetSchema, indexes=(("user_id", "month"),))
    registry.register("user_rights", "user_rights", "document", UserRightsSchema)
