"""Sales over one replica store, the same on the server and on a device (no HTTP here).

Products and categories, opportunities and the funnel, quotes (convert to order), sales orders and
receipts with their workflow, receivables, sales targets and the workbench. What differs between
the two sides is injected as ``SalesHooks``: who may do what, which customers the user sees, what
happens after a write (the server numbers documents and applies decisions at once; a device only
records them, the server judges them when they sync), and the user's clock.

Every multi-record write (convert a quote, quick receive, a decision) is one ``store.write()``
transaction. Errors carry their HTTP status (``shared.web.errors``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Mapping

from shared.sales import workflow
from shared.sales.money import fen, mismatched_amounts, priced_lines, yuan
from shared.sales.receivables import outstanding_fen, receivables
from sync import RecordNotFound, ReplicaStore
from sync.clock import iso_from_ms

from .errors import Conflict, Forbidden, Invalid, NotFound
from .search import clean

User = Mapping[str, Any]
PRODUCT_FIELDS = ("id", "code", "name", "spec", "unit", "price", "barcode", "category_id", "updated_at")
CATEGORY_FIELDS = ("id", "name", "parent_id", "ordering")
STAGE_FIELDS = ("id", "code", "name_zh", "name_en", "probability", "ordering", "closed")
OPPORTUNITY_FIELDS = ("id", "customer_id", "name", "stage", "amount", "expected_date", "probability", "owner_id",
                      "remark", "created_at", "updated_at", "conflicts")
QUOTE_FIELDS = ("id", "number", "number_is_final", "customer_id", "opportunity_id", "status", "lines", "total",
                "valid_until", "order_id", "owner_id", "remark", "created_at", "updated_at", "conflicts")
ORDER_FIELDS = ("id", "number", "number_is_final", "customer_id", "quote_id", "status", "lines", "total",
                "delivery_date", "due_date", "outbound_requested", "warehouse_id", "owner_id", "remark", "submitted_at", "approved_by",
                "approved_at", "reject_reason", "created_at", "updated_at", "conflicts")
RECEIPT_FIELDS = ("id", "number", "number_is_final", "customer_id", "payer", "method", "amount", "received_at",
                  "status", "allocations", "owner_id", "remark", "submitted_at", "approved_by", "approved_at",
                  "reject_reason", "created_at", "updated_at", "conflicts")
TARGET_FIELDS = ("id", "user_id", "month", "amount")
DOC_MODULE = {"sales_order": "orders", "receipt": "receipts", "quote": "quotes", "opportunity": "opportunities"}
BOOL_FIELDS = ("number_is_final", "outbound_requested", "closed")


@dataclass
class SalesHooks:
    """What the server and a device do differently (see the module docstring)."""

    can: Callable[[User, str, str], bool] = lambda user, module, action: True
    customer_where: Callable[[User], tuple[str, list[Any]]] = lambda user: ("1", [])  # on ``customers c``
    in_team: Callable[[User, str], bool] = lambda user, user_id: True  # may set this user's target
    after_write: Callable[[str, str], None] = lambda entity, record_id: None
    decision_refusal: Callable[[User, Mapping[str, Any]], "str | None"] | None = None
    today: Callable[[], date] = field(default=lambda: datetime.now(timezone.utc).astimezone().date())


DECISION_MESSAGES = {
    "not_submitted": "Only a submitted document can be approved or rejected.",
    "changed_since_seen": "The document changed since you opened it; look at it again before deciding.",
    "already_decided": "A decision on this document is waiting to sync.",
    "no_permission": "You may not approve this kind of document.",
    "order_not_approved": "The receipt pays an order that is not approved.",
    "over_allocated": "The receipt allocates more than the order still owes.",
    "not_found": "No such document.",
}


def shape(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A stored row as the API shows it: lines and allocations as lists, booleans as bool."""
    out = {n: row.get(n) for n in names}
    for name in ("lines", "allocations"):
        if name in out:
            out[name] = json.loads(out[name] or "[]") if isinstance(out[name], str) else (out[name] or [])
    for name in BOOL_FIELDS:
        if name in out:
            out[name] = bool(out[name])
    if "conflicts" in out:
        kept = row.get("conflicts") or []
        out["conflicts"] = [{k: c.get(k) for k in ("id", "field", "value", "author_id", "edited_at")}
                            for c in (json.loads(kept) if isinstance(kept, str) else kept)]
    return out


class SalesService:
    """One user's sales operations on one replica (scope and rights applied)."""

    def __init__(self, store: ReplicaStore, user: User, hooks: SalesHooks | None = None) -> None:
        self.store = store
        self.user = user
        self.hooks = hooks or SalesHooks()

    # ---- helpers ----------------------------------------------------------------------------
    @property
    def me(self) -> str:
        return str(self.user["id"])

    def can(self, module: str, action: str) -> bool:
        return bool(self.hooks.can(self.user, module, action))

    def require(self, module: str, action: str) -> None:
        if not self.can(module, action):
            raise Forbidden(f"You do not have the right {module}.{action}.", code="no_permission")

    def now(self) -> str:
        return iso_from_ms(self.store.now_ms())

    def _page(self, table: str, where: list[str], params: list[Any], order: str, page: int, per_page: int,
              select: str = "x.*", joins: str = "") -> tuple[list[dict[str, Any]], int]:
        cond = " AND ".join(where) or "1"
        total = self.store.db.execute(f"SELECT count(*) FROM [{table}] x {joins} WHERE {cond}", params).fetchone()[0]
        rows = [dict(r) for r in self.store.db.query(
            f"SELECT {select} FROM [{table}] x {joins} WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page])]
        return rows, int(total)

    def _scoped(self) -> tuple[str, list[Any]]:
        where, params = self.hooks.customer_where(self.user)
        return f"x.customer_id IN (SELECT c.id FROM customers c WHERE coalesce(c.deleted, 0) = 0 AND ({where}))", list(params)

    def customer(self, customer_id: str) -> dict[str, Any]:
        """A live customer the user may see (``NotFound`` otherwise)."""
        where, params = self.hooks.customer_where(self.user)
        row = self.store.db.execute(
            f"SELECT c.id FROM customers c WHERE c.id = ? AND coalesce(c.deleted, 0) = 0 AND ({where})",
            [customer_id, *params]).fetchone()
        if row is None:
            raise NotFound("No such customer.", fields={"customer_id": ["No such customer."]})
        return self.store.get("customer", customer_id)

    def _record(self, entity: str, record_id: str) -> dict[str, Any]:
        """A live customer-bound record whose customer the user may see."""
        try:
            row = self.store.get(entity, record_id)
        except RecordNotFound:
            raise NotFound(f"No such {entity.replace('_', ' ')}.") from None
        if row.get("deleted"):
            raise NotFound(f"No such {entity.replace('_', ' ')}.")
        try:
            self.customer(row["customer_id"])
        except NotFound:
            raise NotFound(f"No such {entity.replace('_', ' ')}.") from None
        return row

    def _live(self, entity: str, record_id: str) -> dict[str, Any]:
        """A live reference record (product, category, stage, target)."""
        try:
            row = self.store.get(entity, record_id)
        except RecordNotFound:
            raise NotFound(f"No such {entity.replace('_', ' ')}.") from None
        if row.get("deleted"):
            raise NotFound(f"No such {entity.replace('_', ' ')}.")
        return row

    # ---- products and categories ------------------------------------------------------------
    def list_products(self, q: str | None = None, category_id: str | None = None, page: int = 1,
                      per_page: int = 50) -> dict[str, Any]:
        where, params = ["coalesce(x.deleted, 0) = 0"], []
        q = clean(q or "")
        if q:
            where.append("(x.code LIKE ? OR x.name LIKE ? OR x.barcode = ? OR x.spec LIKE ?)")
            params += [f"%{q}%", f"%{q}%", q, f"%{q}%"]
        if category_id:
            where.append("x.category_id IN (WITH RECURSIVE t(id) AS (SELECT ? UNION SELECT k.id FROM product_categories k"
                         " JOIN t ON k.parent_id = t.id) SELECT id FROM t)")
            params.append(category_id)
        rows, total = self._page("products", where, params, "x.code, x.id", page, per_page)
        return {"items": [shape(r, PRODUCT_FIELDS) for r in rows], "total": total}

    def product(self, product_id: str) -> dict[str, Any]:
        return shape(self._live("product", product_id), PRODUCT_FIELDS)

    def product_by_code(self, code: str) -> dict[str, Any]:
        """A live product by its code or barcode (a scanner's input)."""
        row = self.store.db.execute(
            "SELECT id FROM products WHERE coalesce(deleted, 0) = 0 AND (code = ? OR barcode = ?) ORDER BY code = ? DESC LIMIT 1",
            [code, code, code]).fetchone()
        if row is None:
            raise NotFound("No product has this code or barcode.")
        return self.product(row[0])

    def _check_product(self, values: Mapping[str, Any], product_id: str | None) -> None:
        if "code" in values:
            clash = self.store.db.execute(
                "SELECT 1 FROM products WHERE code = ? AND coalesce(deleted, 0) = 0 AND id != ?",
                [values["code"], product_id or ""]).fetchone()
            if clash:
                raise Conflict("Another product has this code.", fields={"code": ["Already used."]}, code="duplicate_code")
        if values.get("category_id"):
            self._live("product_category", values["category_id"])

    def create_product(self, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("products", "edit")
        with self.store.write():
            self._check_product(values, None)
            product_id = self.store.create("product", dict(values), self.me)
        return self.product(product_id)

    def update_product(self, product_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("products", "edit")
        with self.store.write():
            self._live("product", product_id)
            self._check_product(values, product_id)
            self.store.update("product", product_id, dict(values), self.me)
        return self.product(product_id)

    def delete_product(self, product_id: str) -> None:
        self.require("products", "edit")
        self._live("product", product_id)
        self.store.delete("product", product_id, self.me)

    def categories(self) -> list[dict[str, Any]]:
        """Live categories in tree order, each with ``depth`` and ``path``."""
        rows = [dict(r) for r in self.store.db.query(
            "SELECT * FROM product_categories WHERE coalesce(deleted, 0) = 0 ORDER BY ordering, name")]
        children: dict[Any, list[dict[str, Any]]] = {}
        ids = {r["id"] for r in rows}
        for row in rows:
            children.setdefault(row["parent_id"] if row["parent_id"] in ids else None, []).append(row)
        out: list[dict[str, Any]] = []

        def walk(parent: Any, depth: int, path: str) -> None:
            for row in children.get(parent, []):
                item = {**shape(row, CATEGORY_FIELDS), "depth": depth, "path": f"{path}/{row['name']}" if path else row["name"]}
                out.append(item)
                if depth < 20:
                    walk(row["id"], depth + 1, item["path"])

        walk(None, 0, "")
        return out

    def save_category(self, values: Mapping[str, Any], category_id: str | None = None) -> dict[str, Any]:
        self.require("products", "edit")
        with self.store.write():
            parent = values.get("parent_id")
            if parent:
                self._live("product_category", parent)
                if category_id and (parent == category_id or parent in self._descendants(category_id)):
                    raise Conflict("A category cannot move under itself.", code="cycle")
            if category_id is None:
                category_id = self.store.create("product_category", dict(values), self.me)
            else:
                self._live("product_category", category_id)
                self.store.update("product_category", category_id, dict(values), self.me)
        return shape(self.store.get("product_category", category_id), CATEGORY_FIELDS)

    def _descendants(self, category_id: str) -> set[str]:
        return {r[0] for r in self.store.db.execute(
            "WITH RECURSIVE t(id) AS (SELECT id FROM product_categories WHERE parent_id = ? UNION"
            " SELECT k.id FROM product_categories k JOIN t ON k.parent_id = t.id) SELECT id FROM t", [category_id])}

    def delete_category(self, category_id: str) -> None:
        self.require("products", "edit")
        with self.store.write():
            self._live("product_category", category_id)
            used = self.store.db.execute(
                "SELECT (SELECT count(*) FROM products WHERE category_id = ? AND coalesce(deleted, 0) = 0)"
                " + (SELECT count(*) FROM product_categories WHERE parent_id = ? AND coalesce(deleted, 0) = 0)",
                [category_id, category_id]).fetchone()[0]
            if used:
                raise Conflict("The category still holds products or sub-categories.", code="category_in_use")
            self.store.delete("product_category", category_id, self.me)

    # ---- stages, opportunities, funnel -------------------------------------------------------
    def stages(self) -> list[dict[str, Any]]:
        return [shape(r, STAGE_FIELDS) for r in self.store.db.query(
            "SELECT * FROM opportunity_stages WHERE coalesce(deleted, 0) = 0 ORDER BY ordering, code")]

    def _check_stage(self, values: Mapping[str, Any]) -> None:
        if "stage" in values and values["stage"] not in {s["code"] for s in self.stages()}:
            raise Invalid("No such stage.", fields={"stage": ["No such stage."]})

    def list_opportunities(self, customer_id: str | None = None, stage: str | None = None, q: str | None = None,
                           page: int = 1, per_page: int = 50) -> dict[str, Any]:
        self.require("opportunities", "view")
        where, params = self._scoped()
        clauses = [where, "coalesce(x.deleted, 0) = 0"]
        if customer_id:
            clauses.append("x.customer_id = ?")
            params.append(customer_id)
        if stage:
            clauses.append("x.stage = ?")
            params.append(stage)
        if clean(q or ""):
            clauses.append("x.name LIKE ?")
            params.append(f"%{clean(q or '')}%")
        rows, total = self._page("opportunities", clauses, params, "x.expected_date IS NULL, x.expected_date, x.id", page, per_page)
        return {"items": [shape(r, OPPORTUNITY_FIELDS) for r in rows], "total": total}

    def opportunity(self, opportunity_id: str) -> dict[str, Any]:
        self.require("opportunities", "view")
        return shape(self._record("opportunity", opportunity_id), OPPORTUNITY_FIELDS)

    def create_opportunity(self, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("opportunities", "edit")
        self.customer(values["customer_id"])
        self._check_stage(values)
        full = {"owner_id": self.me, "created_at": self.now(), **values}
        if full.get("probability") is None:
            full["probability"] = next((s["probability"] for s in self.stages() if s["code"] == full["stage"]), None)
        return self.opportunity(self.store.create("opportunity", full, self.me))

    def update_opportunity(self, opportunity_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("opportunities", "edit")
        self._record("opportunity", opportunity_id)
        if "customer_id" in values:
            self.customer(values["customer_id"])
        self._check_stage(values)
        self.store.update("opportunity", opportunity_id, dict(values), self.me)
        return self.opportunity(opportunity_id)

    def delete_opportunity(self, opportunity_id: str) -> None:
        self.require("opportunities", "edit")
        self._record("opportunity", opportunity_id)
        self.store.delete("opportunity", opportunity_id, self.me)

    def funnel(self) -> list[dict[str, Any]]:
        """Opportunities per stage (count, amount, probability-weighted amount), in stage order."""
        self.require("opportunities", "view")
        where, params = self._scoped()
        totals = {r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in self.store.db.execute(
            "SELECT x.stage, count(*), sum(CAST(round(coalesce(x.amount, 0) * 100) AS INTEGER)),"
            " sum(CAST(round(coalesce(x.amount, 0) * coalesce(x.probability, 0)) AS INTEGER))"
            f" FROM opportunities x WHERE coalesce(x.deleted, 0) = 0 AND {where} GROUP BY x.stage", params)}
        out = []
        for stage in self.stages():
            count, amount, weighted = totals.get(stage["code"], (0, 0, 0))
            out.append({**stage, "count": count, "amount": yuan(amount), "weighted": yuan(weighted)})
        return out

    # ---- lines --------------------------------------------------------------------------------
    def _priced(self, lines: list[dict[str, Any]]) -> tuple[str, float]:
        bad = mismatched_amounts(lines)
        if bad:
            raise Invalid("A line's amount does not match quantity × price − discount + tax.",
                          fields={"lines": {str(i): {"amount": ["Does not match the computed amount."]} for i in bad}})
        known = {r[0] for r in self.store.db.execute(
            f"SELECT id FROM products WHERE id IN ({', '.join('?' for _ in lines)})", [l["product_id"] for l in lines])} if lines else set()
        unknown = [i for i, line in enumerate(lines) if line["product_id"] not in known]
        if unknown:
            raise Invalid("A line names an unknown product.",
                          fields={"lines": {str(i): {"product_id": ["No such product."]} for i in unknown}})
        priced, total, _tax = priced_lines(lines)
        return json.dumps(priced, ensure_ascii=False, separators=(",", ":")), yuan(total)

    # ---- quotes -------------------------------------------------------------------------------
    def list_documents(self, entity: str, customer_id: str | None = None, status: str | None = None,
                       q: str | None = None, owner_id: str | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        """Quotes, orders or receipts in scope, newest first, with the customer's name."""
        self.require(DOC_MODULE[entity], "view")
        where, params = self._scoped()
        clauses = [where, "coalesce(x.deleted, 0) = 0"]
        for column, value in (("customer_id", customer_id), ("status", status), ("owner_id", owner_id)):
            if value:
                clauses.append(f"x.{column} = ?")
                params.append(value)
        q = clean(q or "")
        if q:
            clauses.append("(x.number LIKE ? OR c.name LIKE ?)")
            params += [f"%{q}%", f"%{q}%"]
        table = self.store.registry[entity].table
        rows, total = self._page(table, clauses, params, "x.created_at DESC, x.id DESC", page, per_page,
                                 select="x.*, c.name AS customer_name", joins="JOIN customers c ON c.id = x.customer_id")
        names = {"quote": QUOTE_FIELDS, "sales_order": ORDER_FIELDS, "receipt": RECEIPT_FIELDS}[entity]
        return {"items": [{**self._decorate(entity, r, names), "customer_name": r["customer_name"]} for r in rows],
                "total": total}

    def _decorate(self, entity: str, row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        out = shape(row, names)
        if entity in workflow.CONTENT_FIELDS:
            out["version"] = workflow.version(entity, row)
            out["pending_decision"] = self._pending_decision(row["id"])
        return out

    def _pending_decision(self, record_id: str) -> str | None:
        """The action of this user's decision that has not reached the server yet (devices only)."""
        for event_id, action in self.store.db.execute(
                "SELECT id, action FROM approvals WHERE record_id = ? ORDER BY hlc DESC", [record_id]):
            if self.store.pending_for("approval", event_id):
                return str(action)
        return None

    def quote(self, quote_id: str) -> dict[str, Any]:
        self.require("quotes", "view")
        return self._decorate("quote", self._record("quote", quote_id), QUOTE_FIELDS)

    def create_quote(self, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("quotes", "edit")
        self.customer(values["customer_id"])
        if values.get("opportunity_id"):
            self._record("opportunity", values["opportunity_id"])
        lines, total = self._priced(values["lines"])
        full = {**values, "lines": lines, "total": total, "owner_id": self.me, "created_at": self.now(),
                "number": workflow.provisional_number("quote", self.store.site_id, self.store.now_ms()), "number_is_final": False}
        with self.store.write():
            quote_id = self.store.create("quote", full, self.me)
            self.hooks.after_write("quote", quote_id)
        return self.quote(quote_id)

    def update_quote(self, quote_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("quotes", "edit")
        row = self._record("quote", quote_id)
        if row.get("status") == "converted":
            raise Conflict("A converted quote is kept as it was; edit the order instead.", code="frozen")
        changes = dict(values)
        if "customer_id" in changes:
            self.customer(changes["customer_id"])
        if "lines" in changes:
            changes["lines"], changes["total"] = self._priced(changes["lines"])
        self.store.update("quote", quote_id, changes, self.me)
        return self.quote(quote_id)

    def delete_quote(self, quote_id: str) -> None:
        self.require("quotes", "edit")
        self._record("quote", quote_id)
        self.store.delete("quote", quote_id, self.me)

    def convert_quote(self, quote_id: str) -> dict[str, Any]:
        """Copy a quote into a new draft order (one transaction); the quote becomes ``converted``."""
        self.require("orders", "edit")
        with self.store.write():
            quote = self._record("quote", quote_id)
            if quote.get("status") == "converted" and quote.get("order_id"):
                raise Conflict("This quote was already converted.", code="already_converted",
                               fields={"order_id": [str(quote["order_id"])]})
            order_id = self._create_order({"customer_id": quote["customer_id"], "quote_id": quote_id,
                                           "lines": json.loads(quote["lines"] or "[]"), "remark": quote.get("remark")})
            self.store.update("quote", quote_id, {"status": "converted", "order_id": order_id}, self.me)
        return self.order(order_id)

    # ---- orders -------------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any]:
        self.require("orders", "view")
        return self._decorate("sales_order", self._record("sales_order", order_id), ORDER_FIELDS)

    def _check_warehouse(self, values: Mapping[str, Any]) -> None:
        """An order ships from a live warehouse (warehouses replicate to every device)."""
        if values.get("warehouse_id") and self.store.db.execute(
                "SELECT 1 FROM warehouses WHERE id = ? AND coalesce(deleted, 0) = 0", [values["warehouse_id"]]).fetchone() is None:
            raise Invalid("No such warehouse.", fields={"warehouse_id": ["No such warehouse."]})

    def _create_order(self, values: Mapping[str, Any]) -> str:
        self.customer(values["customer_id"])
        self._check_warehouse(values)
        lines, total = self._priced(list(values["lines"]))
        full = {**values, "lines": lines, "total": total, "status": "draft", "owner_id": self.me, "created_at": self.now(),
                "number": workflow.provisional_number("sales_order", self.store.site_id, self.store.now_ms()),
                "number_is_final": False}
        with self.store.write():
            order_id = self.store.create("sales_order", full, self.me)
            self.hooks.after_write("sales_order", order_id)
        return order_id

    def create_order(self, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("orders", "edit")
        if values.get("quote_id"):
            self._record("quote", values["quote_id"])
        return self.order(self._create_order(values))

    def _editable(self, entity: str, record_id: str) -> dict[str, Any]:
        row = self._record(entity, record_id)
        if row.get("status") in workflow.FROZEN:
            raise Conflict(f"A {row['status']} document cannot be changed.", code="frozen")
        if self._pending_decision(record_id):
            raise Conflict(DECISION_MESSAGES["already_decided"], code="already_decided")
        return row

    def update_order(self, order_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("orders", "edit")
        with self.store.write():
            self._editable("sales_order", order_id)
            changes = dict(values)
            if "customer_id" in changes:
                self.customer(changes["customer_id"])
            self._check_warehouse(changes)
            if "lines" in changes:
                changes["lines"], changes["total"] = self._priced(changes["lines"])
            self.store.update("sales_order", order_id, changes, self.me)
        return self.order(order_id)

    def delete_document(self, entity: str, record_id: str) -> None:
        self.require(DOC_MODULE[entity], "edit")
        with self.store.write():
            self._editable(entity, record_id)
            self.store.delete(entity, record_id, self.me)

    def submit(self, entity: str, record_id: str) -> dict[str, Any]:
        """draft / rejected → submitted (a device's own transition)."""
        self.require(DOC_MODULE[entity], "edit")
        with self.store.write():
            row = self._record(entity, record_id)
            if row.get("status") == "submitted":  # submitted twice (a double click): nothing to write
                return self.document(entity, record_id)
            problem = workflow.transition_problem(row.get("status"), "submitted")
            if problem:
                raise Conflict(f"A {row.get('status')} document cannot be submitted.", code="frozen" if row.get("status") in workflow.FROZEN else problem)
            if entity == "sales_order" and not json.loads(row.get("lines") or "[]"):
                raise Invalid("An order needs at least one line.", fields={"lines": ["At least one line."]})
            self.store.update(entity, record_id, {"status": "submitted", "submitted_at": self.now()}, self.me)
        return self.document(entity, record_id)

    def document(self, entity: str, record_id: str) -> dict[str, Any]:
        return self.order(record_id) if entity == "sales_order" else self.receipt(record_id)

    def decide(self, entity: str, record_id: str, action: str, version: str | None = None,
               reason: str | None = None) -> dict[str, Any]:
        """Approve or reject a submitted order or receipt as the version the approver saw."""
        self.require(workflow.APPROVE_MODULE[entity], "approve")
        if action == "reject" and not (reason or "").strip():
            raise Invalid("Say why the document is rejected.", fields={"reason": ["Required when rejecting."]})
        with self.store.write():
            row = self._record(entity, record_id)
            event = {"target": entity, "record_id": record_id, "customer_id": row["customer_id"], "action": action,
                     "version": version or workflow.version(entity, row), "reason": (reason or "").strip() or None,
                     "acted_at": self.now()}
            problem = "already_decided" if self._pending_decision(record_id) else None
            problem = problem or workflow.decision_problem(entity, row, event["version"])
            if problem is None and self.hooks.decision_refusal is not None:
                problem = self.hooks.decision_refusal(self.user, event)
            if problem:
                raise Conflict(DECISION_MESSAGES.get(problem, problem), code=problem)
            event_id = self.store.add_event("approval", event, self.me)
            self.hooks.after_write("approval", event_id)
        return self.document(entity, record_id)

    def approvals_of(self, record_id: str) -> list[dict[str, Any]]:
        """The decisions taken on one document, oldest first."""
        return [dict(r) for r in self.store.db.query("SELECT * FROM approvals WHERE record_id = ? ORDER BY hlc", [record_id])]

    # ---- receipts -----------------------------------------------------------------------------
    def receipt(self, receipt_id: str) -> dict[str, Any]:
        self.require("receipts", "view")
        return self._decorate("receipt", self._record("receipt", receipt_id), RECEIPT_FIELDS)

    def _allocations(self, customer_id: str, amount: float, allocations: list[dict[str, Any]]) -> str:
        problems: dict[str, Any] = {}
        claimed: dict[str, int] = {}  # fen allocated so far to each order by this receipt
        for index, allocation in enumerate(allocations):
            row = self.store.db.execute(
                "SELECT customer_id, status FROM sales_orders WHERE id = ? AND coalesce(deleted, 0) = 0",
                [allocation["order_id"]]).fetchone()
            if row is None or row[0] != customer_id:
                problems[str(index)] = {"order_id": ["No such order of this customer."]}
            elif row[1] != "approved":
                problems[str(index)] = {"order_id": ["The order is not approved."]}
            else:
                owed = outstanding_fen(self.store.db, allocation["order_id"]) or 0
                claimed[allocation["order_id"]] = claimed.get(allocation["order_id"], 0) + fen(allocation["amount"])
                if claimed[allocation["order_id"]] > owed:
                    problems[str(index)] = {"amount": [f"More than the order still owes ({yuan(owed):.2f})."]}
        if problems:
            raise Invalid("An allocation is wrong.", fields={"allocations": problems})
        if sum(fen(a["amount"]) for a in allocations) > fen(amount):
            raise Invalid("The allocations add up to more than the amount received.",
                          fields={"allocations": ["More than the amount."]})
        return json.dumps([{"order_id": a["order_id"], "amount": float(a["amount"])} for a in allocations],
                          separators=(",", ":"))

    def create_receipt(self, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("receipts", "edit")
        with self.store.write():
            self.customer(values["customer_id"])
            full = {**values, "allocations": self._allocations(values["customer_id"], values["amount"],
                                                                list(values.get("allocations") or [])),
                    "status": "draft", "owner_id": self.me, "created_at": self.now(), "number_is_final": False,
                    "number": workflow.provisional_number("receipt", self.store.site_id, self.store.now_ms())}
            receipt_id = self.store.create("receipt", full, self.me)
            self.hooks.after_write("receipt", receipt_id)
        return self.receipt(receipt_id)

    def update_receipt(self, receipt_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        self.require("receipts", "edit")
        with self.store.write():
            row = self._editable("receipt", receipt_id)
            changes = dict(values)
            merged = {**row, **changes}
            if "customer_id" in changes:
                self.customer(changes["customer_id"])
            if changes.keys() & {"allocations", "amount", "customer_id"}:
                allocations = changes.get("allocations")
                if allocations is None:
                    allocations = json.loads(row.get("allocations") or "[]")
                changes["allocations"] = self._allocations(merged["customer_id"], merged["amount"], list(allocations))
            self.store.update("receipt", receipt_id, changes, self.me)
        return self.receipt(receipt_id)

    def receive(self, order_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Quick receive: a receipt for (by default) what an approved order still owes, allocated to it."""
        self.require("receipts", "edit")
        order = self._record("sales_order", order_id)
        if order.get("status") != "approved":
            raise Conflict("Only an approved order can be received against.", code="order_not_approved")
        owed = outstanding_fen(self.store.db, order_id) or 0
        if owed <= 0:
            raise Conflict("This order is paid in full.", code="paid")
        amount = values.get("amount") or yuan(owed)
        with self.store.write():
            return self._receive(order, amount, values)

    def _receive(self, order: Mapping[str, Any], amount: float, values: Mapping[str, Any]) -> dict[str, Any]:
        order_id = order["id"]
        receipt = self.create_receipt({
            "customer_id": order["customer_id"], "payer": values.get("payer"), "method": values.get("method") or "bank_transfer",
            "amount": amount, "received_at": values.get("received_at") or self.hooks.today().isoformat(),
            "allocations": [{"order_id": order_id, "amount": amount}], "remark": values.get("remark"),
        })
        return self.submit("receipt", receipt["id"]) if values.get("submit") else receipt

    # ---- receivables --------------------------------------------------------------------------
    def receivables(self, customer_id: str | None = None, open_only: bool = False) -> dict[str, Any]:
        self.require("receipts", "view")
        if customer_id:
            self.customer(customer_id)
        return receivables(self.store.db, self.hooks.today(), self.hooks.customer_where(self.user), customer_id, open_only)

    # ---- targets ------------------------------------------------------------------------------
    def targets(self, month: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
        """Targets with progress: the approved orders' totals of the user in that month."""
        where, params = ["coalesce(deleted, 0) = 0"], []
        if month:
            where.append("month = ?")
            params.append(month)
        if user_id:
            where.append("user_id = ?")
            params.append(user_id)
        rows = [dict(r) for r in self.store.db.query(
            f"SELECT * FROM sales_targets WHERE {' AND '.join(where)} ORDER BY month DESC, user_id", params)]
        out = []
        for row in rows:
            if not (row["user_id"] == self.me or self.hooks.in_team(self.user, row["user_id"])):
                continue
            achieved = self.achieved(row["user_id"], row["month"])
            target = fen(row["amount"])
            names = self.store.db.execute("SELECT display_name, username FROM directory_users WHERE id = ?", [row["user_id"]]).fetchone()
            out.append({**shape(row, TARGET_FIELDS), "achieved": yuan(achieved),
                        "progress": round(achieved / target, 4) if target else None,
                        "user_name": (names[0] or names[1]) if names else row["user_id"]})
        return out

    def achieved(self, user_id: str, month: str) -> int:
        """Fen of the user's orders approved in ``month`` (YYYY-MM)."""
        totals = self.store.db.execute(
            "SELECT total FROM sales_orders WHERE owner_id = ? AND status = 'approved' AND coalesce(deleted, 0) = 0"
            " AND substr(approved_at, 1, 7) = ?", [user_id, month]).fetchall()
        return sum(fen(t[0]) for t in totals)

    def set_target(self, user_id: str, month: str, amount: float) -> dict[str, Any]:
        """Create or change a rep's monthly target (a manager of their team)."""
        self.require("targets", "edit")
        if not self.hooks.in_team(self.user, user_id):
            raise Forbidden("You may set targets only for your own team.", code="no_permission")
        with self.store.write():
            row = self.store.db.execute("SELECT id FROM sales_targets WHERE user_id = ? AND month = ?"
                                        " AND coalesce(deleted, 0) = 0 ORDER BY id LIMIT 1", [user_id, month]).fetchone()
            if row is None:
                target_id = self.store.create("sales_target", {"user_id": user_id, "month": month, "amount": amount}, self.me)
            else:
                target_id = row[0]
                self.store.update("sales_target", target_id, {"amount": amount}, self.me)
        return next(t for t in self.targets(month, user_id) if t["id"] == target_id)

    # ---- workbench ----------------------------------------------------------------------------
    def workbench(self) -> dict[str, Any]:
        """The home page's numbers: what waits for my decision, my drafts and rejections, overdue
        receivables, my target this month."""
        out: dict[str, Any] = {"pending_approvals": [], "my_documents": [], "overdue": [], "target": None}
        for entity, module in workflow.APPROVE_MODULE.items():
            if self.can(module, "approve"):
                listing = self.list_documents(entity, status="submitted", per_page=20)
                out["pending_approvals"] += [{**i, "entity": entity} for i in listing["items"]]
        for entity in ("sales_order", "receipt"):
            if self.can(DOC_MODULE[entity], "view"):
                for status in ("draft", "rejected"):
                    listing = self.list_documents(entity, status=status, owner_id=self.me, per_page=10)
                    out["my_documents"] += [{**i, "entity": entity} for i in listing["items"]]
        if self.can("receipts", "view"):
            ledger = self.receivables(open_only=True)
            out["overdue"] = [i for i in ledger["items"] if i["bucket"] != "not_yet_due"][:10]
            out["receivables"] = ledger["summary"]
        month = self.hooks.today().strftime("%Y-%m")
        mine = self.targets(month, self.me)
        out["target"] = mine[0] if mine else {"user_id": self.me, "month": month, "amount": None,
                                              "achieved": yuan(self.achieved(self.me, month)), "progress": None}
        return out
