"""Warehouse entities: warehouses, stock moves (events), the stock levels and costs the server
computes, outbound requests for approved orders, and minimal purchase orders and purchase requests.

A stock move is an event (DESIGN §3.3.2): never edited; a wrong one is answered by a reversal
(``reverses_id``). ``quantity`` is positive for every kind except ``adjustment`` (a stocktake),
whose quantity is the signed difference counted − booked. A transfer leaves ``warehouse_id`` and
enters ``to_warehouse_id``. ``unit_cost`` is what one unit cost where it applies (in, return,
transfer: the average cost at the source as the kiosk knew it).

``stock_level`` (quantity, per warehouse × product) goes to every device; ``stock_cost`` (the
moving-average cost) only to roles with cost rights and to kiosks; ``outbound_request`` and
``purchase_order`` to the kiosks of their warehouse. The server alone writes those four.
"""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .fields import IsoDateTime
from .registry import Registry
from .sales import JsonList, Money

MOVE_KINDS = ("in", "out", "transfer", "borrow", "return", "adjustment")
REF_TYPES = ("order", "purchase", "borrower", "stocktake", "transfer", "other")

_id = validate.Length(min=1, max=64)


class WarehouseSchema(Schema):
    """A stock location (仓库), with its kiosk(s)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,20}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    updated_at = fields.String(dump_only=True)


class StockMoveSchema(Schema):
    """One stock move (an immutable event)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf(MOVE_KINDS))
    warehouse_id = fields.String(required=True, validate=_id)
    to_warehouse_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    product_id = fields.String(required=True, validate=_id)
    quantity = Money(required=True, places=3, signed=True)
    unit_cost = Money(allow_none=True, places=4)
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))
    ref_type = fields.String(allow_none=True, validate=validate.OneOf(REF_TYPES))
    ref_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    moved_at = IsoDateTime(required=True)
    reverses_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    operator_id = fields.String(allow_none=True, validate=validate.Length(max=64))  # who on a shared kiosk
    author_id = fields.String(dump_only=True)

    @validates_schema
    def _shape(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind, quantity = data.get("kind"), data.get("quantity")
        if quantity is not None and (quantity == 0 or (quantity < 0 and kind != "adjustment")):
            raise ValidationError("Must be more than 0 (an adjustment may be negative, never 0).", "quantity")
        if kind == "transfer" and not data.get("to_warehouse_id"):
            raise ValidationError("A transfer names the warehouse it goes to.", "to_warehouse_id")
        if kind == "transfer" and data.get("to_warehouse_id") == data.get("warehouse_id"):
            raise ValidationError("A transfer goes to another warehouse.", "to_warehouse_id")
        if kind != "transfer" and data.get("to_warehouse_id"):
            raise ValidationError("Only a transfer names a destination.", "to_warehouse_id")


class StockLevelSchema(Schema):
    """Quantity on hand per warehouse × product (server-computed; id ``server.stock.key_id``)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    warehouse_id = fields.String(required=True, validate=_id)
    product_id = fields.String(required=True, validate=_id)
    quantity = fields.Float(required=True)
    negative = fields.Boolean(load_default=False)
    as_of = IsoDateTime(required=True)


class StockCostSchema(Schema):
    """The moving-average unit cost per warehouse × product (server-computed; cost roles and kiosks)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    warehouse_id = fields.String(required=True, validate=_id)
    product_id = fields.String(required=True, validate=_id)
    average_cost = fields.Float(allow_none=True)


class ShipLineSchema(Schema):
    class Meta:
        unknown = RAISE

    product_id = fields.String(required=True, validate=_id)
    quantity = Money(required=True, places=3)
    done = Money(load_default=0.0, places=3)  # shipped or received so far
    unit_cost = Money(load_default=None, allow_none=True, places=4)


class OutboundRequestSchema(Schema):
    """An approved order's request to ship (出库申请), for its warehouse's kiosks (server-owned)."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    order_id = fields.String(required=True, validate=_id)
    order_number = fields.String(allow_none=True)
    customer_name = fields.String(allow_none=True)
    warehouse_id = fields.String(required=True, validate=_id)
    lines = JsonList(ShipLineSchema, required=True)
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "partial", "done")))
    delivery_date = fields.String(allow_none=True)
    updated_at = fields.String(dump_only=True)


class PurchaseOrderSchema(Schema):
    """A minimal purchase order to receive against (到货验收), until purchasing has its own issue."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    number = fields.String(allow_none=True, validate=validate.Length(max=50))
    supplier = fields.String(required=True, validate=validate.Length(min=1, max=200))
    warehouse_id = fields.String(required=True, validate=_id)
    lines = JsonList(ShipLineSchema, required=True)
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "partial", "done")))
    expected_at = fields.String(allow_none=True, validate=validate.Length(max=40))
    updated_at = fields.String(dump_only=True)


class PurchaseRequestSchema(Schema):
    """A request to buy (采购申请), e.g. from an outbound that lacks stock."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    product_id = fields.String(required=True, validate=_id)
    quantity = Money(required=True, places=3, validate=validate.Range(min=0.001))
    warehouse_id = fields.String(required=True, validate=_id)
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))
    ref_type = fields.String(allow_none=True, validate=validate.OneOf(REF_TYPES))
    ref_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "ordered", "closed")))
    requested_by = fields.String(allow_none=True, validate=validate.Length(max=64))
    created_at = IsoDateTime(dump_only=True)
    updated_at = fields.String(dump_only=True)


def register(registry: Registry) -> None:
    registry.register("warehouse", "warehouses", "document", WarehouseSchema, indexes=(("code",),))
    registry.register("stock_move", "stock_moves", "event", StockMoveSchema,
                      indexes=(("warehouse_id", "product_id"), ("to_warehouse_id",), ("ref_type", "ref_id"), ("moved_at",)))
    registry.register("stock_level", "stock_levels", "document", StockLevelSchema, indexes=(("product_id",), ("warehouse_id",)))
    registry.register("stock_cost", "stock_costs", "document", StockCostSchema)
    registry.register("outbound_request", "outbound_requests", "document", OutboundRequestSchema,
                      indexes=(("warehouse_id", "status"), ("order_id",)))
    registry.register("purchase_order", "purchase_orders", "document", PurchaseOrderSchema,
                      indexes=(("warehouse_id", "status"),))
    registry.register("purchase_request", "purchase_requests", "document", PurchaseRequestSchema,
                      indexes=(("warehouse_id", "status"),))
