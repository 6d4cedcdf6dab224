"""Warehouse operations over one replica store, the same on the server and on a kiosk (no HTTP).

Stock levels, the stock ledger, stock moves (record, reverse), outbound requests (ship whole or in
part; a shortage becomes a purchase request in one click), purchase orders (receive), purchase
requests and warehouses. What differs is injected as ``StockHooks``: rights, the kiosk's own
warehouse, the ledger (the server reads its table; a kiosk computes it from the moves it holds with
the same pure function), what happens after a write, and whether server-owned records (warehouses,
purchase orders) may be written here. Every multi-move write is one transaction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from shared.stock import ledger
from sync import RecordNotFound, ReplicaStore
from sync.clock import iso_from_ms

from .errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from .search import clean

User = Mapping[str, Any]
MOVE_FIELDS = ("id", "kind", "warehouse_id", "to_warehouse_id", "product_id", "quantity", "unit_cost", "reason",
               "ref_type", "ref_id", "moved_at", "reverses_id", "operator_id", "author_id", "hlc")
WAREHOUSE_FIELDS = ("id", "code", "name", "address")
REQUEST_FIELDS = ("id", "order_id", "order_number", "customer_name", "warehouse_id", "lines", "status", "delivery_date")
PO_FIELDS = ("id", "number", "supplier", "warehouse_id", "lines", "status", "expected_at")
PR_FIELDS = ("id", "product_id", "quantity", "warehouse_id", "reason", "ref_type", "ref_id", "status", "requested_by",
             "created_at")


@dataclass
class StockHooks:
    can: Callable[[User, str, str], bool] = lambda user, module, action: True
    warehouse_id: Callable[[], "str | None"] = lambda: None  # a kiosk's own warehouse
    ledger_rows: Callable[[str | None, str | None], list[dict[str, Any]]] | None = None  # the server's table
    after_write: Callable[[str, str], None] = lambda entity, record_id: None
    server: bool = False  # may write server-owned records (warehouses, purchase orders)
    # whether the user may see records of an entity at all (the server: by role; a device holds only those)
    may_see: Callable[[User, str], bool] = lambda user, entity: True


def _shape(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out = {n: row.get(n) for n in names}
    if "lines" in out:
        out["lines"] = json.loads(out["lines"] or "[]") if isinstance(out["lines"], str) else out["lines"] or []
    return out


class StockService:
    """One user's warehouse operations on one replica."""

    def __init__(self, store: ReplicaStore, user: User, hooks: StockHooks | None = None) -> None:
        self.store = store
        self.user = user
        self.hooks = hooks or StockHooks()

    @property
    def me(self) -> str:
        return str(self.user["id"])

    def require(self, module: str, action: str) -> None:
        if not self.hooks.can(self.user, module, action):
            raise Forbidden(f"You do not have the right {module}.{action}.", code="no_permission")

    def require_sees(self, entity: str) -> None:
        """403 unless the user's role sees this kind of record (a rep: levels only, never moves or costs)."""
        self.require("stock", "view")
        if not self.hooks.may_see(self.user, entity):
            raise Forbidden("Your role does not see these stock records.", code="no_permission")

    def _server_only(self) -> None:
        if not self.hooks.server:
            raise Unavailable("Warehouses and purchase orders are set up on the server.", code="online_only")

    # ---- warehouses ---------------------------------------------------------------------------
    def warehouses(self) -> list[dict[str, Any]]:
        return [_shape(r, WAREHOUSE_FIELDS) for r in self.store.db.query(
            "SELECT * FROM warehouses WHERE coalesce(deleted, 0) = 0 ORDER BY code")]

    def warehouse(self, warehouse_id: str) -> dict[str, Any]:
        row = self.store.db.execute("SELECT id FROM warehouses WHERE id = ? AND coalesce(deleted, 0) = 0", [warehouse_id]).fetchone()
        if row is None:
            raise NotFound("No such warehouse.", fields={"warehouse_id": ["No such warehouse."]})
        return _shape(self.store.get("warehouse", warehouse_id), WAREHOUSE_FIELDS)

    def save_warehouse(self, values: Mapping[str, Any], warehouse_id: str | None = None) -> dict[str, Any]:
        self._server_only()
        self.require("stock", "approve")
        with self.store.write():
            if "code" in values and self.store.db.execute(
                    "SELECT 1 FROM warehouses WHERE code = ? AND coalesce(deleted, 0) = 0 AND id != ?",
                    [values["code"], warehouse_id or ""]).fetchone():
                raise Conflict("Another warehouse has this code.", code="duplicate_code", fields={"code": ["Already used."]})
            if warehouse_id is None:
                warehouse_id = self.store.create("warehouse", dict(values), self.me)
            else:
                self.warehouse(warehouse_id)
                self.store.update("warehouse", warehouse_id, dict(values), self.me)
        return self.warehouse(warehouse_id)

    # ---- levels and the ledger ----------------------------------------------------------------
    def levels(self, warehouse_id: str | None = None, product_id: str | None = None, q: str | None = None,
               page: int = 1, per_page: int = 50) -> dict[str, Any]:
        """``GET /api/stock``: quantity per warehouse × product, the average cost where this replica
        holds it (never on a rep's device), and ``as_of`` (the server's time of the last change)."""
        self.require("stock", "view")
        where, params = ["1"], []
        for column, value in (("l.warehouse_id", warehouse_id), ("l.product_id", product_id)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if clean(q or ""):
            where.append("(p.code LIKE ? OR p.name LIKE ? OR p.barcode = ?)")
            params += [f"%{clean(q or '')}%", f"%{clean(q or '')}%", clean(q or "")]
        cond = " AND ".join(where)
        joins = "FROM stock_levels l LEFT JOIN products p ON p.id = l.product_id LEFT JOIN stock_costs c ON c.id = l.id"
        total = self.store.db.execute(f"SELECT count(*) {joins} WHERE {cond}", params).fetchone()[0]
        rows = self.store.db.query(
            f"SELECT l.*, c.average_cost, p.code AS product_code, p.name AS product_name, p.unit {joins} WHERE {cond}"
            " ORDER BY p.code, l.warehouse_id LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
        costs = self.hooks.may_see(self.user, "stock_cost")
        items = [{"warehouse_id": r["warehouse_id"], "product_id": r["product_id"], "product_code": r["product_code"],
                  "product_name": r["product_name"], "unit": r["unit"], "quantity": r["quantity"],
                  "average_cost": r["average_cost"] if costs else None, "negative": bool(r["negative"]),
                  "as_of": r["as_of"]} for r in rows]
        return {"items": items, "total": int(total)}

    def available(self, product_id: str, warehouse_id: str | None = None) -> float:
        """What a warehouse (or all) holds of a product. A kiosk holds every move of its own
        warehouse, so there it counts from its moves — including those not synced yet — rather
        than from the level the server sent at the last sync."""
        mine = self.hooks.warehouse_id()
        if mine is not None and warehouse_id == mine and self.hooks.ledger_rows is None:
            moves = [dict(r) for r in self.store.db.query(
                "SELECT * FROM stock_moves WHERE product_id = ? AND (warehouse_id = ? OR to_warehouse_id = ?)",
                [product_id, mine, mine])]
            rows = ledger.rows_for((mine, product_id), moves)
            return float(rows[-1]["balance"]) if rows else 0.0
        where, params = "product_id = ?", [product_id]
        if warehouse_id:
            where += " AND warehouse_id = ?"
            params.append(warehouse_id)
        row = self.store.db.execute(f"SELECT coalesce(sum(quantity), 0) FROM stock_levels WHERE {where}", params).fetchone()
        return float(row[0])

    def ledger(self, warehouse_id: str | None = None, product_id: str | None = None) -> dict[str, Any]:
        """``GET /api/stock-ledger``: rows in ledger order with balance, average cost and the flag.

        A kiosk computes it from the moves it holds, which are complete for its own warehouse only
        (a transfer names another warehouse, whose other moves the kiosk never holds): without a
        ``warehouse_id`` it is its own warehouse's ledger, and another warehouse's has no rows here."""
        self.require_sees("stock_move")
        if self.hooks.ledger_rows is not None:
            rows = self.hooks.ledger_rows(warehouse_id, product_id)
        elif (mine := self.hooks.warehouse_id()) is not None and warehouse_id not in (None, mine):
            rows = []
        else:
            warehouse_id = warehouse_id or mine
            where, params = ["1"], []
            if product_id:
                where.append("product_id = ?")
                params.append(product_id)
            if warehouse_id:
                where.append("(warehouse_id = ? OR to_warehouse_id = ?)")
                params += [warehouse_id, warehouse_id]
            moves = [dict(r) for r in self.store.db.query(f"SELECT * FROM stock_moves WHERE {' AND '.join(where)}", params)]
            rows = [r for key, key_rows in ledger.ledger(moves).items()
                    if (not warehouse_id or key[0] == warehouse_id) and (not product_id or key[1] == product_id)
                    for r in key_rows]
        return {"items": rows, "total": len(rows), "negative": any(r["negative"] for r in rows)}

    # ---- moves --------------------------------------------------------------------------------
    def moves(self, warehouse_id: str | None = None, product_id: str | None = None, kind: str | None = None,
              day: str | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        self.require_sees("stock_move")
        where, params = ["1"], []
        if warehouse_id:
            where.append("(m.warehouse_id = ? OR m.to_warehouse_id = ?)")
            params += [warehouse_id, warehouse_id]
        for column, value in (("m.product_id", product_id), ("m.kind", kind)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if day:
            where.append("substr(m.moved_at, 1, 10) = ?")
            params.append(day)
        cond = " AND ".join(where)
        total = self.store.db.execute(f"SELECT count(*) FROM stock_moves m WHERE {cond}", params).fetchone()[0]
        rows = self.store.db.query(
            f"SELECT m.*, p.code AS product_code, p.name AS product_name, EXISTS (SELECT 1 FROM stock_moves r WHERE r.reverses_id = m.id)"
            f" AS reversed FROM stock_moves m LEFT JOIN products p ON p.id = m.product_id WHERE {cond}"
            " ORDER BY m.hlc DESC, m.id DESC LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
        items = [{**_shape(r, MOVE_FIELDS), "product_code": r["product_code"], "product_name": r["product_name"],
                  "reversed": bool(r["reversed"]), "pending": bool(self.store.pending_for("stock_move", r["id"]))} for r in rows]
        return {"items": items, "total": int(total)}

    def move(self, move_id: str) -> dict[str, Any]:
        self.require_sees("stock_move")
        row = self.store.event_row("stock_move", move_id)
        if row is None:
            raise NotFound("No such stock move.")
        return _shape(row, MOVE_FIELDS)

    def _check_move(self, values: Mapping[str, Any]) -> None:
        mine = self.hooks.warehouse_id()
        for name in ("warehouse_id", "to_warehouse_id"):
            if values.get(name):
                self.warehouse(values[name])
        if mine is not None and values["warehouse_id"] != mine:
            raise Forbidden("This kiosk records moves of its own warehouse only.", code="other_warehouse")
        try:
            product = self.store.get("product", values["product_id"])
        except RecordNotFound:
            product = None
        if product is None or product.get("deleted"):
            raise Invalid("No such product.", fields={"product_id": ["No such product."]})

    def record_move(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Record one move (an event: never edited; correct it with ``reverse``)."""
        self.require("stock", "edit")
        self._check_move(values)
        full = {"operator_id": self.me, "moved_at": iso_from_ms(self.store.now_ms()), **values}
        with self.store.write():
            if values.get("reverses_id"):
                self._check_reversal(values)
            move_id = self.store.add_event("stock_move", full, self.me)
            self.hooks.after_write("stock_move", move_id)
        return self.move(move_id)

    def _check_reversal(self, values: Mapping[str, Any]) -> None:
        """A move with ``reverses_id`` must copy a move that is not a reversal and not reversed yet
        (the same checks the server's sync rules make)."""
        original = self.store.event_row("stock_move", str(values["reverses_id"]))
        if original is None:
            raise NotFound("No such stock move to reverse.", fields={"reverses_id": ["No such stock move."]})
        if original.get("reverses_id"):
            raise Conflict("A reversal is not reversed; record a new move instead.", code="is_reversal")
        same = all(original.get(k) == values.get(k) for k in ("kind", "warehouse_id", "product_id")) and \
            (original.get("to_warehouse_id") or None) == (values.get("to_warehouse_id") or None)
        if not same or ledger.milli(original["quantity"]) != ledger.milli(values["quantity"]):
            raise Invalid("A reversal copies the move it reverses.", code="reversal_mismatch",
                          fields={"reverses_id": ["Another kind, warehouse, product or quantity."]})
        if self.store.db.execute("SELECT 1 FROM stock_moves WHERE reverses_id = ?", [values["reverses_id"]]).fetchone():
            raise Conflict("This move was already reversed.", code="already_reversed")

    def reverse(self, move_id: str, reason: str | None = None) -> dict[str, Any]:
        """A reversal of a wrong move: the same move with the opposite effect, pointing at it."""
        self.require("stock", "edit")
        with self.store.write():
            original = self.move(move_id)
            if original.get("reverses_id"):
                raise Conflict("A reversal is not reversed; record a new move instead.", code="is_reversal")
            if self.store.db.execute("SELECT 1 FROM stock_moves WHERE reverses_id = ?", [move_id]).fetchone():
                raise Conflict("This move was already reversed.", code="already_reversed")
            copy = {k: original[k] for k in ("kind", "warehouse_id", "to_warehouse_id", "product_id", "quantity", "unit_cost",
                                              "ref_type", "ref_id")}
            return self.record_move({**copy, "reverses_id": move_id, "reason": reason or None})

    # ---- outbound -----------------------------------------------------------------------------
    def _open_documents(self, table: str, order: str, warehouse_id: str | None, status: str | None, page: int,
                        per_page: int) -> tuple[list[dict[str, Any]], int]:
        """Rows of outbound requests or purchase orders of a warehouse (a kiosk: its own), by status
        (``pending``: not done yet)."""
        self.require_sees(self.store.registry.by_plural(table).name)  # type: ignore[union-attr]
        where, params = ["coalesce(deleted, 0) = 0"], []
        warehouse_id = warehouse_id or self.hooks.warehouse_id()
        if warehouse_id:
            where.append("warehouse_id = ?")
            params.append(warehouse_id)
        if status == "pending":
            where.append("status != 'done'")
        elif status:
            where.append("status = ?")
            params.append(status)
        cond = " AND ".join(where)
        total = self.store.db.execute(f"SELECT count(*) FROM [{table}] WHERE {cond}", params).fetchone()[0]
        rows = self.store.db.query(f"SELECT * FROM [{table}] WHERE {cond} ORDER BY {order}, id LIMIT ? OFFSET ?",
                                   [*params, per_page, (page - 1) * per_page])
        return [dict(r) for r in rows], int(total)

    def outbound_requests(self, warehouse_id: str | None = None, status: str | None = None,
                          page: int = 1, per_page: int = 50) -> dict[str, Any]:
        rows, total = self._open_documents("outbound_requests", "delivery_date", warehouse_id, status, page, per_page)
        return {"items": [self._with_local_progress(r) for r in rows], "total": total}

    def outbound_request(self, request_id: str) -> dict[str, Any]:
        self.require_sees("outbound_request")
        try:
            row = self.store.get("outbound_request", request_id)
        except RecordNotFound:
            raise NotFound("No such outbound request.") from None
        return self._with_local_progress(row)

    def _progress(self, out: dict[str, Any], ref_type: str, ref_id: str, kind: str) -> dict[str, Any]:
        """``done`` and ``remaining`` per line from the moves this replica holds that reference the
        request (ahead of the server's count while they wait to sync), and the status they give."""
        moved: dict[str, int] = {}
        for move in self.store.db.query("SELECT product_id, quantity, reverses_id FROM stock_moves WHERE ref_type = ?"
                                        " AND ref_id = ? AND kind = ?", [ref_type, ref_id, kind]):
            sign = -1 if move["reverses_id"] else 1
            moved[move["product_id"]] = moved.get(move["product_id"], 0) + sign * ledger.milli(move["quantity"])
        for line in out["lines"]:
            done = max(ledger.milli(line.get("done") or 0), moved.get(line["product_id"], 0))
            line["done"] = done / 1000
            line["remaining"] = max(0, ledger.milli(line["quantity"]) - done) / 1000
        if out["lines"] and all(l["remaining"] == 0 for l in out["lines"]):
            out["status"] = "done"
        elif any(l["done"] for l in out["lines"]) and out["status"] == "open":
            out["status"] = "partial"
        return out

    def _with_local_progress(self, row: dict[str, Any]) -> dict[str, Any]:
        """An outbound request with what has shipped, what is left and what the warehouse holds."""
        out = self._progress(_shape(row, REQUEST_FIELDS), "order", row["order_id"], "out")
        for line in out["lines"]:
            line["available"] = self.available(line["product_id"], row["warehouse_id"])
        return out

    @staticmethod
    def _wanted(lines: list[Mapping[str, Any]] | None, open_lines: list[dict[str, Any]], what: str) -> list[Mapping[str, Any]]:
        """The lines to ship or receive: all that is left (``lines`` None) or the given ones, each
        on the request and no more than is left (``Invalid`` naming the line otherwise)."""
        left = {l["product_id"]: l["remaining"] for l in open_lines}
        wanted = [{"product_id": p, "quantity": q} for p, q in left.items() if q > 0] if lines is None else list(lines)
        problems = {}
        claimed: dict[str, int] = {}  # thousandths asked so far per product (two lines may name one product)
        for index, line in enumerate(wanted):
            if line["product_id"] not in left:
                problems[str(index)] = {"product_id": [f"Not on this {what}."]}
                continue
            claimed[line["product_id"]] = claimed.get(line["product_id"], 0) + ledger.milli(line["quantity"])
            if claimed[line["product_id"]] > ledger.milli(left[line["product_id"]]):
                problems[str(index)] = {"quantity": [f"More than what is left ({left[line['product_id']]})."]}
        if problems:
            raise Invalid("A line cannot be moved.", fields={"lines": problems})
        return [l for l in wanted if ledger.milli(l["quantity"]) > 0]

    def ship(self, request_id: str, lines: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Ship an outbound request whole (``lines`` None) or in part, as out moves in one transaction.
        Returns the request, the moves, and the shortages (what this warehouse lacks for it)."""
        self.require("stock", "edit")
        with self.store.write():
            request = self.outbound_request(request_id)
            wanted = self._wanted(lines, request["lines"], "request")
            if not wanted:
                raise Conflict("Everything on this request has shipped.", code="already_shipped")
            moves = [self.record_move({"kind": "out", "warehouse_id": request["warehouse_id"], "product_id": l["product_id"],
                                       "quantity": float(l["quantity"]), "ref_type": "order", "ref_id": request["order_id"],
                                       "reason": request.get("order_number")})  # the number, not words: data in no language
                     for l in wanted]
            shortages = self.shortages(request_id)
        return {"request": self.outbound_request(request_id), "moves": moves, "shortages": shortages}

    def shortages(self, request_id: str) -> list[dict[str, Any]]:
        """Lines whose remaining quantity is more than the warehouse holds (as of the last sync)."""
        request = self.outbound_request(request_id)
        out = []
        for line in request["lines"]:
            if line["remaining"] > 0 and line["available"] < line["remaining"]:
                out.append({"product_id": line["product_id"], "remaining": line["remaining"], "available": line["available"],
                            "short": round(line["remaining"] - max(line["available"], 0), 3)})
        return out

    # ---- purchase requests and orders ---------------------------------------------------------
    def purchase_requests(self, warehouse_id: str | None = None, status: str | None = None,
                          page: int = 1, per_page: int = 50) -> dict[str, Any]:
        self.require_sees("purchase_request")
        where, params = ["coalesce(deleted, 0) = 0"], []
        for column, value in (("warehouse_id", warehouse_id or self.hooks.warehouse_id()), ("status", status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        cond = " AND ".join(where)
        total = self.store.db.execute(f"SELECT count(*) FROM purchase_requests WHERE {cond}", params).fetchone()[0]
        rows = self.store.db.query(f"SELECT * FROM purchase_requests WHERE {cond} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                                   [*params, per_page, (page - 1) * per_page])
        return {"items": [_shape(r, PR_FIELDS) for r in rows], "total": int(total)}

    def request_purchase(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A purchase request (e.g. one click from a shortage on an outbound)."""
        if not (self.hooks.can(self.user, "stock", "edit") or self.hooks.can(self.user, "purchasing", "edit")):
            raise Forbidden("You may not request purchases.", code="no_permission")
        self.warehouse(values["warehouse_id"])
        try:
            self.store.get("product", values["product_id"])
        except RecordNotFound:
            raise Invalid("No such product.", fields={"product_id": ["No such product."]}) from None
        full = {"status": "open", "requested_by": self.me, "created_at": iso_from_ms(self.store.now_ms()), **values}
        with self.store.write():
            pr_id = self.store.create("purchase_request", full, self.me)
            self.hooks.after_write("purchase_request", pr_id)
        return _shape(self.store.get("purchase_request", pr_id), PR_FIELDS)

    def shortage_to_purchase(self, request_id: str) -> list[dict[str, Any]]:
        """One purchase request per short line of an outbound request (not twice for the same line)."""
        with self.store.write():
            request = self.outbound_request(request_id)
            made = []
            for short in self.shortages(request_id):
                exists = self.store.db.execute(
                    "SELECT 1 FROM purchase_requests WHERE ref_type = 'order' AND ref_id = ? AND product_id = ?"
                    " AND status = 'open' AND coalesce(deleted, 0) = 0", [request["order_id"], short["product_id"]]).fetchone()
                if exists:
                    continue
                made.append(self.request_purchase({
                    "product_id": short["product_id"], "quantity": short["short"], "warehouse_id": request["warehouse_id"],
                    "reason": request.get("order_number"),
                    "ref_type": "order", "ref_id": request["order_id"]}))
            return made

    def purchase_orders(self, warehouse_id: str | None = None, status: str | None = None,
                        page: int = 1, per_page: int = 50) -> dict[str, Any]:
        rows, total = self._open_documents("purchase_orders", "expected_at", warehouse_id, status, page, per_page)
        return {"items": [self._po_progress(r) for r in rows], "total": total}

    def purchase_order(self, po_id: str) -> dict[str, Any]:
        self.require_sees("purchase_order")
        try:
            return self._po_progress(self.store.get("purchase_order", po_id))
        except RecordNotFound:
            raise NotFound("No such purchase order.") from None

    def _po_progress(self, row: dict[str, Any]) -> dict[str, Any]:
        return self._progress(_shape(row, PO_FIELDS), "purchase", row["id"], "in")

    def create_purchase_order(self, values: Mapping[str, Any]) -> dict[str, Any]:
        self._server_only()
        self.require("purchasing", "edit")
        self.warehouse(values["warehouse_id"])
        ids = [l["product_id"] for l in values["lines"]]
        known = {r[0] for r in self.store.db.execute(
            f"SELECT id FROM products WHERE coalesce(deleted, 0) = 0 AND id IN ({', '.join('?' for _ in ids)})", ids)}
        unknown = {str(i): {"product_id": ["No such product."]} for i, pid in enumerate(ids) if pid not in known}
        if unknown:
            raise Invalid("A line names an unknown product.", fields={"lines": unknown})
        twice = {str(i): {"product_id": ["Already on an earlier line."]} for i, pid in enumerate(ids) if pid in ids[:i]}
        if twice:  # progress is counted per product: one line per product
            raise Invalid("A product is on more than one line; put its whole quantity on one line.", fields={"lines": twice})
        lines = [{"product_id": l["product_id"], "quantity": float(l["quantity"]), "done": 0.0,
                  "unit_cost": l.get("unit_cost")} for l in values["lines"]]
        with self.store.write():
            po_id = self.store.create("purchase_order", {**values, "lines": json.dumps(lines), "status": "open"}, self.me)
        return self.purchase_order(po_id)

    def receive(self, po_id: str, lines: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Receive against a purchase order (whole or in part) as in moves at the line's unit cost."""
        self.require("stock", "edit")
        with self.store.write():
            po = self.purchase_order(po_id)
            costs = {l["product_id"]: l.get("unit_cost") for l in po["lines"]}
            wanted = self._wanted(lines, po["lines"], "purchase order")
            if not wanted:
                raise Conflict("Everything on this purchase order was received.", code="already_received")
            moves = [self.record_move({
                "kind": "in", "warehouse_id": po["warehouse_id"], "product_id": l["product_id"], "quantity": float(l["quantity"]),
                "unit_cost": l.get("unit_cost") if l.get("unit_cost") is not None else costs[l["product_id"]],
                "ref_type": "purchase", "ref_id": po_id, "reason": po.get("number")})
                for l in wanted]
        return {"purchase_order": self.purchase_order(po_id), "moves": moves}
