"""Property tests of the sales ledger (issue 5), on the server's own store and rules.

- Any interleaving of orders (random lines), submits, approvals and rejections (some with a stale
  version), edits and resubmits, receipts with random allocations, quick receives and receipt
  decisions: every outcome is the one a plain model predicts, and after every step the receivables
  are approved totals − approved allocations per order, never negative, the buckets add up to the
  outstanding total, the journal balances (per entry and in total, with account 1122 equal to what
  is outstanding), and ``rebuild_journal`` recomputes identical rows.
- Aging at each bucket boundary; money exact to the fen for random quantities, prices, discounts
  and taxes.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from server import sales, sales_web
from shared.sales.money import fen, priced_lines
from shared.sales.receivables import BUCKETS
from shared.web.errors import ApiError

from .sales_world import SalesWorld

EXAMPLES = int(os.environ.get("SALES_PROP_EXAMPLES", "40"))
DAY_MS = 86_400_000


# ---- an independent model of the rules --------------------------------------------------------
def expected_bucket(days_overdue: int) -> str:
    """The issue's buckets: not yet due, then 1–30, 31–60, 61–90, 91–180, more than 180 days late."""
    for upper, name in ((0, "not_yet_due"), (30, "0_30"), (60, "30_60"), (90, "60_90"), (180, "90_180")):
        if days_overdue <= upper:
            return name
    return "180_plus"


def line_fen(quantity: Any, price: Any, discount: Any, tax_rate: Any) -> int:
    """One line's amount in fen: net rounded half-up to the fen, then tax on the net rounded likewise."""
    d = lambda v: Decimal(str(v))  # noqa: E731
    net = (d(quantity) * d(price) * (100 - d(discount)) / 100 * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    tax = (net * d(tax_rate) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(net + tax)


@dataclass
class Order:
    id: str
    customer: str
    lines: list[tuple[Any, ...]]
    first_lines: list[tuple[Any, ...]]
    first_version: str
    status: str = "draft"

    @property
    def total(self) -> int:
        return sum(line_fen(*line[1:]) for line in self.lines)


@dataclass
class Receipt:
    id: str
    customer: str
    amount: int
    allocations: list[tuple[str, int]]
    status: str = "draft"


@dataclass
class Model:
    orders: list[Order] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)

    def paid(self, order_id: str) -> int:
        return sum(a for r in self.receipts if r.status == "approved" for o, a in r.allocations if o == order_id)

    def owed(self, order: Order) -> int:
        return order.total - self.paid(order.id) if order.status == "approved" else 0


# ---- operations -----------------------------------------------------------------------------------
quantities = st.one_of(st.integers(1, 20), st.integers(1, 100_000).map(lambda n: n / 1000))
prices = st.integers(0, 5_000_000).map(lambda n: n / 100)
discounts = st.sampled_from([0, 0, 5, 10, 12.5, 33.3, 99.99, 100])
taxes = st.sampled_from([0, 0, 3, 6, 9, 13, 13.5])
line = st.tuples(st.integers(0, 2), quantities, prices, discounts, taxes)
lines = st.lists(line, min_size=1, max_size=4)
pick = st.integers(0, 50)
fraction = st.integers(1, 100)  # percent of what is owed

ops = st.one_of(
    st.tuples(st.just("order"), st.integers(0, 1), lines, st.integers(-200, 60)),
    st.tuples(st.just("edit"), pick, lines),
    st.tuples(st.just("submit_order"), pick),
    st.tuples(st.just("submit_order"), pick),
    st.tuples(st.just("decide_order"), pick, st.sampled_from(["approve", "approve", "reject"]), st.booleans(), st.booleans()),
    st.tuples(st.just("receipt"), st.integers(0, 1), st.lists(st.tuples(pick, fraction), max_size=3), st.integers(0, 5000),
              st.booleans()),
    st.tuples(st.just("submit_receipt"), pick),
    st.tuples(st.just("decide_receipt"), pick, st.sampled_from(["approve", "approve", "reject"])),
    st.tuples(st.just("receive"), pick, fraction, st.booleans()),
    st.tuples(st.just("tick"), st.integers(0, 40 * 24)),  # hours
    *[st.tuples(st.just("advance_order"), pick)] * 5,  # the next step of the happy path: submit, then approve
    *[st.tuples(st.just("advance_receipt"), pick)] * 4,
    st.tuples(st.just("receipt"), st.integers(0, 1), st.lists(st.tuples(pick, fraction), min_size=1, max_size=3),
              st.integers(0, 500), st.just(False)),
    st.tuples(st.just("receive"), pick, fraction, st.just(True)),
)


def as_lines(world: SalesWorld, raw: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{"product_id": world.products[p], "quantity": q, "unit_price": u, "discount": d, "tax_rate": t}
            for p, q, u, d, t in raw]


def outcome(call: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``(error code, error)``."""
    try:
        return "ok", call()
    except ApiError as exc:
        return str(exc.code), exc


class Runner:
    def __init__(self) -> None:
        self.world = SalesWorld()
        self.model = Model()
        self.rep = self.world.service("rep")
        self.boss = self.world.service("boss")
        self.finance = self.world.service("finance")
        self.refused = 0

    def order(self, ix: int) -> Order | None:
        return self.model.orders[ix % len(self.model.orders)] if self.model.orders else None

    def receipt(self, ix: int) -> Receipt | None:
        return self.model.receipts[ix % len(self.model.receipts)] if self.model.receipts else None

    def run(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        getattr(self, f"op_{kind}")(*op[1:])
        self.check()

    # -- orders
    def op_order(self, customer_ix: int, raw: list[tuple[Any, ...]], due_in_days: int) -> None:
        today = sales_web.server_today(self.world.store)
        due = (today + timedelta(days=due_in_days)).isoformat()
        made = self.rep.create_order({"customer_id": self.world.customers[customer_ix], "lines": as_lines(self.world, raw),
                                      "due_date": due})
        order = Order(made["id"], self.world.customers[customer_ix], list(raw), list(raw), made["version"])
        assert made["status"] == "draft" and made["number_is_final"] and made["number"].startswith("SO")
        assert fen(made["total"]) == order.total == sum(fen(l["amount"]) for l in made["lines"])
        self.model.orders.append(order)

    def op_edit(self, ix: int, raw: list[tuple[Any, ...]]) -> None:
        order = self.order(ix)
        if order is None:
            return
        code, result = outcome(lambda: self.rep.update_order(order.id, {"lines": as_lines(self.world, raw)}))
        if order.status in ("draft", "rejected"):
            assert code == "ok", result
            order.lines = list(raw)
            assert fen(result["total"]) == order.total
        else:
            assert code == "frozen", (order.status, code)

    def op_submit_order(self, ix: int) -> None:
        order = self.order(ix)
        if order is None:
            return
        before = self.world.store.get("sales_order", order.id)
        code, result = outcome(lambda: self.rep.submit("sales_order", order.id))
        if order.status in ("draft", "rejected"):
            assert code == "ok", result
            order.status = "submitted"
        elif order.status == "submitted":  # twice: a no-op, not a write to a frozen order
            assert code == "ok", result
            assert self.world.store.get("sales_order", order.id) == before
        else:
            assert code == "frozen", (order.status, code)

    def op_decide_order(self, ix: int, action: str, stale: bool, by_rep: bool) -> None:
        order = self.order(ix)
        if order is None:
            return
        who = self.rep if by_rep else self.boss
        version = order.first_version if stale else None
        code, result = outcome(lambda: who.decide("sales_order", order.id, action, version, "价格不对" if action == "reject" else None))
        if by_rep:
            assert code == "no_permission", code
        elif order.status != "submitted":
            assert code == "not_submitted", (order.status, code)
        elif stale:  # the version seen at creation: a draft, never the submission being decided
            assert code == "changed_since_seen", code
        else:
            assert code == "ok", result
            order.status = "approved" if action == "approve" else "rejected"
            assert result["status"] == order.status

    def op_advance_order(self, ix: int) -> None:
        order = self.order(ix)
        if order is not None and order.status == "submitted":
            self.op_decide_order(ix, "approve", False, False)
        elif order is not None:
            self.op_submit_order(ix)

    def op_advance_receipt(self, ix: int) -> None:
        receipt = self.receipt(ix)
        if receipt is not None and receipt.status == "submitted":
            self.op_decide_receipt(ix, "approve")
        elif receipt is not None:
            self.op_submit_receipt(ix)

    # -- receipts
    def op_receipt(self, customer_ix: int, picks: list[tuple[int, int]], extra: int, over: bool) -> None:
        customer = self.world.customers[customer_ix]
        open_orders = [o for o in self.model.orders if o.customer == customer and self.model.owed(o) > 0]
        allocations: list[tuple[str, int]] = []
        for ix, percent in picks:
            if not open_orders:
                break
            order = open_orders[ix % len(open_orders)]
            allocations.append((order.id, max(1, self.model.owed(order) * percent // 100)))
        if over and allocations and all(o != allocations[0][0] for o, _ in allocations[1:]):
            first = allocations[0][0]  # one fen more than the order still owes
            allocations[0] = (first, self.model.owed(next(o for o in self.model.orders if o.id == first)) + 1)
        amount = sum(a for _, a in allocations) + extra + (0 if allocations or extra else 1)
        code, result = outcome(lambda: self.rep.create_receipt({
            "customer_id": customer, "payer": "财务部", "method": "bank_transfer" if extra % 2 else "cash",
            "amount": amount / 100, "received_at": "2026-01-05",
            "allocations": [{"order_id": o, "amount": a / 100} for o, a in allocations]}))
        per_order: dict[str, int] = {}
        for order_id, amount_fen in allocations:
            per_order[order_id] = per_order.get(order_id, 0) + amount_fen
        fits = all(a <= self.model.owed(next(o for o in self.model.orders if o.id == oid)) for oid, a in per_order.items())
        if fits:
            assert code == "ok", result
            assert result["status"] == "draft" and result["number"].startswith("SK") and result["number_is_final"]
            self.model.receipts.append(Receipt(result["id"], customer, amount, allocations))
        else:
            assert code == "invalid", (allocations, code)

    def op_receive(self, ix: int, percent: int, submit: bool) -> None:
        order = self.order(ix)
        if order is None:
            return
        owed = self.model.owed(order)
        amount = max(1, owed * percent // 100)
        code, result = outcome(lambda: self.rep.receive(order.id, {"amount": amount / 100, "method": "cash", "submit": submit}))
        if order.status != "approved":
            assert code == "order_not_approved", code
        elif owed == 0:
            assert code == "paid", code
        else:
            assert code == "ok", result
            assert result["status"] == ("submitted" if submit else "draft")
            self.model.receipts.append(Receipt(result["id"], order.customer, amount, [(order.id, amount)], result["status"]))

    def op_submit_receipt(self, ix: int) -> None:
        receipt = self.receipt(ix)
        if receipt is None:
            return
        before = self.world.store.get("receipt", receipt.id)
        code, result = outcome(lambda: self.rep.submit("receipt", receipt.id))
        if receipt.status in ("draft", "rejected"):
            assert code == "ok", result
            receipt.status = "submitted"
        elif receipt.status == "submitted":
            assert code == "ok", result
            assert self.world.store.get("receipt", receipt.id) == before
        else:
            assert code == "frozen", (receipt.status, code)

    def op_decide_receipt(self, ix: int, action: str) -> None:
        receipt = self.receipt(ix)
        if receipt is None:
            return
        code, result = outcome(lambda: self.finance.decide("receipt", receipt.id, action, None,
                                                           "金额不符" if action == "reject" else None))
        per_order: dict[str, int] = {}
        for order_id, amount_fen in receipt.allocations:
            per_order[order_id] = per_order.get(order_id, 0) + amount_fen
        orders = {o.id: o for o in self.model.orders}
        if receipt.status != "submitted":
            assert code == "not_submitted", (receipt.status, code)
        elif action == "approve" and any(a > self.model.owed(orders[oid]) for oid, a in per_order.items()):
            assert code == "over_allocated", (code, receipt, {oid: self.model.owed(orders[oid]) for oid in per_order})
            self.refused += 1
        else:
            assert code == "ok", result
            receipt.status = "approved" if action == "approve" else "rejected"

    def op_tick(self, hours: int) -> None:
        self.world.clock.advance(hours * 3_600_000)

    # -- invariants
    def check(self) -> None:
        store = self.world.store
        today = sales_web.server_today(store)
        for service in (self.boss, self.rep, self.finance):
            ledger = service.receivables()
            items = {i["order_id"]: i for i in ledger["items"]}
            approved = {o.id: o for o in self.model.orders if o.status == "approved"}
            assert set(items) == set(approved)
            outstanding = 0
            for order_id, item in items.items():
                order = approved[order_id]
                assert fen(item["total"]) == order.total
                assert fen(item["received"]) == self.model.paid(order_id)
                assert fen(item["outstanding"]) == order.total - self.model.paid(order_id) >= 0
                days = (today - date.fromisoformat(item["due_date"])).days
                assert item["bucket"] == expected_bucket(days), (item, today)
                outstanding += fen(item["outstanding"])
            summary = ledger["summary"]
            assert set(summary["buckets"]) == set(BUCKETS)
            assert sum(fen(v) for v in summary["buckets"].values()) == fen(summary["outstanding"]) == outstanding
        for order in self.model.orders:
            assert store.get("sales_order", order.id)["status"] == order.status
        for receipt in self.model.receipts:
            assert store.get("receipt", receipt.id)["status"] == receipt.status
        rows, _ = sales.journal(store, 100_000)
        debit, credit = sales.journal_totals(store)
        assert debit == credit == sum(r["debit"] for r in rows) == sum(r["credit"] for r in rows)
        entries: dict[str, list[int]] = {}
        for row in rows:
            entries.setdefault(row["entry"], [0, 0])
            entries[row["entry"]][0] += row["debit"]
            entries[row["entry"]][1] += row["credit"]
        assert all(d == c for d, c in entries.values()), entries
        receivable = sum(r["debit"] - r["credit"] for r in rows if r["account"] == "1122")
        assert receivable == sum(o.total - self.model.paid(o.id) for o in self.model.orders if o.status == "approved")
        approved_receipts = sum(r.amount for r in self.model.receipts if r.status == "approved")
        assert sum(r["debit"] for r in rows if r["account"] in ("1001", "1002")) == approved_receipts

    def rebuild_is_identical(self) -> None:
        store = self.world.store
        before, _ = sales.journal(store, 100_000)
        assert sales.rebuild_journal(store) == len(before)
        assert sales.journal(store, 100_000)[0] == before


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.integers(0, 1), lines, st.integers(-200, 60)), min_size=1, max_size=4),
       st.lists(ops, min_size=15, max_size=50))
def test_any_interleaving_keeps_the_ledger_true(first_orders: list[tuple[Any, ...]], script: list[tuple[Any, ...]]) -> None:
    runner = Runner()
    for op in [("order", *o) for o in first_orders] + script:
        runner.run(op)
    runner.rebuild_is_identical()
    event(f"approved orders: {min(sum(o.status == 'approved' for o in runner.model.orders), 3)}")
    event(f"approved receipts: {min(sum(r.status == 'approved' for r in runner.model.receipts), 3)}")
    event(f"refused receipt approvals: {min(runner.refused, 1)}")


def test_a_full_scripted_interleaving() -> None:
    """A fixed walk through every path (so the interesting cases run even with few examples)."""
    runner = Runner()
    line_a = [(0, 3, 100.0, 10, 13), (1, 4, 12.5, 0, 0)]
    for op in [
        ("order", 0, line_a, -40), ("order", 0, [(2, 1, 99.99, 0, 6)], 10), ("order", 1, [(0, 2.5, 0.33, 33.3, 13)], 0),
        ("submit_order", 0), ("submit_order", 1), ("submit_order", 2),
        ("decide_order", 0, "approve", False, True), ("decide_order", 0, "approve", False, False),
        ("decide_order", 1, "reject", False, False), ("edit", 1, [(2, 2, 99.99, 0, 6)]), ("submit_order", 1),
        ("decide_order", 1, "approve", True, False), ("decide_order", 1, "approve", False, False),
        ("decide_order", 2, "approve", True, False), ("decide_order", 2, "approve", False, False),
        ("receipt", 0, [(0, 50), (1, 100)], 0, False), ("receipt", 0, [(0, 100)], 300, False),
        ("submit_receipt", 0), ("submit_receipt", 1), ("decide_receipt", 1, "approve"), ("decide_receipt", 0, "approve"),
        ("decide_receipt", 0, "reject"), ("receive", 1, 100, True), ("decide_receipt", 2, "approve"),
        ("receive", 1, 50, True), ("receipt", 0, [(0, 100)], 0, True), ("tick", 24 * 45),
    ]:
        runner.run(op)
    assert runner.model.owed(runner.model.orders[1]) == 0 and runner.model.owed(runner.model.orders[0]) == 0
    assert runner.model.owed(runner.model.orders[2]) > 0
    runner.rebuild_is_identical()


def test_two_allocations_to_one_order_in_one_receipt_cannot_overpay_it() -> None:
    runner = Runner()
    for op in [("order", 0, [(0, 1, 100.0, 0, 0)], 0), ("submit_order", 0), ("decide_order", 0, "approve", False, False),
               ("receipt", 0, [(0, 60), (0, 60)], 0, False)]:
        runner.run(op)
    assert runner.model.receipts == []  # refused: 120 % of what the order owes
    # 50 % + 50 % fit when made; once another receipt pays 10 %, approving them would overpay
    for op in [("receipt", 0, [(0, 50), (0, 50)], 0, False), ("receive", 0, 10, True), ("decide_receipt", 1, "approve"),
               ("submit_receipt", 0), ("decide_receipt", 0, "approve")]:
        runner.run(op)
    assert [r.status for r in runner.model.receipts] == ["submitted", "approved"]
    runner.rebuild_is_identical()


# ---- aging boundaries ------------------------------------------------------------------------------
BOUNDARIES = (0, 1, 30, 31, 60, 61, 90, 91, 180, 181)


def _approved_order(world: SalesWorld, due: date | None, **extra: Any) -> dict[str, Any]:
    rep, boss = world.service("rep"), world.service("boss")
    values: dict[str, Any] = {"customer_id": world.customers[0], "lines": [
        {"product_id": world.products[0], "quantity": 1, "unit_price": 100}], **extra}
    if due is not None:
        values["due_date"] = due.isoformat()
    order = rep.create_order(values)
    rep.submit("sales_order", order["id"])
    return boss.decide("sales_order", order["id"], "approve")


def test_bucket_boundaries() -> None:
    world = SalesWorld()
    today = sales_web.server_today(world.store)
    made = {d: _approved_order(world, today - timedelta(days=d))["id"] for d in (-5, *BOUNDARIES)}
    ledger = world.service("boss").receivables()
    seen = {i["order_id"]: i for i in ledger["items"]}
    expected = {-5: "not_yet_due", 0: "not_yet_due", 1: "0_30", 30: "0_30", 31: "30_60", 60: "30_60", 61: "60_90",
                90: "60_90", 91: "90_180", 180: "90_180", 181: "180_plus"}
    assert {d: seen[i]["bucket"] for d, i in made.items()} == expected
    assert {d: seen[i]["days_overdue"] for d, i in made.items()} == {d: max(d, 0) for d in made}
    counts = {b: list(expected.values()).count(b) * 10000 for b in BUCKETS}
    assert {b: fen(v) for b, v in ledger["summary"]["buckets"].items()} == counts
    assert fen(ledger["summary"]["outstanding"]) == 11 * 10000
    assert fen(ledger["summary"]["overdue"]) == 9 * 10000


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.integers(0, 23 * 60 + 59), st.integers(0, 200))
def test_an_order_without_a_due_date_ages_from_its_local_approval_day(minute_of_day: int, later_days: int) -> None:
    """No due or delivery date: the receivable is due on the day (server time) it is approved, whatever the hour."""
    world = SalesWorld()
    world.clock.advance(minute_of_day * 60_000)
    order = _approved_order(world, None)
    item = world.service("boss").receivables()["items"][0]
    assert item["order_id"] == order["id"] and item["bucket"] == "not_yet_due" and item["days_overdue"] == 0
    world.clock.advance(later_days * DAY_MS)
    item = world.service("boss").receivables()["items"][0]
    assert item["days_overdue"] == later_days and item["bucket"] == expected_bucket(later_days)


# ---- money -----------------------------------------------------------------------------------------
money_line = st.tuples(st.just(0), st.integers(1, 10**9).map(lambda n: n / 1000), st.integers(0, 10**9).map(lambda n: n / 100),
                       st.integers(0, 10000).map(lambda n: n / 100), st.integers(0, 2500).map(lambda n: n / 100))


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(st.lists(money_line, min_size=1, max_size=30))
def test_line_amounts_add_up_to_the_total_to_the_fen(raw: list[tuple[Any, ...]]) -> None:
    out, total, tax = priced_lines([{"product_id": "p", "quantity": q, "unit_price": u, "discount": d, "tax_rate": t}
                                    for _, q, u, d, t in raw])
    assert [fen(l["amount"]) for l in out] == [line_fen(*r[1:]) for r in raw]
    assert sum(fen(l["amount"]) for l in out) == total == sum(line_fen(*r[1:]) for r in raw)
    assert 0 <= tax <= total


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(money_line, min_size=1, max_size=6))
def test_an_order_through_the_service_is_exact_to_the_fen(raw: list[tuple[Any, ...]]) -> None:
    world = SalesWorld(customers=1, products=1)
    order = world.service("rep").create_order({"customer_id": world.customers[0], "lines": as_lines(world, raw)})
    stored = json.loads(world.store.get("sales_order", order["id"])["lines"])
    assert sum(fen(l["amount"]) for l in order["lines"]) == fen(order["total"]) == sum(line_fen(*r[1:]) for r in raw)
    assert [fen(l["amount"]) for l in stored] == [fen(l["amount"]) for l in order["lines"]]
    world.service("rep").submit("sales_order", order["id"])
    world.service("boss").decide("sales_order", order["id"], "approve")
    rows = sales.journal(world.store)[0]
    assert sum(r["debit"] for r in rows) == sum(r["credit"] for r in rows) == fen(order["total"])
    item = world.service("boss").receivables()["items"][0]
    assert fen(item["outstanding"]) == fen(order["total"])


# ---- numbers under concurrency ---------------------------------------------------------------------
WRITER = """
import json, sys
from server import db, org, sales_web, users
from shared.web.sales_service import SalesService
data_dir, rep_id, customer_id, product_id, count = sys.argv[1:6]
store = db.open_store(data_dir)
service = SalesService(store, org.enrich(store, users.get_user(store, rep_id)), sales_web.hooks(store))
made = [service.create_order({"customer_id": customer_id, "lines": [{"product_id": product_id, "quantity": 1,
        "unit_price": 5}]})["number"] for _ in range(int(count))]
print(json.dumps(made))
"""


def test_numbers_are_unique_and_gap_free_across_threads_and_processes(tmp_path: Any) -> None:
    import re
    import subprocess
    import sys
    import threading
    from pathlib import Path

    from server import db, org, users
    from shared.web.sales_service import SalesService

    data_dir = str(tmp_path / "server")
    store = db.open_store(data_dir)
    try:
        rep = users.create_user(store, "rep", "pass1234", "sales_rep")
        boss = users.create_user(store, "boss", "pass1234", "boss")
        product = SalesService(store, org.enrich(store, boss), sales_web.hooks(store)).create_product(
            {"code": "P", "name": "产品", "price": 5})["id"]
        customer = store.create("customer", {"kind": "company", "name": "客户", "owner_id": rep["id"]}, rep["id"])
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, data_dir, rep["id"], customer, product, "15"],
                                  cwd=str(Path(__file__).resolve().parents[2]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(3)]
        numbers: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def orders() -> None:
            try:
                service = SalesService(store, org.enrich(store, rep), sales_web.hooks(store))
                made = [service.create_order({"customer_id": customer, "lines": [
                    {"product_id": product, "quantity": 1, "unit_price": 5}]})["number"] for _ in range(15)]
                with lock:
                    numbers.extend(made)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        def quotes() -> None:  # assign_number straight, on records made in this thread
            try:
                for _ in range(15):
                    quote_id = store.create("quote", {"customer_id": customer, "lines": "[]", "total": 0, "status": "draft",
                                                      "number": "TMP-QT-X", "number_is_final": False}, rep["id"])
                    first = sales.assign_number(store, "quote", quote_id)
                    assert sales.assign_number(store, "quote", quote_id) == first  # idempotent
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=orders) for _ in range(4)] + [threading.Thread(target=quotes) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-3000:]
            numbers.extend(json.loads(out.strip().splitlines()[-1]))
        assert not errors, errors
        assert len(numbers) == 4 * 15 + 3 * 15 and len(set(numbers)) == len(numbers)
        stored = [r[0] for r in store.db.execute("SELECT number FROM sales_orders")]
        assert sorted(stored) == sorted(numbers)
        for doc_type, prefix, expected in (("sales_order", "SO", len(numbers)), ("quote", "QT", 30)):
            held = [r[0] for r in store.db.execute("SELECT number FROM document_numbers WHERE doc_type = ?", [doc_type])]
            assert len(held) == expected
            by_period: dict[str, list[int]] = {}
            for number in held:
                match = re.fullmatch(prefix + r"(\d{8})(\d{4})", number)
                assert match, number
                by_period.setdefault(match.group(1), []).append(int(match.group(2)))
            for period, seqs in by_period.items():  # gap-free from 1 in every period
                assert sorted(seqs) == list(range(1, len(seqs) + 1)), (doc_type, period)
                last = store.db.execute("SELECT last FROM number_sequences WHERE doc_type = ? AND period = ?",
                                        [doc_type, period]).fetchone()[0]
                assert last == len(seqs)
    finally:
        db.close_store(data_dir)
