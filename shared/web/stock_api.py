"""The warehouse REST API, identical on the server and on a kiosk (``StockService`` does the work).

``GET /api/warehouses`` (``POST`` on the server), ``GET /api/stock?warehouse_id=&product_id=&q=``,
``GET /api/stock-ledger?warehouse_id=&product_id=``, ``GET/POST /api/stock_moves``,
``GET /api/stock_moves/<id>``, ``POST /api/stock_moves/<id>/reverse``,
``GET /api/outbound_requests[?status=pending]``, ``GET /api/outbound_requests/<id>``,
``POST /api/outbound_requests/<id>/ship`` (``{"lines": [...]}`` or nothing for all that is left),
``POST /api/outbound_requests/<id>/purchase`` (shortage → purchase requests),
``GET/POST /api/purchase_requests``, ``GET /api/purchase_orders`` (``POST`` on the server),
``POST /api/purchase_orders/<id>/receive``. A stock move is never edited: PATCH/PUT/DELETE are 405.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, request
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from shared.schemas.sales import Money
from shared.schemas.stock import MOVE_KINDS, PurchaseRequestSchema, StockMoveSchema, WarehouseSchema
from sync.store import ReplicaStore

from .api import MAX_PAGE, User, json_body, load
from .errors import MethodNotAllowed
from .stock_service import StockHooks, StockService


class StockArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    warehouse_id = fields.String(load_default=None, validate=validate.Length(max=64))
    product_id = fields.String(load_default=None, validate=validate.Length(max=64))
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    kind = fields.String(load_default=None, validate=validate.OneOf(MOVE_KINDS))
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "partial", "done", "pending", "ordered", "closed")))
    day = fields.Date(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class QuantityLine(Schema):
    class Meta:
        unknown = RAISE

    product_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Money(required=True, places=3, validate=validate.Range(min=0.001))
    unit_cost = Money(load_default=None, allow_none=True, places=4)


class LinesBody(Schema):
    class Meta:
        unknown = RAISE

    lines = fields.List(fields.Nested(QuantityLine), load_default=None, validate=validate.Length(min=1, max=200))


class ReverseBody(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class PurchaseOrderBody(Schema):
    class Meta:
        unknown = RAISE

    number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    supplier = fields.String(required=True, validate=validate.Length(min=1, max=200))
    warehouse_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    expected_at = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    lines = fields.List(fields.Nested(QuantityLine), required=True, validate=validate.Length(min=1, max=200))


def _optional_body() -> dict[str, Any]:
    return json_body() if request.get_data(cache=True) else {}


def create_stock_blueprint(get_store: Callable[[], ReplicaStore], current_user: Callable[[], User],
                           hooks: Callable[[], StockHooks] | None = None) -> Blueprint:
    bp = Blueprint("stock_api", __name__, url_prefix="/api")

    def service() -> StockService:
        user = current_user()
        return StockService(get_store(), user, hooks() if hooks else StockHooks())

    def args() -> dict[str, Any]:
        return load(StockArgs(), request.args.to_dict())

    @bp.get("/warehouses")
    def warehouses_list() -> Any:
        items = service().warehouses()
        return {"items": items, "total": len(items)}

    @bp.post("/warehouses")
    def warehouses_create() -> Any:
        svc = service()
        return svc.save_warehouse(load(WarehouseSchema(), json_body())), 201

    @bp.get("/stock")
    def stock_levels() -> Any:
        a = args()
        return service().levels(a["warehouse_id"], a["product_id"], a["q"], a["page"], a["per_page"])

    @bp.get("/stock-ledger")
    def stock_ledger() -> Any:
        a = args()
        return service().ledger(a["warehouse_id"], a["product_id"])

    @bp.get("/stock_moves")
    def moves_list() -> Any:
        a = args()
        day = a["day"].isoformat() if a["day"] else None
        return service().moves(a["warehouse_id"], a["product_id"], a["kind"], day, a["page"], a["per_page"])

    @bp.post("/stock_moves")
    def moves_create() -> Any:
        svc = service()
        return svc.record_move(load(StockMoveSchema(), json_body())), 201

    @bp.get("/stock_moves/<record_id>")
    def moves_get(record_id: str) -> Any:
        service().require("stock", "view")
        return service().move(record_id)

    @bp.route("/stock_moves/<record_id>", methods=["PATCH", "PUT", "DELETE"])
    def moves_immutable(record_id: str) -> Any:
        raise MethodNotAllowed("A stock move is never edited; reverse it (POST /api/stock_moves/<id>/reverse).")

    @bp.post("/stock_moves/<record_id>/reverse")
    def moves_reverse(record_id: str) -> Any:
        svc = service()
        return svc.reverse(record_id, load(ReverseBody(), _optional_body())["reason"]), 201

    @bp.get("/outbound_requests")
    def outbound_list() -> Any:
        a = args()
        return service().outbound_requests(a["warehouse_id"], a["status"], a["page"], a["per_page"])

    @bp.get("/outbound_requests/<record_id>")
    def outbound_get(record_id: str) -> Any:
        svc = service()
        return {**svc.outbound_request(record_id), "shortages": svc.shortages(record_id)}

    @bp.post("/outbound_requests/<record_id>/ship")
    def outbound_ship(record_id: str) -> Any:
        svc = service()
        body = load(LinesBody(), _optional_body())
        return svc.ship(record_id, body["lines"])

    @bp.post("/outbound_requests/<record_id>/purchase")
    def outbound_purchase(record_id: str) -> Any:
        made = service().shortage_to_purchase(record_id)
        return {"items": made, "total": len(made)}, 201

    @bp.get("/purchase_requests")
    def purchase_requests_list() -> Any:
        a = args()
        return service().purchase_requests(a["warehouse_id"], a["status"], a["page"], a["per_page"])

    @bp.post("/purchase_requests")
    def purchase_requests_create() -> Any:
        svc = service()
        return svc.request_purchase(load(PurchaseRequestSchema(), json_body())), 201

    @bp.get("/purchase_orders")
    def purchase_orders_list() -> Any:
        a = args()
        return service().purchase_orders(a["warehouse_id"], a["status"], a["page"], a["per_page"])

    @bp.post("/purchase_orders")
    def purchase_orders_create() -> Any:
        svc = service()
        return svc.create_purchase_order(load(PurchaseOrderBody(), json_body())), 201

    @bp.get("/purchase_orders/<record_id>")
    def purchase_orders_get(record_id: str) -> Any:
        return service().purchase_order(record_id)

    @bp.post("/purchase_orders/<record_id>/receive")
    def purchase_orders_receive(record_id: str) -> Any:
        svc = service()
        body = load(LinesBody(), _optional_body())
        return svc.receive(record_id, body["lines"])

    return bp
