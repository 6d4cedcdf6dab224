"""The REST API for customers, contacts and visits, identical on the server and the client.

Views are thin: a marshmallow schema loads the request (422 with field messages), domain writes
go through the replica store (each in one transaction with its outbox/log entry), and lists
return ``{"items": [...], "total": N}``. Who may see what is injected (``scope_sql``/``can_see``),
as is the current user.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from flask import Blueprint, request
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from shared import policy
from shared.schemas import REGISTRY, ContactSchema, CustomerSchema, VisitSchema
from sync.store import RecordNotFound, ReplicaStore

from .errors import ApiError, Conflict, Forbidden, Invalid, MethodNotAllowed, NotFound, Unavailable
from .search import clean, customer_match, no_control_characters

CUSTOMER_FIELDS = ("id", "kind", "name", "level", "source", "industry", "phone", "mobile", "email", "wechat", "qq",
                   "province", "city", "address", "remark", "owner_id", "is_hot", "next_contact_at", "created_at",
                   "updated_at", "conflicts")
CONTACT_FIELDS = ("id", "customer_id", "name", "title", "phone", "mobile", "email", "wechat", "birthday", "remark", "conflicts")
VISIT_FIELDS = ("id", "customer_id", "contact_id", "method", "content", "visited_at", "next_contact_at", "voided")

MAX_PAGE = 1_000_000  # beyond it (page - 1) * per_page leaves SQLite's integers
User = Mapping[str, Any]
ScopeSql = Callable[[User, str], tuple[str, list[Any]]]
Permits = Callable[[User, str, str], bool]
#: ``(user, customer_id, old_owner, new_owner, is_new) -> refusal reason or None``; runs inside the write.
OwnerRule = Callable[[User, str, Any, Any, bool], "str | None"]
FindUsers = Callable[[Any, int, int], dict[str, Any]]


class ListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default=None, validate=[validate.Length(max=100), no_control_characters])
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    customer_id = fields.String(load_default=None)
    owner_id = fields.String(load_default=None)
    due = fields.Boolean(load_default=None)
    pool = fields.Boolean(load_default=None)


class OwnerArgs(Schema):
    class Meta:
        unknown = RAISE

    owner_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class AssignArgs(Schema):
    class Meta:
        unknown = RAISE

    ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True, validate=validate.Length(min=1, max=500))
    owner_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class UserArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    username = fields.String(load_default=None, validate=[validate.Length(max=100), no_control_characters])
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 envelope for anything else."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("The request body must be a JSON object.", code="malformed_json")
    return data


def load(schema: Schema, data: Any, partial: bool = False) -> dict[str, Any]:
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        raise Invalid("Some fields are invalid.", fields=exc.normalized_messages()) from exc


def _all_visible(user: User, entity: str) -> tuple[str, list[Any]]:
    return "1", []


def _all_permitted(user: User, module: str, action: str) -> bool:
    return True


def _any_owner(user: User, customer_id: str, old: Any, new: Any, is_new: bool) -> str | None:
    return None  # the client: the server arbitrates owner changes when they sync


def owner_error(reason: str) -> ApiError:
    """The API error for an owner change the rules refused."""
    if reason == "already_claimed":
        return Conflict("Someone else already owns this customer.", code="already_claimed")
    if reason == "owner_cap_reached":
        return Conflict("The new owner already holds as many customers as the policy allows.", code=reason)
    if reason == "unknown_owner":
        return Invalid("No such active user.", fields={"owner_id": ["No such active user."]})
    return Forbidden("You may not move this customer to that owner.", code=reason)


def shape(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out = {n: row.get(n) for n in names}
    if "conflicts" in out:
        out["conflicts"] = [
            {k: c[k] for k in ("id", "field", "value", "author_id", "edited_at")} for c in (row.get("conflicts") or [])
        ]
    if "is_hot" in out:
        out["is_hot"] = bool(out["is_hot"])
    if "voided" in out:
        out["voided"] = bool(out["voided"])
    return out


class CrmService:
    """Customers, contacts and visits over one replica store, with scope applied. No HTTP here."""

    def __init__(self, store: ReplicaStore, user: User, scope_sql: ScopeSql = _all_visible,
                 permits: Permits = _all_permitted, owner_rule: OwnerRule = _any_owner) -> None:
        self.store = store
        self.user = user
        self.scope_sql = scope_sql
        self.permits = permits
        self.owner_rule = owner_rule

    def require(self, module: str, action: str) -> None:
        """``Forbidden`` unless the user holds ``module.action`` (the server checks; the client defers to sync)."""
        if not self.permits(self.user, module, action):
            raise Forbidden(f"You lack the permission {module}.{action}.", code="no_permission")

    # ---- scope ------------------------------------------------------------------------------
    def _customer_scope(self) -> tuple[str, list[Any]]:
        return self.scope_sql(self.user, "customer")

    def customer(self, customer_id: str) -> dict[str, Any]:
        where, params = self._customer_scope()
        rows = list(self.store.db.query(
            f"SELECT * FROM customers WHERE id = ? AND coalesce(deleted, 0) = 0 AND ({where})", [customer_id, *params]))
        if not rows:
            raise NotFound("No such customer.")
        return self.store.get("customer", customer_id)

    def _child(self, entity: str, record_id: str) -> dict[str, Any]:
        try:
            row = self.store.get(entity, record_id)
        except RecordNotFound:
            raise NotFound(f"No such {entity}.") from None
        if row.get("deleted"):
            raise NotFound(f"No such {entity}.")
        self.customer(row["customer_id"])  # scope follows the customer
        return row

    # ---- customers --------------------------------------------------------------------------
    def list_customers(self, args: Mapping[str, Any]) -> dict[str, Any]:
        where, params = self._customer_scope()
        clauses, values = [f"coalesce(c.deleted, 0) = 0 AND ({where})"], list(params)
        q = clean(args.get("q"))
        if q:
            condition, found = customer_match(q)
            clauses.append(condition)
            values += found
        if args.get("pool"):
            clauses.append("c.owner_id IS NULL")
        if args.get("owner_id"):
            clauses.append("c.owner_id = ?")
            values.append(args["owner_id"])
        if args.get("due"):
            clauses.append("c.next_contact_at IS NOT NULL AND substr(c.next_contact_at, 1, 10) <= ?")
            values.append(now_iso()[:10])
        sql_where = " AND ".join(clauses)
        total = self.store.db.execute(f"SELECT count(*) FROM customers c WHERE {sql_where}", values).fetchone()[0]
        offset = (args["page"] - 1) * args["per_page"]
        rows = self.store.db.query(
            f"SELECT * FROM customers c WHERE {sql_where} ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?",
            [*values, args["per_page"], offset],
        )
        items = [shape(self.store.decode_row(REGISTRY["customer"], dict(r)), CUSTOMER_FIELDS) for r in rows]
        return {"items": items, "total": total}

    def create_customer(self, values: dict[str, Any]) -> dict[str, Any]:
        self.require("customers", "edit")
        values.setdefault("owner_id", self.user["id"])
        values.setdefault("is_hot", False)
        values["created_at"] = now_iso()
        with self.store.write():
            reason = self.owner_rule(self.user, "", None, values["owner_id"], True)  # also the owner cap
            if reason:
                raise owner_error(reason)
            customer_id = self.store.create("customer", values, self.user["id"])
        return self.store.get("customer", customer_id)

    def update_customer(self, customer_id: str, values: dict[str, Any]) -> dict[str, Any]:
        self.require("customers", "edit")
        with self.store.write():
            row = self.customer(customer_id)
            if "owner_id" in values and values["owner_id"] != row.get("owner_id"):
                reason = self.owner_rule(self.user, customer_id, row.get("owner_id"), values["owner_id"], False)
                if reason:
                    raise owner_error(reason)
            self.store.update("customer", customer_id, values, self.user["id"])
        return self.store.get("customer", customer_id)

    # ---- customer pool: release, claim, transfer, assign (owner changes that sync) -----------
    def set_owner(self, customer_id: str, owner_id: str | None) -> dict[str, Any]:
        """Move one customer to ``owner_id`` (None: the pool), if the rules allow it."""
        with self.store.write():
            row = self.customer(customer_id)
            if row.get("owner_id") != owner_id:
                reason = self.owner_rule(self.user, customer_id, row.get("owner_id"), owner_id, False)
                if reason:
                    raise owner_error(reason)
                self.store.update("customer", customer_id, {"owner_id": owner_id}, self.user["id"])
        return self.store.get("customer", customer_id)

    def release(self, customer_id: str) -> dict[str, Any]:
        """Put a customer back into the pool."""
        self.require("pool", "edit")
        return self.set_owner(customer_id, None)

    def claim(self, customer_id: str) -> dict[str, Any]:
        """Take a pool customer; one that has an owner (here) is ``already_claimed``."""
        self.require("pool", "edit")
        with self.store.write():
            owner = self.customer(customer_id).get("owner_id")
            if owner not in (None, self.user["id"]):
                raise owner_error("already_claimed")
            return self.set_owner(customer_id, self.user["id"])

    def transfer(self, customer_id: str, owner_id: str) -> dict[str, Any]:
        """Give a customer to another user (the rules decide who may)."""
        self.require("customers", "edit")
        return self.set_owner(customer_id, owner_id)

    def assign(self, ids: list[str], owner_id: str) -> list[dict[str, Any]]:
        """Give many customers (e.g. from the pool) to one user, all or none."""
        self.require("transfer", "approve")
        with self.store.write():
            return [self.set_owner(customer_id, owner_id) for customer_id in dict.fromkeys(ids)]

    def delete_customer(self, customer_id: str) -> None:
        self.require("customers", "edit")
        self.customer(customer_id)
        self.store.delete("customer", customer_id, self.user["id"])

    def resolve_conflict(self, entity: str, record_id: str, conflict_id: str, action: str) -> dict[str, Any]:
        row = self.customer(record_id) if entity == "customer" else self._child(entity, record_id)
        if not any(c["id"] == conflict_id for c in row["conflicts"]):
            raise NotFound("No such kept conflict.")
        self.store.resolve_conflict(entity, record_id, conflict_id, action, self.user["id"])
        return self.store.get(entity, record_id)

    # ---- contacts ---------------------------------------------------------------------------
    def list_children(self, entity: str, args: Mapping[str, Any]) -> dict[str, Any]:
        table = REGISTRY[entity].table
        if args.get("customer_id"):
            self.customer(args["customer_id"])  # one scope check, not a scan of every visible customer
            clauses, values = ["x.customer_id = ?"], [args["customer_id"]]
        else:
            where, params = self._customer_scope()
            clauses = [f"x.customer_id IN (SELECT id FROM customers WHERE coalesce(deleted, 0) = 0 AND ({where}))"]
            values = list(params)
        if REGISTRY[entity].kind == "document":
            clauses.append("coalesce(x.deleted, 0) = 0")
        q = (args.get("q") or "").strip()
        if q:
            column = "name" if entity == "contact" else "content"
            clauses.append(f"x.{column} LIKE ?")
            values.append(f"%{q}%")
        sql_where = " AND ".join(clauses)
        total = self.store.db.execute(f"SELECT count(*) FROM [{table}] x WHERE {sql_where}", values).fetchone()[0]
        order = "x.visited_at DESC" if entity == "visit" else "x.name"
        voided = ", EXISTS (SELECT 1 FROM visit_voids v WHERE v.visit_id = x.id) AS voided" if entity == "visit" else ""
        rows = self.store.db.query(
            f"SELECT x.*{voided} FROM [{table}] x WHERE {sql_where} ORDER BY {order}, x.id LIMIT ? OFFSET ?",
            [*values, args["per_page"], (args["page"] - 1) * args["per_page"]],
        )
        names = CONTACT_FIELDS if entity == "contact" else VISIT_FIELDS
        return {"items": [shape(self.store.decode_row(REGISTRY[entity], dict(r)), names) for r in rows], "total": total}

    def contact(self, contact_id: str) -> dict[str, Any]:
        """A live contact whose customer the user may see (``NotFound`` otherwise)."""
        return self._child("contact", contact_id)

    def create_contact(self, values: dict[str, Any]) -> dict[str, Any]:
        self.require("contacts", "edit")
        self.customer(values["customer_id"])
        contact_id = self.store.create("contact", values, self.user["id"])
        return self.store.get("contact", contact_id)

    def update_contact(self, contact_id: str, values: dict[str, Any]) -> dict[str, Any]:
        self.require("contacts", "edit")
        row = self._child("contact", contact_id)
        if "customer_id" in values and values["customer_id"] != row["customer_id"]:
            self.customer(values["customer_id"])
        self.store.update("contact", contact_id, values, self.user["id"])
        return self.store.get("contact", contact_id)

    def delete_contact(self, contact_id: str) -> None:
        self.require("contacts", "edit")
        self._child("contact", contact_id)
        self.store.delete("contact", contact_id, self.user["id"])

    # ---- visits -----------------------------------------------------------------------------
    def visit(self, visit_id: str) -> dict[str, Any]:
        row = self.store.event_row("visit", visit_id)
        if row is None:
            raise NotFound("No such visit.")
        self.customer(row["customer_id"])
        voided = self.store.db.execute("SELECT 1 FROM visit_voids WHERE visit_id = ?", [visit_id]).fetchone()
        return {**row, "voided": voided is not None}

    def create_visit(self, values: dict[str, Any]) -> dict[str, Any]:
        """Record a visit; a next contact time also moves the customer's, in the same transaction."""
        self.require("visits", "edit")
        customer = self.customer(values["customer_id"])
        if values.get("contact_id"):
            contact = self._child("contact", values["contact_id"])
            if contact["customer_id"] != customer["id"]:
                raise Invalid("The contact belongs to another customer.", fields={"contact_id": ["Not this customer's contact."]})
        policy.fill_next_contact(self.store, customer, values)  # the level's reminder interval
        with self.store.write():
            visit_id = self.store.add_event("visit", values, self.user["id"])
            if values.get("next_contact_at"):
                self.store.update("customer", customer["id"], {"next_contact_at": values["next_contact_at"]}, self.user["id"])
        return self.visit(visit_id)

    def void_visit(self, visit_id: str) -> dict[str, Any]:
        """The author may void their own visit on the day it was recorded."""
        self.require("visits", "edit")
        visit = self.visit(visit_id)
        if visit["voided"]:
            return visit
        if visit["author_id"] != self.user["id"]:
            raise Forbidden("Only the author may void a visit.")
        recorded = visit["hlc"].split(".")[0]
        recorded_day = datetime.fromtimestamp(int(recorded) / 1000, tz=timezone.utc).astimezone().date()
        if recorded_day != datetime.now(timezone.utc).astimezone().date():
            raise Forbidden("A visit can only be voided on the day it was recorded.", code="void_window_closed")
        self.store.add_event("visit_void", {"visit_id": visit_id, "customer_id": visit["customer_id"], "voided_at": now_iso()}, self.user["id"])
        return self.visit(visit_id)


def create_api_blueprint(
    get_store: Callable[[], ReplicaStore],
    current_user: Callable[[], User],
    scope_sql: ScopeSql | None = None,
    permits: Permits | None = None,
    owner_rule: OwnerRule | None = None,
    find_users: FindUsers | None = None,
) -> Blueprint:
    """The entity REST API; ``current_user`` raises ``Unauthorized`` when there is no valid token."""
    bp = Blueprint("crm_api", __name__, url_prefix="/api")

    def service() -> CrmService:
        return CrmService(get_store(), current_user(), scope_sql or _all_visible, permits or _all_permitted,
                          owner_rule or _any_owner)

    def list_args() -> dict[str, Any]:
        return load(ListArgs(), request.args.to_dict())

    # customers
    @bp.get("/customers")
    def customers_list() -> Any:
        return service().list_customers(list_args())

    @bp.post("/customers")
    def customers_create() -> Any:
        svc = service()
        values = load(CustomerSchema(), json_body())
        return shape(svc.create_customer(values), CUSTOMER_FIELDS), 201

    @bp.post("/customers/<record_id>/release")
    def customers_release(record_id: str) -> Any:
        return shape(service().release(record_id), CUSTOMER_FIELDS)

    @bp.post("/customers/<record_id>/claim")
    def customers_claim(record_id: str) -> Any:
        return shape(service().claim(record_id), CUSTOMER_FIELDS)

    @bp.post("/customers/<record_id>/transfer")
    def customers_transfer(record_id: str) -> Any:
        svc = service()
        return shape(svc.transfer(record_id, load(OwnerArgs(), json_body())["owner_id"]), CUSTOMER_FIELDS)

    @bp.post("/customers/assign")
    def customers_assign() -> Any:
        svc = service()
        args = load(AssignArgs(), json_body())
        rows = svc.assign(args["ids"], args["owner_id"])
        return {"items": [shape(r, CUSTOMER_FIELDS) for r in rows], "total": len(rows)}

    @bp.get("/users")
    def users_list() -> Any:
        current_user()
        if find_users is None:
            raise Unavailable("The user directory is online only: use the server.", code="online_only")
        args = load(UserArgs(), request.args.to_dict())
        return find_users(args["username"], args["page"], args["per_page"])

    @bp.get("/customers/<record_id>")
    def customers_get(record_id: str) -> Any:
        return shape(service().customer(record_id), CUSTOMER_FIELDS)

    @bp.patch("/customers/<record_id>")
    def customers_patch(record_id: str) -> Any:
        svc = service()
        values = load(CustomerSchema(), json_body(), partial=True)
        return shape(svc.update_customer(record_id, values), CUSTOMER_FIELDS)

    @bp.delete("/customers/<record_id>")
    def customers_delete(record_id: str) -> Any:
        service().delete_customer(record_id)
        return "", 204

    @bp.post("/<plural>/<record_id>/conflicts/<conflict_id>/<action>")
    def conflict_action(plural: str, record_id: str, conflict_id: str, action: str) -> Any:
        entity = {"customers": "customer", "contacts": "contact"}.get(plural)
        if entity is None or action not in ("restore", "dismiss"):
            raise NotFound("No such action.")
        row = service().resolve_conflict(entity, record_id, conflict_id, action)
        return shape(row, CUSTOMER_FIELDS if entity == "customer" else CONTACT_FIELDS)

    # contacts
    @bp.get("/contacts")
    def contacts_list() -> Any:
        return service().list_children("contact", list_args())

    @bp.post("/contacts")
    def contacts_create() -> Any:
        svc = service()
        return shape(svc.create_contact(load(ContactSchema(), json_body())), CONTACT_FIELDS), 201

    @bp.get("/contacts/<record_id>")
    def contacts_get(record_id: str) -> Any:
        return shape(service()._child("contact", record_id), CONTACT_FIELDS)

    @bp.patch("/contacts/<record_id>")
    def contacts_patch(record_id: str) -> Any:
        svc = service()
        values = load(ContactSchema(), json_body(), partial=True)
        return shape(svc.update_contact(record_id, values), CONTACT_FIELDS)

    @bp.delete("/contacts/<record_id>")
    def contacts_delete(record_id: str) -> Any:
        service().delete_contact(record_id)
        return "", 204

    # visits
    @bp.get("/visits")
    def visits_list() -> Any:
        return service().list_children("visit", list_args())

    @bp.post("/visits")
    def visits_create() -> Any:
        svc = service()
        return shape(svc.create_visit(load(VisitSchema(), json_body())), VISIT_FIELDS), 201

    @bp.get("/visits/<record_id>")
    def visits_get(record_id: str) -> Any:
        return shape(service().visit(record_id), VISIT_FIELDS)

    @bp.route("/visits/<record_id>", methods=["PATCH", "PUT", "DELETE"])
    def visits_immutable(record_id: str) -> Any:
        raise MethodNotAllowed("A visit is never edited; void it instead (POST /api/visits/<id>/void).")

    @bp.post("/visits/<record_id>/void")
    def visits_void(record_id: str) -> Any:
        return shape(service().void_visit(record_id), VISIT_FIELDS)

    return bp


def openapi_spec(title: str, version: str, extra_paths: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI 3 document for the entity API (plus the app's own paths)."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title=title, version=version, openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}}}})
    errors = {str(s): {"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
              for s, d in ((400, "Malformed request"), (401, "Not logged in"), (404, "Not found"), (422, "Invalid fields"))}
    for name, schema in (("Customer", CustomerSchema), ("Contact", ContactSchema), ("Visit", VisitSchema)):
        spec.components.schema(name, schema=schema)
    list_params = [
        {"in": "query", "name": n, "schema": s, "required": False}
        for n, s in (("q", {"type": "string", "maxLength": 100}), ("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                     ("per_page", {"type": "integer", "minimum": 1, "maximum": 200}), ("customer_id", {"type": "string"}))
    ]
    for plural, name in (("customers", "Customer"), ("contacts", "Contact"), ("visits", "Visit")):
        ref = {"$ref": f"#/components/schemas/{name}"}
        body = {"required": True, "content": {"application/json": {"schema": ref}}}
        one = {"description": name, "content": {"application/json": {"schema": ref}}}
        listing = {"description": f"{name} list", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"items": {"type": "array", "items": ref}, "total": {"type": "integer"}}}}}}
        sec: list[dict[str, list[str]]] = [{"bearer": []}]
        spec.path(f"/api/{plural}", operations={
            "get": {"parameters": list_params, "security": sec, "responses": {"200": listing, **errors}},
            "post": {"requestBody": body, "security": sec, "responses": {"201": one, **errors}},
        })
        item_ops: dict[str, Any] = {"get": {"security": sec, "responses": {"200": one, **errors}}}
        if plural != "visits":
            item_ops["patch"] = {"requestBody": body, "security": sec, "responses": {"200": one, **errors}}
            item_ops["delete"] = {"security": sec, "responses": {"204": {"description": "Deleted"}, **errors}}
        spec.path(f"/api/{plural}/{{id}}", parameters=[{"in": "path", "name": "id", "required": True, "schema": {"type": "string"}}], operations=item_ops)
    spec.path("/api/login", operations={"post": {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["username", "password"], "additionalProperties": False,
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
        "responses": {"200": {"description": "Token", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"token": {"type": "string"}}}}}}, **errors}}})
    for path, item in (extra_paths or {}).items():
        spec.path(path, operations=item)
    return spec.to_dict()
