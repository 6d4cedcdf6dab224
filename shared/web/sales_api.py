"""The sales REST API, identical on the server and the client (``SalesService`` does the work).

Products ``/api/products`` (and ``/api/products/lookup?code=`` for a scanner), categories
``/api/product_categories``, stages ``/api/opportunity_stages``, opportunities ``/api/opportunities``
and ``/api/funnel``, quotes ``/api/quotes`` (+ ``/convert``), orders ``/api/orders`` (+ ``/submit``,
``/approve``, ``/reject``, ``/receive``), receipts ``/api/receipts`` (+ ``/submit|approve|reject``),
``/api/receivables``, ``/api/sales_targets`` and ``/api/workbench``. Lists return
``{"items": [...], "total": N}``; errors use the JSON envelope.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, request
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from shared.schemas.sales import (
    Money, OpportunitySchema, ProductCategorySchema, ProductSchema, QuoteSchema, ReceiptSchema, SalesOrderSchema,
    RECEIPT_METHODS,
)
from shared.schemas.fields import IsoDate
from sync.store import ReplicaStore

from .api import MAX_PAGE, User, json_body, load
from .errors import NotFound
from .sales_service import SalesHooks, SalesService, shape
from .search import no_control_characters

ORDER_STATUSES = ("draft", "submitted", "approved", "rejected")


class SalesListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default=None, validate=[validate.Length(max=100), no_control_characters])
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    customer_id = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATUSES + ("sent", "converted", "lost")))
    stage = fields.String(load_default=None, validate=validate.Length(max=40))
    category_id = fields.String(load_default=None, validate=validate.Length(max=64))
    owner_id = fields.String(load_default=None, validate=validate.Length(max=64))


class ReceivableArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    customer_id = fields.String(load_default=None, validate=validate.Length(max=64))
    open = fields.Boolean(load_default=False)


class TargetArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    month = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    user_id = fields.String(load_default=None, validate=validate.Length(max=64))


class TargetBody(Schema):
    class Meta:
        unknown = RAISE

    user_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    amount = Money(required=True)


class DecisionBody(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ReceiveBody(Schema):
    class Meta:
        unknown = RAISE

    amount = Money(load_default=None, allow_none=True, validate=validate.Range(min=0.01))
    method = fields.String(load_default=None, validate=validate.OneOf(RECEIPT_METHODS))
    payer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    received_at = IsoDate(load_default=None)
    remark = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20000))
    submit = fields.Boolean(load_default=False)


def _body_or_empty() -> dict[str, Any]:
    """A JSON object body, or ``{}`` when the request has none (actions without parameters)."""
    if not request.get_data(cache=True):
        return {}
    return json_body()


def create_sales_blueprint(get_store: Callable[[], ReplicaStore], current_user: Callable[[], User],
                           hooks: Callable[[], SalesHooks] | None = None) -> Blueprint:
    """The sales API over ``get_store()`` for ``current_user()`` (raises ``Unauthorized`` without a token)."""
    bp = Blueprint("sales_api", __name__, url_prefix="/api")

    def service() -> SalesService:
        user = current_user()
        return SalesService(get_store(), user, hooks() if hooks else SalesHooks())

    def args() -> dict[str, Any]:
        return load(SalesListArgs(), request.args.to_dict())

    # products
    @bp.get("/products")
    def products_list() -> Any:
        a = args()
        return service().list_products(a["q"], a["category_id"], a["page"], a["per_page"])

    @bp.get("/products/lookup")
    def products_lookup() -> Any:
        svc = service()
        code = (request.args.get("code") or "").strip()
        if not code or len(code) > 64:
            raise NotFound("No product has this code or barcode.")
        return svc.product_by_code(code)

    @bp.post("/products")
    def products_create() -> Any:
        svc = service()
        return svc.create_product(load(ProductSchema(), json_body())), 201

    @bp.get("/products/<record_id>")
    def products_get(record_id: str) -> Any:
        return service().product(record_id)

    @bp.patch("/products/<record_id>")
    def products_patch(record_id: str) -> Any:
        svc = service()
        return svc.update_product(record_id, load(ProductSchema(), json_body(), partial=True))

    @bp.delete("/products/<record_id>")
    def products_delete(record_id: str) -> Any:
        service().delete_product(record_id)
        return "", 204

    # categories and stages
    @bp.get("/product_categories")
    def categories_list() -> Any:
        items = service().categories()
        return {"items": items, "total": len(items)}

    @bp.post("/product_categories")
    def categories_create() -> Any:
        svc = service()
        return svc.save_category(load(ProductCategorySchema(), json_body())), 201

    @bp.patch("/product_categories/<record_id>")
    def categories_patch(record_id: str) -> Any:
        svc = service()
        return svc.save_category(load(ProductCategorySchema(), json_body(), partial=True), record_id)

    @bp.delete("/product_categories/<record_id>")
    def categories_delete(record_id: str) -> Any:
        service().delete_category(record_id)
        return "", 204

    @bp.get("/opportunity_stages")
    def stages_list() -> Any:
        items = service().stages()
        return {"items": items, "total": len(items)}

    # opportunities
    @bp.get("/opportunities")
    def opportunities_list() -> Any:
        a = args()
        return service().list_opportunities(a["customer_id"], a["stage"], a["q"], a["page"], a["per_page"])

    @bp.post("/opportunities")
    def opportunities_create() -> Any:
        svc = service()
        return svc.create_opportunity(load(OpportunitySchema(), json_body())), 201

    @bp.get("/opportunities/<record_id>")
    def opportunities_get(record_id: str) -> Any:
        return service().opportunity(record_id)

    @bp.patch("/opportunities/<record_id>")
    def opportunities_patch(record_id: str) -> Any:
        svc = service()
        return svc.update_opportunity(record_id, load(OpportunitySchema(), json_body(), partial=True))

    @bp.delete("/opportunities/<record_id>")
    def opportunities_delete(record_id: str) -> Any:
        service().delete_opportunity(record_id)
        return "", 204

    @bp.get("/funnel")
    def funnel() -> Any:
        items = service().funnel()
        return {"items": items, "total": len(items)}

    # quotes
    @bp.get("/quotes")
    def quotes_list() -> Any:
        a = args()
        return service().list_documents("quote", a["customer_id"], a["status"], a["q"], a["owner_id"], a["page"], a["per_page"])

    @bp.post("/quotes")
    def quotes_create() -> Any:
        svc = service()
        return svc.create_quote(load(QuoteSchema(), json_body())), 201

    @bp.get("/quotes/<record_id>")
    def quotes_get(record_id: str) -> Any:
        return service().quote(record_id)

    @bp.patch("/quotes/<record_id>")
    def quotes_patch(record_id: str) -> Any:
        svc = service()
        return svc.update_quote(record_id, load(QuoteSchema(), json_body(), partial=True))

    @bp.delete("/quotes/<record_id>")
    def quotes_delete(record_id: str) -> Any:
        service().delete_quote(record_id)
        return "", 204

    @bp.post("/quotes/<record_id>/convert")
    def quotes_convert(record_id: str) -> Any:
        return service().convert_quote(record_id), 201

    # orders and receipts
    for plural, entity, schema in (("orders", "sales_order", SalesOrderSchema), ("receipts", "receipt", ReceiptSchema)):
        _document_routes(bp, service, args, plural, entity, schema)

    @bp.post("/orders/<record_id>/receive")
    def orders_receive(record_id: str) -> Any:
        svc = service()
        return svc.receive(record_id, load(ReceiveBody(), _body_or_empty())), 201

    @bp.get("/receivables")
    def receivables_list() -> Any:
        svc = service()
        a = load(ReceivableArgs(), request.args.to_dict())
        return svc.receivables(a["customer_id"], a["open"])

    # targets and the workbench
    @bp.get("/sales_targets")
    def targets_list() -> Any:
        svc = service()
        a = load(TargetArgs(), request.args.to_dict())
        items = svc.targets(a["month"], a["user_id"])
        return {"items": items, "total": len(items)}

    @bp.post("/sales_targets")
    def targets_set() -> Any:
        svc = service()
        body = load(TargetBody(), json_body())
        return svc.set_target(body["user_id"], body["month"], body["amount"])

    @bp.get("/workbench")
    def workbench() -> Any:
        return service().workbench()

    return bp


def _document_routes(bp: Blueprint, service: Callable[[], SalesService], args: Callable[[], dict[str, Any]],
                     plural: str, entity: str, schema: type[Schema]) -> None:
    """List, create, read, change, delete and the workflow actions of orders or receipts."""

    def listing() -> Any:
        a = args()
        return service().list_documents(entity, a["customer_id"], a["status"], a["q"], a["owner_id"], a["page"], a["per_page"])

    def create() -> Any:
        svc = service()
        values = load(schema(), json_body())
        return (svc.create_order(values) if entity == "sales_order" else svc.create_receipt(values)), 201

    def read(record_id: str) -> Any:
        return service().document(entity, record_id)

    def change(record_id: str) -> Any:
        svc = service()
        values = load(schema(), json_body(), partial=True)
        return svc.update_order(record_id, values) if entity == "sales_order" else svc.update_receipt(record_id, values)

    def remove(record_id: str) -> Any:
        service().delete_document(entity, record_id)
        return "", 204

    def submit(record_id: str) -> Any:
        svc = service()
        load(DecisionBody(), _body_or_empty())
        return svc.submit(entity, record_id)

    def approve(record_id: str) -> Any:
        svc = service()
        body = load(DecisionBody(), _body_or_empty())
        return svc.decide(entity, record_id, "approve", body["version"], body["reason"])

    def reject(record_id: str) -> Any:
        svc = service()
        body = load(DecisionBody(), _body_or_empty())
        return svc.decide(entity, record_id, "reject", body["version"], body["reason"])

    bp.add_url_rule(f"/{plural}", f"{plural}_list", listing, methods=["GET"])
    bp.add_url_rule(f"/{plural}", f"{plural}_create", create, methods=["POST"])
    bp.add_url_rule(f"/{plural}/<record_id>", f"{plural}_get", read, methods=["GET"])
    bp.add_url_rule(f"/{plural}/<record_id>", f"{plural}_patch", change, methods=["PATCH"])
    bp.add_url_rule(f"/{plural}/<record_id>", f"{plural}_delete", remove, methods=["DELETE"])
    for action, view in (("submit", submit), ("approve", approve), ("reject", reject)):
        bp.add_url_rule(f"/{plural}/<record_id>/{action}", f"{plural}_{action}", view, methods=["POST"])


__all__ = ["create_sales_blueprint", "shape"]


def openapi_paths() -> dict[str, Any]:
    """OpenAPI path items of the sales API (merged into each app's ``/api/openapi.json``)."""
    from apispec.ext.marshmallow import OpenAPIConverter

    converter = OpenAPIConverter(openapi_version="3.0.3", schema_name_resolver=lambda s: None, spec=None)  # type: ignore[arg-type]

    def body(schema: Any, partial: bool = False) -> dict[str, Any]:
        js = converter.schema2jsonschema(schema)
        if partial:
            js.pop("required", None)
        return {"required": True, "content": {"application/json": {"schema": js}}}

    def params(schema: Any, where: str = "query") -> list[dict[str, Any]]:
        return converter.schema2parameters(schema, location=where)

    error = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {str(s): {**error, "description": d} for s, d in (
        (400, "Malformed request"), (401, "Not logged in"), (403, "No right"), (404, "Not found"),
        (409, "Conflict with the document's state"), (422, "Invalid fields"))}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}, **errors}
    made = {"201": {"description": "Created", "content": {"application/json": {"schema": {"type": "object"}}}}, **errors}
    gone = {"204": {"description": "Deleted"}, **errors}
    sec: list[dict[str, list[str]]] = [{"bearer": []}]
    rid = [{"in": "path", "name": "record_id", "required": True, "schema": {"type": "string"}}]
    listing = params(SalesListArgs)

    def op(responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"security": sec, "tags": ["sales"], "responses": responses, **extra}

    paths: dict[str, Any] = {}
    crud = (("products", ProductSchema), ("opportunities", OpportunitySchema), ("quotes", QuoteSchema),
            ("orders", SalesOrderSchema), ("receipts", ReceiptSchema))
    for plural, schema in crud:
        paths[f"/api/{plural}"] = {"get": op(ok, parameters=listing), "post": op(made, requestBody=body(schema))}
        paths[f"/api/{plural}/{{record_id}}"] = {
            "parameters": rid, "get": op(ok), "patch": op(ok, requestBody=body(schema, partial=True)), "delete": op(gone)}
    paths["/api/product_categories"] = {"get": op(ok), "post": op(made, requestBody=body(ProductCategorySchema))}
    paths["/api/product_categories/{record_id}"] = {
        "parameters": rid, "patch": op(ok, requestBody=body(ProductCategorySchema, partial=True)), "delete": op(gone)}
    paths["/api/products/lookup"] = {"get": op(ok, parameters=[{"in": "query", "name": "code", "required": True,
                                                                 "schema": {"type": "string", "maxLength": 64}}])}
    for path in ("/api/opportunity_stages", "/api/funnel", "/api/workbench"):
        paths[path] = {"get": op(ok)}
    paths["/api/quotes/{record_id}/convert"] = {"parameters": rid, "post": op(made)}
    for plural in ("orders", "receipts"):
        for action in ("submit", "approve", "reject"):
            paths[f"/api/{plural}/{{record_id}}/{action}"] = {
                "parameters": rid, "post": op(ok, requestBody={**body(DecisionBody), "required": False})}
    paths["/api/orders/{record_id}/receive"] = {"parameters": rid, "post": op(made, requestBody={**body(ReceiveBody), "required": False})}
    for item in paths.values():  # apispec takes path parameters per operation
        shared = item.pop("parameters", None)
        if shared:
            for operation in item.values():
                operation["parameters"] = [*shared, *operation.get("parameters", [])]
    paths["/api/receivables"] = {"get": op(ok, parameters=params(ReceivableArgs))}
    paths["/api/sales_targets"] = {"get": op(ok, parameters=params(TargetArgs)), "post": op(ok, requestBody=body(TargetBody))}
    return paths
