"""Property test: approval decisions through sync, in random delivery orders (issue 5).

A rep with two devices and a manager (sales_manager + sales_approval) with one, all syncing with a
real server app over the Flask test client; the boss decides on the server too. Hypothesis writes
random offline creates, edits, submits, decisions and syncs. After everyone syncs:

- every replica holds the same status, number, lines and total for every order, and the number is
  the server's final one;
- every order's total is its lines' sum (no replica shows a mixed merge);
- no approved order's content differs from the version its accepted approval carried;
- every decision the manager took offline either stands on the server or comes back to the
  manager's device as a rejection.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from server import create_app, db, org, sales_web, users
from shared.sales import workflow
from shared.sales.money import fen, priced_lines
from shared.web.errors import ApiError
from shared.web.sales_service import SalesService
from sync import ManualClock

from .sales_world import PASSWORD, SyncedDevice

EXAMPLES = int(os.environ.get("SALES_SYNC_PROP_EXAMPLES", "20"))

device = st.integers(0, 2)  # 0, 1: the rep's devices; 2: the manager's
pick = st.integers(0, 20)
line = st.tuples(st.integers(1, 9), st.integers(1, 500))
ops = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 1), st.lists(line, min_size=1, max_size=2)),
    st.tuples(st.just("edit"), st.integers(0, 1), pick, st.lists(line, min_size=1, max_size=2)),
    st.tuples(st.just("submit"), st.integers(0, 1), pick),
    st.tuples(st.just("submit"), st.integers(0, 1), pick),
    st.tuples(st.just("decide"), pick, st.sampled_from(["approve", "approve", "reject"])),
    st.tuples(st.just("decide"), pick, st.sampled_from(["approve", "approve", "reject"])),
    st.tuples(st.just("boss"), pick, st.sampled_from(["approve", "reject"])),
    st.tuples(st.just("sync"), device),
    st.tuples(st.just("sync"), device),
    st.tuples(st.just("sync"), device),
    st.tuples(st.just("tick"), st.integers(1, 120_000)),
    *[st.tuples(st.just("relay"), st.integers(0, 1))] * 3,  # a rep's device syncs, then the manager's
)


class SyncWorld:
    def __init__(self, root: str) -> None:
        self.root = root
        self.clock = ManualClock()
        self.app = create_app({"TESTING": True, "DATA_DIR": f"{root}/server", "ADMIN_PASSWORD": "admin-secret",
                               "CLOCK": self.clock})
        client = self.app.test_client()
        with self.app.app_context():
            self.store = db.get_store()
        rep = users.create_user(self.store, "rep", PASSWORD, "sales_rep")
        manager = users.create_user(self.store, "manager", PASSWORD, "sales_manager")
        boss = users.create_user(self.store, "boss", PASSWORD, "boss")
        org.set_user_role(self.store, manager["id"], "sales_approval", True)
        self.boss = SalesService(self.store, org.enrich(self.store, boss), sales_web.hooks(self.store))
        self.product = self.boss.create_product({"code": "P1", "name": "阀门", "price": 10})["id"]
        self.devices = [SyncedDevice(client, f"{root}/{name}.db", self.clock, user)
                        for name, user in (("rep_a", "rep"), ("rep_b", "rep"), ("manager", "manager"))]
        self.customer = self.devices[0].store.create("customer", {"kind": "company", "name": "客户", "owner_id": rep["id"]},
                                                     rep["id"])
        for d in (0, 1, 2, 0):
            self.devices[d].sync()
        self.orders: list[str] = []
        self.decisions: list[str] = []  # approval event ids taken on the manager's device

    def close(self) -> None:
        for d in self.devices:
            d.store.db.conn.close()
        db.close_store(f"{self.root}/server")

    def lines(self, raw: list[tuple[int, int]]) -> list[dict[str, Any]]:
        return [{"product_id": self.product, "quantity": q, "unit_price": p} for q, p in raw]

    def order(self, ix: int, on: int | None = None, status: str | None = None) -> str | None:
        """The ix-th order (of those device ``on`` holds, in ``status`` there, when given)."""
        ids = self.orders
        if on is not None:
            held = {r[0]: r[1] for r in self.devices[on].store.db.execute("SELECT id, status FROM sales_orders")}
            ids = [i for i in ids if i in held and (status is None or held[i] == status)] or (ids if status is None else [])
        return ids[ix % len(ids)] if ids else None

    def run(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        try:
            if kind == "create":
                self.orders.append(self.devices[op[1]].service.create_order({"customer_id": self.customer,
                                                                              "lines": self.lines(op[2])})["id"])
            elif kind == "edit" and self.order(op[2], op[1]):
                self.devices[op[1]].service.update_order(self.order(op[2], op[1]), {"lines": self.lines(op[3])})
            elif kind == "submit" and self.order(op[2], op[1]):
                self.devices[op[1]].service.submit("sales_order", self.order(op[2], op[1]))
            elif kind == "decide" and self.order(op[1], 2, "submitted"):
                manager, order_id = self.devices[2], self.order(op[1], 2, "submitted")
                manager.service.decide("sales_order", order_id, op[2], None, "不行" if op[2] == "reject" else None)
                self.decisions.append(manager.store.db.execute(
                    "SELECT id FROM approvals WHERE record_id = ? ORDER BY hlc DESC LIMIT 1", [order_id]).fetchone()[0])
            elif kind == "boss" and self.order(op[1]):
                self.boss.decide("sales_order", self.order(op[1]), op[2], None, "不行" if op[2] == "reject" else None)
            elif kind == "sync":
                self.devices[op[1]].sync()
            elif kind == "relay":
                self.devices[op[1]].sync()
                self.devices[2].sync()
            elif kind == "tick":
                self.clock.advance(op[1])
        except ApiError as exc:
            event(f"refused locally: {kind} {exc.code}")

    def settle(self) -> None:
        for _ in range(4):
            for d in self.devices:
                d.sync()

    def check(self) -> None:
        server = {r["id"]: r for r in self.store.db.query("SELECT * FROM sales_orders")}
        keys = ("status", "number", "number_is_final", "lines", "total", "customer_id")
        for order_id, row in server.items():
            assert row["number_is_final"] and row["number"].startswith("SO"), row
            assert fen(row["total"]) == priced_lines(json.loads(row["lines"]))[1]
            for d in self.devices:
                copy = d.store.get("sales_order", order_id)
                assert {k: copy[k] for k in keys} == {k: row[k] for k in keys}, (order_id, d.user["username"])
            accepted = [a for a in self.store.db.query(
                "SELECT * FROM approvals WHERE record_id = ? ORDER BY hlc", [order_id])]
            if row["status"] == "approved":
                last = accepted[-1]
                assert last["action"] == "approve" and last["version"] == workflow.version("sales_order", row)
                event("an order approved")
        assert set(server) == set(self.orders)
        manager = self.devices[2].store
        refused = {r["record_id"] for r in manager.rejections() if r["entity"] == "approval"}
        stood = {r[0] for r in self.store.db.execute("SELECT id FROM approvals")}
        for decision in self.decisions:
            assert (decision in stood) != (decision in refused), decision
            event("a manager decision refused" if decision in refused else "a manager decision stood")
        assert manager.pending_count() == 0


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(ops, min_size=8, max_size=40))
def test_decisions_through_sync_in_any_order(script: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as root:
        world = SyncWorld(root)
        try:
            for op in [("create", 0, [(1, 10)]), *script]:
                world.run(op)
            world.settle()
            world.check()
        finally:
            world.close()
