"""Benchmark the stock ledger; prints ONE JSON object.

Posting moves through ``server.stock.post_move`` (what every accepted move costs on the server, in
its own transaction as a push would) against a plain SQLite insert of the same rows, in the same run:

- ``append``: moves arriving in event order (the common case: appended, one row written);
- ``late``: moves arriving in reverse event order (the worst case: every one lands before all
  earlier rows of its warehouse × product, which are recomputed);
- ``rebuild``: dropping the table and recomputing it from the events.

Usage: ``python -m scripts.bench.stock_ledger_bench [--moves 5000] [--products 20]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from typing import Any

from scripts.bench.common import machine
from sync import ManualClock
from sync.clock import Hlc


def _moves(n: int, products: list[str], warehouse: str, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        kind = "in" if i % 3 == 0 else "out"
        out.append({"id": f"m{i:07d}", "hlc": Hlc(1_700_000_000_000 + i, 0, "bench").encode(), "kind": kind,
                    "warehouse_id": warehouse, "to_warehouse_id": None, "product_id": rng.choice(products),
                    "quantity": float(rng.randint(1, 9)), "unit_cost": float(rng.randint(10, 99)) if kind == "in" else None,
                    "reason": None, "ref_type": None, "ref_id": None, "moved_at": "2026-11-22T10:00:00+08:00",
                    "reverses_id": None, "operator_id": None, "author_id": "bench"})
    return out


def _post_all(moves: list[dict[str, Any]], tmp: str, name: str) -> tuple[float, Any]:
    from server import db, stock

    data = os.path.join(tmp, name)
    store = db.open_store(data, ManualClock())
    with store.write():
        warehouse = store.create("warehouse", {"code": "WH", "name": "bench"}, "bench", record_id="wh")
        for pid in sorted({m["product_id"] for m in moves}):
            store.create("product", {"code": pid, "name": pid, "price": 1.0}, "bench", record_id=pid)
    assert warehouse == "wh"
    start = time.perf_counter()
    for move in moves:
        with store.write():
            store.put_event("stock_move", move)
            stock.post_move(store, move)
    return time.perf_counter() - start, store


def _plain(moves: list[dict[str, Any]], tmp: str) -> float:
    conn = sqlite3.connect(os.path.join(tmp, "plain.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE moves (id TEXT PRIMARY KEY, hlc TEXT, kind TEXT, product_id TEXT, quantity REAL, unit_cost REAL)")
    start = time.perf_counter()
    for m in moves:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO moves VALUES (?, ?, ?, ?, ?, ?)",
                     [m["id"], m["hlc"], m["kind"], m["product_id"], m["quantity"], m["unit_cost"]])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=5000)
    parser.add_argument("--products", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(6)
    products = [f"P{i:03d}" for i in range(args.products)]
    moves = _moves(args.moves, products, "wh", rng)
    with tempfile.TemporaryDirectory() as tmp:
        from server import db, stock

        plain = _plain(moves, tmp)
        appended, store = _post_all(moves, tmp, "append")
        rows = stock.ledger_rows(store, "wh", None, limit=10 ** 9)[0]
        start = time.perf_counter()
        rebuilt = stock.rebuild(store)
        rebuild = time.perf_counter() - start
        same = stock.ledger_rows(store, "wh", None, limit=10 ** 9)[0] == rows
        db.close_store(os.path.join(tmp, "append"))
        late, late_store = _post_all(list(reversed(moves)), tmp, "late")
        late_same = stock.ledger_rows(late_store, "wh", None, limit=10 ** 9)[0] == rows
        db.close_store(os.path.join(tmp, "late"))
    n = len(moves)
    print(json.dumps({
        **machine(), "moves": n, "products": args.products, "moves_per_product": n // args.products,
        "plain_inserts_per_s": round(n / plain), "append_moves_per_s": round(n / appended),
        "append_ratio": round(appended / plain, 1), "late_moves_per_s": round(n / late), "late_ratio": round(late / plain, 1),
        "rebuild_moves_per_s": round(n / rebuild), "rebuild_rows": rebuilt, "rebuild_identical": same,
        "late_order_identical": late_same,
    }))


if __name__ == "__main__":
    main()
