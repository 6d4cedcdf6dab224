"""The server's side of the warehouse (no HTTP): the stock ledger table, stock levels and costs
replicated to devices, outbound requests for approved orders, receiving against purchase orders,
the negative-balance flag, and the sync rules for stock records.

Every accepted stock move (pushed by a kiosk or written here) is posted by ``post_move`` inside the
writing transaction: a move later than everything of its warehouse × product is appended; one that
arrives late (an offline kiosk) makes the key's rows be recomputed from the moves, so it takes its
place by event time and every balance after it changes. ``rebuild`` drops the table and recomputes
it from the ``stock_moves`` events: the same rows (a property test checks). A row going negative is
flagged on the ledger, on the ``stock_level`` record, and by a notification to the warehouse's staff
and purchasing.
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Mapping

import sqlite_utils

from shared.stock import ledger
from sync import RecordDiff, ServerStore, Verdict
from sync.clock import iso_from_ms

from . import notifications, org, users
from .db import migrations

AUTHOR = "server"
SERVER_OWNED = ("warehouse", "stock_level", "stock_cost", "outbound_request", "purchase_order")
ALL_STOCK_ROLES = frozenset({"boss", "admin", "purchasing", "finance"})
COST_ROLES = frozenset({"boss", "admin", "purchasing", "finance", "warehouse"})


@migrations(name="stock_ledger")
def _stock_ledger(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE stock_ledger (warehouse_id TEXT NOT NULL, product_id TEXT NOT NULL, hlc TEXT NOT NULL,"
               " move_id TEXT NOT NULL, kind TEXT NOT NULL, moved_at TEXT, reverses_id TEXT, quantity REAL NOT NULL,"
               " balance REAL NOT NULL, average_cost REAL, negative INTEGER NOT NULL,"
               " PRIMARY KEY (warehouse_id, product_id, hlc, move_id))")


_KEY_NAMESPACE = uuid.UUID("8f6c1a52-3d0e-4f4b-9a57-2b1de0c6a0f1")


def key_id(warehouse_id: str, product_id: str) -> str:
    """The id of a warehouse × product's level and cost records (deterministic, ≤ 64 characters)."""
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{warehouse_id}:{product_id}"))


# ---- the ledger ---------------------------------------------------------------------------------
def _moves_for(store: ServerStore, key: tuple[str, str]) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.query(
        "SELECT * FROM stock_moves WHERE product_id = ? AND (warehouse_id = ? OR to_warehouse_id = ?)",
        [key[1], key[0], key[0]])]


def _insert_rows(store: ServerStore, rows: list[dict[str, Any]]) -> None:
    store.db.conn.executemany(
        "INSERT OR REPLACE INTO stock_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r["warehouse_id"], r["product_id"], r["hlc"], r["move_id"], r["kind"], r["moved_at"], r["reverses_id"],
          r["quantity"], r["balance"], r["average_cost"], int(r["negative"])) for r in rows])


def _write_rows(store: ServerStore, key: tuple[str, str], rows: list[dict[str, Any]]) -> None:
    store.db.execute("DELETE FROM stock_ledger WHERE warehouse_id = ? AND product_id = ?", list(key))
    _insert_rows(store, rows)


def post_move(store: ServerStore, move: Mapping[str, Any]) -> None:
    """Put one stored move in the ledger: appended after the last row of its warehouse × product
    (one row computed from that row), or — when it arrived late — the key recomputed from its moves."""
    with store.write():
        for key in dict.fromkeys(ledger.keys(move)):
            last = store.db.execute(
                "SELECT hlc, move_id, balance, average_cost FROM stock_ledger WHERE warehouse_id = ? AND product_id = ?"
                " ORDER BY hlc DESC, move_id DESC LIMIT 1", list(key)).fetchone()
            was_negative = _negative_now(store, key)
            if last is None or ledger.order_key(move) > (last[0], last[1]):
                rows = ledger.rows_after(key, move, *ledger.state(
                    None if last is None else {"balance": last[2], "average_cost": last[3]}))
                _insert_rows(store, rows)
            else:
                rows = ledger.rows_for(key, _moves_for(store, key))
                _write_rows(store, key, rows)
            _publish(store, key, rows[-1] if rows else None, was_negative)
        follow_up(store, move)


def _negative_now(store: ServerStore, key: tuple[str, str]) -> bool:
    row = store.db.execute("SELECT negative FROM stock_levels WHERE id = ?", [key_id(*key)]).fetchone()
    return bool(row and row[0])


def _publish(store: ServerStore, key: tuple[str, str], final: Mapping[str, Any] | None, was_negative: bool) -> None:
    """Refresh the replicated level and cost of one key from its last row; flag a balance that
    went below zero (past dips stay flagged on their own rows)."""
    balance = final["balance"] if final else 0.0
    negative = bool(final and final["negative"])
    level = {"warehouse_id": key[0], "product_id": key[1], "quantity": balance, "negative": negative,
             "as_of": iso_from_ms(store.now_ms())}
    _upsert(store, "stock_level", key_id(*key), level)
    _upsert(store, "stock_cost", key_id(*key), {"warehouse_id": key[0], "product_id": key[1],
                                                "average_cost": final["average_cost"] if final else None})
    if negative and not was_negative:
        _flag_negative(store, key, balance)


def _upsert(store: ServerStore, entity: str, record_id: str, values: Mapping[str, Any]) -> None:
    table = store.registry[entity].table
    if store.db.execute(f"SELECT 1 FROM [{table}] WHERE id = ?", [record_id]).fetchone() is None:
        store.create(entity, dict(values), AUTHOR, record_id=record_id)
    else:
        store.update(entity, record_id, dict(values), AUTHOR)


def _flag_negative(store: ServerStore, key: tuple[str, str], balance: float) -> None:
    """Tell the warehouse's staff and purchasing that a balance went below zero."""
    product = store.db.execute("SELECT code, name FROM products WHERE id = ?", [key[1]]).fetchone()
    warehouse = store.db.execute("SELECT code FROM warehouses WHERE id = ?", [key[0]]).fetchone()
    detail = {"warehouse_id": key[0], "product_id": key[1], "balance": balance,
              "product": f"{product[0]} {product[1]}" if product else key[1], "warehouse": warehouse[0] if warehouse else key[0]}
    users = store.db.execute(
        "SELECT DISTINCT u.id FROM users u LEFT JOIN devices d ON d.user_id = u.id AND d.revoked = 0"
        " WHERE u.active = 1 AND (u.role = 'purchasing' OR (u.role = 'warehouse' AND (d.warehouse IS NULL OR d.warehouse = ?)))",
        [detail["warehouse"]]).fetchall()
    for (user_id,) in users:
        notifications.notify(store, user_id, "stock_negative", None, detail)


def rebuild(store: ServerStore) -> int:
    """Drop and recompute the whole ledger from the moves; returns the row count."""
    with store.write():
        store.db.execute("DELETE FROM stock_ledger")
        moves = [dict(r) for r in store.db.query("SELECT * FROM stock_moves")]
        for key, rows in ledger.ledger(moves).items():
            _write_rows(store, key, rows)
        return int(store.db.execute("SELECT count(*) FROM stock_ledger").fetchone()[0])


def ledger_rows(store: ServerStore, warehouse_id: str | None = None, product_id: str | None = None,
                limit: int = 500, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    where, params = ["1"], []
    if warehouse_id:
        where.append("warehouse_id = ?")
        params.append(warehouse_id)
    if product_id:
        where.append("product_id = ?")
        params.append(product_id)
    cond = " AND ".join(where)
    total = store.db.execute(f"SELECT count(*) FROM stock_ledger WHERE {cond}", params).fetchone()[0]
    rows = [dict(r) for r in store.db.query(
        f"SELECT * FROM stock_ledger WHERE {cond} ORDER BY warehouse_id, product_id, hlc, move_id LIMIT ? OFFSET ?",
        [*params, limit, offset])]
    for row in rows:
        row["negative"] = bool(row["negative"])
    return rows, int(total)


# ---- outbound and inbound -----------------------------------------------------------------------
def default_warehouse(store: ServerStore) -> str | None:
    row = store.db.execute("SELECT id FROM warehouses WHERE coalesce(deleted, 0) = 0 ORDER BY code LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def open_outbound(store: ServerStore, order_id: str) -> str | None:
    """The outbound request of an approved order that asked for one (idempotent; None: nothing to ship)."""
    with store.write():
        order = store.get("sales_order", order_id)
        if order.get("status") != "approved" or not order.get("outbound_requested"):
            return None
        warehouse = order.get("warehouse_id")
        if not warehouse or store.db.execute("SELECT 1 FROM warehouses WHERE id = ? AND coalesce(deleted, 0) = 0",
                                             [warehouse]).fetchone() is None:
            warehouse = default_warehouse(store)  # none named, or one that is gone (a device may name anything)
        if warehouse is None:
            return None
        request_id = f"ob-{order_id}"
        if store.db.execute("SELECT 1 FROM outbound_requests WHERE id = ?", [request_id]).fetchone():
            return request_id
        customer = store.db.execute("SELECT name FROM customers WHERE id = ?", [order["customer_id"]]).fetchone()
        wanted: dict[str, float] = {}
        for line in json.loads(order.get("lines") or "[]"):
            wanted[line["product_id"]] = wanted.get(line["product_id"], 0.0) + float(line["quantity"])
        lines = [{"product_id": p, "quantity": q, "done": 0.0} for p, q in wanted.items()]
        store.create("outbound_request", {
            "order_id": order_id, "order_number": order.get("number"), "customer_name": customer[0] if customer else None,
            "warehouse_id": warehouse, "lines": json.dumps(lines), "status": "open", "delivery_date": order.get("delivery_date"),
        }, AUTHOR, record_id=request_id)
        return request_id


def _progress(store: ServerStore, entity: str, record_id: str, ref_type: str, kinds: tuple[str, ...]) -> None:
    """Recount what the moves referencing a request shipped (or received) and set its status."""
    table = store.registry[entity].table
    row = store.db.execute(f"SELECT lines, warehouse_id FROM [{table}] WHERE id = ?", [record_id]).fetchone()
    if row is None:
        return
    ref_id = store.db.execute(f"SELECT {'order_id' if entity == 'outbound_request' else 'id'} FROM [{table}] WHERE id = ?",
                              [record_id]).fetchone()[0]
    done: dict[str, int] = {}
    for move in store.db.query(f"SELECT * FROM stock_moves WHERE ref_type = ? AND ref_id = ? AND kind IN ({', '.join('?' for _ in kinds)})",
                               [ref_type, ref_id, *kinds]):
        sign = -1 if move["reverses_id"] else 1
        done[move["product_id"]] = done.get(move["product_id"], 0) + sign * ledger.milli(move["quantity"])
    lines = json.loads(row[0] or "[]")
    for line in lines:
        line["done"] = done.get(line["product_id"], 0) / 1000
    finished = all(ledger.milli(l["done"]) >= ledger.milli(l["quantity"]) for l in lines)
    started = any(ledger.milli(l["done"]) > 0 for l in lines)
    status = "done" if finished else "partial" if started else "open"
    store.update(entity, record_id, {"lines": json.dumps(lines), "status": status}, AUTHOR)


def follow_up(store: ServerStore, move: Mapping[str, Any]) -> None:
    """A move shipping an order or receiving a purchase advances that request."""
    if move.get("ref_type") == "order" and move["kind"] == "out" and move.get("ref_id"):
        request = store.db.execute("SELECT id FROM outbound_requests WHERE order_id = ?", [move["ref_id"]]).fetchone()
        if request:
            _progress(store, "outbound_request", request[0], "order", ("out",))
    elif move.get("ref_type") == "purchase" and move["kind"] == "in" and move.get("ref_id"):
        _progress(store, "purchase_order", move["ref_id"], "purchase", ("in",))


def after_write(store: ServerStore, entity: str, record_id: str) -> None:
    """What the server does after any write of a stock record (pushed or its own)."""
    if entity == "stock_move":
        move = store.event_row("stock_move", record_id)
        if move is not None:
            post_move(store, move)


# ---- scope and rules -------------------------------------------------------------------------------
def device_warehouse(store: ServerStore, device_id: str) -> str | None:
    """The id of the warehouse a kiosk was enrolled for (``--warehouse CODE``), if any."""
    row = store.db.execute("SELECT w.id FROM devices d JOIN warehouses w ON w.code = d.warehouse"
                           " WHERE d.id = ? AND coalesce(w.deleted, 0) = 0", [device_id]).fetchone()
    return None if row is None else str(row[0])


def visible(user: Mapping[str, Any], entity: str, values: Mapping[str, Any]) -> bool | None:
    """Scope of stock records (None: not a stock entity). ``user["device_warehouse"]``: the kiosk's."""
    role = user.get("role")
    kiosk = user.get("device_warehouse")
    if entity in ("warehouse", "stock_level"):
        return True
    if entity == "stock_cost":
        return role in COST_ROLES
    if entity in ("stock_move", "outbound_request", "purchase_order", "purchase_request"):
        if role in ALL_STOCK_ROLES:
            return True
        if role != "warehouse":
            return False
        if kiosk is None:
            return True  # a warehouse user on a laptop sees every warehouse
        return kiosk in (values.get("warehouse_id"), values.get("to_warehouse_id"))
    return None


def verdict(store: ServerStore, user: Mapping[str, Any], can: Callable[[str, str], bool], diff: RecordDiff) -> Verdict | None:
    """Judge a pushed stock record (None: not a stock entity)."""
    if diff.entity in SERVER_OWNED:
        if diff.is_new:
            return Verdict.refuse("no_permission")
        return Verdict(rejected_fields={c.field: "no_permission" for c in diff.changes})
    if diff.entity == "purchase_request":
        if not (can("stock", "edit") or can("purchasing", "edit")):
            return Verdict.refuse("no_permission") if diff.is_new else Verdict(rejected_fields={c.field: "no_permission" for c in diff.changes})
        return Verdict.accept()
    if diff.entity != "stock_move":
        return None
    move = {c.field: c.new for c in diff.changes}
    reason = move_refusal(store, user, can, move)
    return Verdict.refuse(reason) if reason else Verdict.accept()


def _operator_may_move(store: ServerStore, user_id: str) -> bool:
    operator = users.get_user(store, user_id)
    return bool(operator and operator.get("active")) and "stock.edit" in org.rights(store, operator)


def move_refusal(store: ServerStore, user: Mapping[str, Any], can: Callable[[str, str], bool],
                 move: Mapping[str, Any]) -> str | None:
    """Why a stock move may not be recorded (None: it may)."""
    if not can("stock", "edit"):
        return "no_permission"
    operator = move.get("operator_id")
    if operator and operator != user.get("id") and not _operator_may_move(store, str(operator)):
        return "operator_not_allowed"  # someone who switched in on a shared kiosk must hold stock.edit too
    kiosk = user.get("device_warehouse")
    if kiosk is not None and move.get("warehouse_id") != kiosk:
        return "other_warehouse"
    for wh in (move.get("warehouse_id"), move.get("to_warehouse_id")):
        if wh and store.db.execute("SELECT 1 FROM warehouses WHERE id = ? AND coalesce(deleted, 0) = 0", [wh]).fetchone() is None:
            return "unknown_warehouse"
    if store.db.execute("SELECT 1 FROM products WHERE id = ?", [move.get("product_id")]).fetchone() is None:
        return "unknown_product"
    if move.get("reverses_id"):
        original = store.event_row("stock_move", str(move["reverses_id"]))
        if original is None or original.get("reverses_id"):
            return "unknown_move"
        same = all(original.get(k) == move.get(k) for k in ("kind", "warehouse_id", "to_warehouse_id", "product_id"))
        if not same or ledger.milli(original["quantity"]) != ledger.milli(move["quantity"]):
            return "reversal_mismatch"
        if store.db.execute("SELECT 1 FROM stock_moves WHERE reverses_id = ?", [move["reverses_id"]]).fetchone():
            return "already_reversed"
    return None
