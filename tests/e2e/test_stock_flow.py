"""End to end with real processes: the warehouse of issue 6 across a server and two kiosks.

A real ``fieldbook server`` and two ``fieldbook client`` processes enrolled with ``--warehouse WH01``
for two warehouse clerks; the boss sets up warehouses, a product and one unit on the server's API;
a purchasing user is told about negative balances. Offline = the server stopped.

1. Enrollment puts a kiosk in scope: it holds WH01's moves, not WH02's, and no customers.
2. Both kiosks ship the last unit offline; after sync the server's ledger shows both moves, the
   balance −1 flagged on the ledger and the level, and a ``stock_negative`` notification for the
   warehouse's clerks and purchasing.
3. A late move: kiosk A records an ``in`` of 5 offline; kiosk B records an out later, online, and
   syncs first (its balance is negative); A syncs last: its move takes its place before B's and the
   balances after it are recomputed; every kiosk computes the server's ledger.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from .harness import Api, Cluster, Proc, free_port, run

pytestmark = pytest.mark.e2e

BOSS = ("wang", "wang-pass-1", "boss")
CLERK_A = ("zhao", "zhao-pass-1", "warehouse")
CLERK_B = ("sun", "sun-pass-1", "warehouse")
BUYER = ("qian", "qian-pass-1", "purchasing")


def enroll_kiosk(cluster: Cluster, name: str, username: str, password: str, code: str) -> Proc:
    """``fieldbook enroll ... --warehouse CODE``, then the client process."""
    data = cluster.root / name
    run("enroll", "--data", str(data), "--server", cluster.server.url, "--username", username, "--password", password,
        "--name", name, "--warehouse", code)
    proc = Proc("client", data, free_port(), cluster.root / f"{name}.log")
    cluster.clients[name] = proc
    return proc.start()


def held(data: Path, table: str, where: str = "1", params: tuple[Any, ...] = ()) -> int:
    """Rows of a table in a kiosk's own database (what the device holds, not what its API shows)."""
    conn = sqlite3.connect(f"file:{data / 'client.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM [{table}] WHERE {where}", params).fetchone()[0])
    finally:
        conn.close()


def ledger(api: Api, warehouse_id: str, product_id: str) -> list[tuple[Any, ...]]:
    rows = api.get("/api/stock-ledger", params={"warehouse_id": warehouse_id, "product_id": product_id})["items"]
    return [(r["move_id"], r["quantity"], r["balance"], r["negative"]) for r in rows]


def test_two_offline_kiosks_ship_the_last_unit_and_a_late_move_takes_its_place(cluster: Cluster) -> None:
    started = time.monotonic()
    for username, password, role in (BOSS, CLERK_A, CLERK_B, BUYER):
        cluster.add_user(username, password, role)
    server = cluster.server
    boss = Api(server.url, *BOSS[:2])
    wh1 = boss.post("/api/warehouses", {"code": "WH01", "name": "一号仓库"})
    wh2 = boss.post("/api/warehouses", {"code": "WH02", "name": "二号仓库"})
    valve = boss.post("/api/products", {"code": "FM-100", "name": "球阀", "price": 300, "unit": "个"})
    wh, product = wh1["id"], valve["id"]
    first_in = boss.post("/api/stock_moves", {"kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 1,
                                              "unit_cost": 200, "moved_at": "2026-11-20T09:00:00+08:00"})
    boss.post("/api/stock_moves", {"kind": "in", "warehouse_id": wh2["id"], "product_id": product, "quantity": 7,
                                   "unit_cost": 210, "moved_at": "2026-11-20T09:00:00+08:00"})
    boss.post("/api/customers", {"kind": "company", "name": "宁波海川机电有限公司"})

    kiosk_a = enroll_kiosk(cluster, "kiosk_a", *CLERK_A[:2], "WH01")
    kiosk_b = enroll_kiosk(cluster, "kiosk_b", *CLERK_B[:2], "WH01")
    a, b = Api(kiosk_a.url, *CLERK_A[:2]), Api(kiosk_b.url, *CLERK_B[:2])
    a.sync()
    b.sync()

    # 1. the kiosk is in its warehouse's scope: WH01's moves, not WH02's, no customers
    for kiosk, api in ((kiosk_a, a), (kiosk_b, b)):
        assert held(kiosk.data, "stock_moves") == 1 and held(kiosk.data, "stock_moves", "id = ?", (first_in["id"],)) == 1
        assert held(kiosk.data, "stock_moves", "warehouse_id = ?", (wh2["id"],)) == 0
        assert held(kiosk.data, "customers") == 0
        assert {w["code"] for w in api.get("/api/warehouses")["items"]} == {"WH01", "WH02"}
        assert api.get("/api/stock_moves", params={"warehouse_id": wh})["total"] == 1

    # 2. offline, both kiosks ship the last unit
    server.stop()
    ship = {"kind": "out", "warehouse_id": wh, "product_id": product, "quantity": 1, "moved_at": "2026-11-21T10:00:00+08:00"}
    out_a = a.post("/api/stock_moves", {**ship, "reason": "发货 A"})
    time.sleep(0.05)
    out_b = b.post("/api/stock_moves", {**ship, "reason": "发货 B"})
    for api in (a, b):  # each kiosk alone still believes the unit was there
        assert [r[2] for r in ledger(api, wh, product)] == [1, 0]
    server.start()
    a.sync()
    b.sync()
    assert ledger(boss, wh, product) == [(first_in["id"], 1, 1, False), (out_a["id"], -1, 0, False), (out_b["id"], -1, -1, True)]
    assert boss.get("/api/stock-ledger", params={"warehouse_id": wh, "product_id": product})["negative"] is True
    level = boss.get("/api/stock", params={"warehouse_id": wh, "product_id": product})["items"]
    assert len(level) == 1 and level[0]["quantity"] == -1 and level[0]["negative"] is True
    for username, password, _ in (CLERK_A, CLERK_B, BUYER):
        told = [n for n in Api(server.url, username, password).get("/api/notifications")["items"] if n["kind"] == "stock_negative"]
        assert len(told) == 1 and told[0]["detail"]["warehouse_id"] == wh and told[0]["detail"]["product_id"] == product, username
        assert told[0]["detail"]["balance"] == -1
    assert not [n for n in boss.get("/api/notifications")["items"] if n["kind"] == "stock_negative"]
    a.sync()
    for api in (a, b):  # the kiosks compute the same ledger from the moves they hold
        assert ledger(api, wh, product) == ledger(boss, wh, product)
        assert api.get("/api/stock", params={"warehouse_id": wh})["items"][0]["quantity"] == -1

    # 3. a late move: A receives 5 offline; B ships 2 later, online, and syncs first; A syncs last
    server.stop()
    late_in = a.post("/api/stock_moves", {"kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 5,
                                          "unit_cost": 220, "moved_at": "2026-11-21T08:00:00+08:00", "reason": "补货"})
    server.start()
    time.sleep(0.05)
    out_b2 = b.post("/api/stock_moves", {**ship, "quantity": 2, "moved_at": "2026-11-21T11:00:00+08:00"})
    b.sync()
    assert ledger(boss, wh, product)[-1] == (out_b2["id"], -2, -3, True)  # before the late move arrives
    a.sync()
    rows = ledger(boss, wh, product)
    assert rows == [(first_in["id"], 1, 1, False), (out_a["id"], -1, 0, False), (out_b["id"], -1, -1, True),
                    (late_in["id"], 5, 4, False), (out_b2["id"], -2, 2, False)]  # placed before, the rest recomputed
    level = boss.get("/api/stock", params={"warehouse_id": wh, "product_id": product})["items"][0]
    assert level["quantity"] == 2 and level["negative"] is False and level["average_cost"] == 220
    b.sync()
    for api in (a, b):
        assert ledger(api, wh, product) == rows
        assert api.get("/api/stock", params={"warehouse_id": wh})["items"][0]["quantity"] == 2
    assert held(kiosk_b.data, "stock_moves") == 5 and held(kiosk_b.data, "customers") == 0
    assert time.monotonic() - started < 60
