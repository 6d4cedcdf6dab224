"""Property tests of the stock ledger (issue 6).

Pure ledger (``shared.stock.ledger``): random moves of every kind (in, out, transfer, borrow,
return, adjustment, reversals of earlier moves) across three warehouses and two products with
random HLCs (ties included), fed in any order: the same rows; each key's final balance is the sum
of the moves' effects (an independent model below); balances are running sums; the negative flag
is exactly balance < 0; the average cost is never negative and outs never change it.

Server: kiosks (warehouse clerks' devices enrolled with ``warehouse`` = WH01/WH02, over the Flask
test client, client hooks) and the boss on the server record random moves and reversals offline
and sync in random orders, with pushes delivered twice, answers lost (the device sends again) and
old pushes replayed. After everyone syncs: the ``stock_ledger`` table equals ``ledger.ledger`` over
the ``stock_moves`` events and ``server.stock.rebuild``'s rows; every ``stock_level`` holds its
key's final balance and flag (a negative one was notified); every recorded move is on the server
once unless the server refused it (a second reversal of the same move); each kiosk holds exactly
its warehouse's moves and computes the server's rows for its warehouse.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from server import stock
from shared.schemas.stock import MOVE_KINDS
from shared.stock import ledger
from shared.web.errors import ApiError

from .stock_world import StockWorld

PURE_EXAMPLES = int(os.environ.get("STOCK_PROP_EXAMPLES", "300"))
SYNC_EXAMPLES = int(os.environ.get("STOCK_SYNC_PROP_EXAMPLES", "20"))


# ---- an independent model of what a move does ----------------------------------------------------
def to_milli(value: Any) -> int:
    return int(Decimal(str(value)) * 1000)


def model_effects(move: dict[str, Any]) -> list[tuple[tuple[str, str], int]]:
    """(warehouse, product) → signed thousandths, straight from the issue's definitions."""
    q = to_milli(move["quantity"])
    wh, product, kind = move["warehouse_id"], move["product_id"], move["kind"]
    plain = {
        "in": [((wh, product), q)], "return": [((wh, product), q)],
        "out": [((wh, product), -q)], "borrow": [((wh, product), -q)],
        "adjustment": [((wh, product), q)],  # signed: counted − booked
        "transfer": [((wh, product), -q), ((move.get("to_warehouse_id"), product), q)],
    }[kind]
    return [(key, -delta if move.get("reverses_id") else delta) for key, delta in plain]


# ---- pure ledger ------------------------------------------------------------------------------------
WAREHOUSES = ("w1", "w2", "w3")
PRODUCTS = ("p1", "p2")
quantities = st.one_of(st.integers(1, 20), st.integers(1, 50_000).map(lambda n: n / 1000))
costs = st.one_of(st.none(), st.integers(0, 5_000_000).map(lambda n: n / 10_000), st.sampled_from([0, 100, 130.5]))
hlcs = st.tuples(st.integers(0, 40), st.integers(0, 2), st.sampled_from(["siteA", "siteB", "siteC"]))
plain_move = st.tuples(st.just("move"), st.sampled_from(MOVE_KINDS), st.integers(0, 2), st.integers(1, 2),
                       st.integers(0, 1), quantities, st.booleans(), costs, hlcs)
reversal = st.tuples(st.just("reverse"), st.integers(0, 100), hlcs)
specs = st.lists(st.one_of(plain_move, plain_move, plain_move, reversal), min_size=1, max_size=30)


def hlc(parts: tuple[int, int, str]) -> str:
    return f"{1_767_225_600_000 + parts[0] * 1000:015d}.{parts[1]:06d}.{parts[2]}"


def build_moves(raw: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    moves: list[dict[str, Any]] = []
    for i, spec in enumerate(raw):
        move_id = f"m{i:03d}"
        if spec[0] == "reverse":
            open_ = [m for m in moves if not m.get("reverses_id") and not any(r.get("reverses_id") == m["id"] for r in moves)]
            if not open_:
                continue
            original = open_[spec[1] % len(open_)]
            moves.append({**original, "id": move_id, "reverses_id": original["id"], "hlc": hlc(spec[2]),
                          "moved_at": f"2026-11-20T{spec[2][0] % 24:02d}:00:00+08:00"})
            continue
        _, kind, wh, to_offset, product, quantity, minus, unit_cost, at = spec
        move = {"id": move_id, "kind": kind, "warehouse_id": WAREHOUSES[wh], "product_id": PRODUCTS[product],
                "to_warehouse_id": WAREHOUSES[(wh + to_offset) % 3] if kind == "transfer" else None,
                "quantity": -quantity if kind == "adjustment" and minus else quantity,
                "unit_cost": unit_cost if kind != "out" and kind != "borrow" else None,
                "reverses_id": None, "hlc": hlc(at), "moved_at": f"2026-11-20T{at[0] % 24:02d}:00:00+08:00"}
        moves.append(move)
    return moves


def check_rows(moves: list[dict[str, Any]], rows_by_key: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    expected: dict[tuple[str, str], int] = defaultdict(int)
    touching: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    by_id = {m["id"]: m for m in moves}
    for move in moves:
        for key, delta in model_effects(move):
            expected[key] += delta
            touching[key].append(move)
    assert set(rows_by_key) == set(expected)
    for key, rows in rows_by_key.items():
        order = sorted(touching[key], key=lambda m: (m["hlc"], m["id"]))
        assert [r["move_id"] for r in rows] == [m["id"] for m in order], key  # event order, every move once
        balance, average = 0, None
        for row in rows:
            move = by_id[row["move_id"]]
            assert (row["warehouse_id"], row["product_id"]) == key and row["hlc"] == move["hlc"]
            assert to_milli(row["quantity"]) == dict(model_effects(move))[key]
            assert to_milli(row["balance"]) == balance + to_milli(row["quantity"])  # a running sum
            balance = to_milli(row["balance"])
            assert row["negative"] == (balance < 0)
            assert row["average_cost"] is None or row["average_cost"] >= 0
            leaves = move["kind"] in ("out", "borrow") or (move["kind"] == "transfer" and key[0] == move["warehouse_id"])
            if leaves and not move.get("reverses_id"):
                assert row["average_cost"] == average, (key, row)  # an out never changes the average cost
            average = row["average_cost"]
        assert balance == expected[key], key  # the final balance is the sum of the effects


@settings(max_examples=PURE_EXAMPLES, deadline=None)
@given(raw=specs, data=st.data())
def test_pure_ledger_is_the_same_for_any_order_and_sums_the_moves(raw: list[tuple[Any, ...]], data: st.DataObject) -> None:
    moves = build_moves(raw)
    rows = ledger.ledger(moves)
    check_rows(moves, rows)
    shuffled = data.draw(st.permutations(moves))
    assert ledger.ledger(shuffled) == rows
    assert ledger.ledger(list(reversed(moves))) == rows
    for key in rows:  # one key from every move in any order (the server's late-arrival recompute)
        assert ledger.rows_for(key, shuffled) == rows[key]
    if any(r["negative"] for key_rows in rows.values() for r in key_rows):
        event("a negative balance")
    if any(m.get("reverses_id") for m in moves):
        event("a reversal")


# ---- the server with kiosks syncing in random orders ------------------------------------------------------
kiosk_ix = st.integers(0, 2)  # 0, 1: WH01 (two clerks); 2: WH02
pick = st.integers(0, 30)
OPS = {
    "move": st.tuples(st.just("move"), kiosk_ix, st.sampled_from(MOVE_KINDS), st.integers(0, 1), quantities, st.booleans(),
                      costs, st.integers(1, 2)),
    "reverse": st.tuples(st.just("reverse"), kiosk_ix, pick),
    "server": st.tuples(st.just("server"), st.sampled_from(("in", "out", "transfer")), st.integers(0, 1), st.integers(0, 1),
                        quantities),
    "server_reverse": st.tuples(st.just("server_reverse"), pick),
    "sync": st.tuples(st.just("sync"), kiosk_ix, st.sampled_from(["once", "once", "twice", "lost"])),
    "replay": st.tuples(st.just("replay"), kiosk_ix, pick),
    "tick": st.tuples(st.just("tick"), st.integers(1, 600_000)),
}
WEIGHTS = ["move"] * 6 + ["reverse"] * 2 + ["server", "server_reverse"] + ["sync"] * 5 + ["replay", "tick", "tick"]
ops = st.sampled_from(WEIGHTS).flatmap(OPS.__getitem__)


class Runner:
    def __init__(self, world: StockWorld) -> None:
        self.world = world
        self.recorded: list[tuple[int | None, str]] = []  # (kiosk index or None for the server, move id)
        self.codes = list(world.warehouses)

    def run(self, op: tuple[Any, ...]) -> None:
        w = self.world
        try:
            if op[0] == "move":
                _, k, kind, product, quantity, minus, unit_cost, to_offset = op
                kiosk = w.kiosks[k]
                own = self.codes.index(kiosk.code)
                values = {"kind": kind, "warehouse_id": kiosk.warehouse_id, "product_id": w.products[product],
                          "quantity": -quantity if kind == "adjustment" and minus else quantity}
                if kind == "transfer":
                    values["to_warehouse_id"] = w.warehouses[self.codes[(own + to_offset) % 3]]
                if unit_cost is not None and kind not in ("out", "borrow"):
                    values["unit_cost"] = unit_cost
                self.recorded.append((k, kiosk.service.record_move(values)["id"]))
            elif op[0] == "reverse":
                kiosk = w.kiosks[op[1]]
                held = [r[0] for r in kiosk.store.db.execute("SELECT id FROM stock_moves ORDER BY hlc, id")]
                if held:
                    self.recorded.append((op[1], kiosk.service.reverse(held[op[2] % len(held)], "录错")["id"]))
            elif op[0] == "server":
                _, kind, wh, product, quantity = op
                values = {"kind": kind, "warehouse_id": w.warehouses[self.codes[wh]], "product_id": w.products[product],
                          "quantity": quantity, "moved_at": "2026-11-20T09:00:00+08:00"}
                if kind == "transfer":
                    values["to_warehouse_id"] = w.warehouses[self.codes[wh + 1]]
                if kind != "out":
                    values["unit_cost"] = 120.5
                self.recorded.append((None, w.boss.record_move(values)["id"]))
            elif op[0] == "server_reverse":
                held = [r[0] for r in w.store.db.execute("SELECT id FROM stock_moves ORDER BY hlc, id")]
                if held:
                    self.recorded.append((None, w.boss.reverse(held[op[1] % len(held)])["id"]))
            elif op[0] == "sync":
                if not w.kiosks[op[1]].sync(twice=op[2] == "twice", lose_answer=op[2] == "lost"):
                    event("a push answer lost")
            elif op[0] == "replay":
                w.kiosks[op[1]].transport.replay(op[2])
            elif op[0] == "tick":
                w.clock.advance(op[1])
        except ApiError as exc:
            event(f"refused locally: {op[0]} {exc.code}")

    def settle(self) -> None:
        for _ in range(3):
            for kiosk in self.world.kiosks:
                assert kiosk.sync()

    def check(self) -> None:
        w = self.world
        store = w.store
        moves = [dict(r) for r in store.db.query("SELECT * FROM stock_moves")]
        expected = ledger.ledger(moves)
        flat = [row for rows in expected.values() for row in rows]
        table, total = stock.ledger_rows(store, limit=100_000)
        assert total == len(flat) and table == flat  # the table the late arrivals maintained = the pure ledger
        check_rows(moves, expected)
        assert stock.rebuild(store) == len(flat)
        assert stock.ledger_rows(store, limit=100_000)[0] == flat  # rebuilding from the events: identical rows

        levels = {(r["warehouse_id"], r["product_id"]): r for r in store.db.query("SELECT * FROM stock_levels")}
        assert set(levels) == set(expected)
        flagged = {(n["warehouse_id"], n["product_id"]) for n in (
            json.loads(r[0]) for r in store.db.execute("SELECT detail FROM notifications WHERE kind = 'stock_negative'"))}
        for key, rows in expected.items():
            assert levels[key]["quantity"] == rows[-1]["balance"], key
            assert bool(levels[key]["negative"]) == rows[-1]["negative"], key
            if rows[-1]["negative"]:
                assert key in flagged, key
                event("a negative balance after sync")

        # every move recorded is on the server once, unless the server refused it (already reversed)
        on_server = {m["id"] for m in moves}
        assert len(on_server) == len(moves)
        refused: set[str] = set()
        for kiosk in w.kiosks:
            for rejection in kiosk.store.rejections():
                if rejection["entity"] == "stock_move":
                    assert rejection["reason"] == "already_reversed", rejection
                    refused.add(rejection["record_id"])
                    event("a second reversal refused")
        assert on_server == {move_id for _, move_id in self.recorded} - refused
        assert not refused & on_server
        for move in moves:  # at most one reversal per move, never a reversal of a reversal
            if move["reverses_id"]:
                assert sum(1 for m in moves if m["reverses_id"] == move["reverses_id"]) == 1
                assert by_id(moves, move["reverses_id"])["reverses_id"] is None

        # each kiosk holds its warehouse's moves and computes the server's rows for its warehouse
        for kiosk in w.kiosks:
            wh = w.warehouses[kiosk.code]
            assert kiosk.store.pending_count() == 0
            held = {r[0] for r in kiosk.store.db.execute("SELECT id FROM stock_moves")}
            assert held == {m["id"] for m in moves if wh in (m["warehouse_id"], m["to_warehouse_id"])}, kiosk.code
            local = kiosk.service.ledger(wh)
            server_rows = stock.ledger_rows(store, wh, limit=100_000)[0]
            assert local["items"] == server_rows, kiosk.code
            assert local["negative"] == any(r["negative"] for r in server_rows)
            assert kiosk.service.ledger()["items"] == server_rows, kiosk.code  # unfiltered: its own warehouse, never part of another's
            for other in set(w.warehouses.values()) - {wh}:  # it never holds another warehouse's whole ledger: no rows
                assert kiosk.service.ledger(other)["items"] == []
            local_levels = {(r["warehouse_id"], r["product_id"]): r["quantity"] for r in kiosk.store.db.query("SELECT * FROM stock_levels")}
            assert local_levels == {k: v["quantity"] for k, v in levels.items()}


def by_id(moves: list[dict[str, Any]], move_id: str) -> dict[str, Any]:
    return next(m for m in moves if m["id"] == move_id)


@settings(max_examples=SYNC_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(ops, min_size=4, max_size=40))
@example(steps=[  # both WH01 kiosks ship the last unit offline, the earlier move arrives late; both reverse one move
    ("move", 0, "in", 0, 1, False, 200, 1), ("sync", 0, "once"), ("sync", 1, "once"),
    ("move", 0, "out", 0, 1, False, None, 1), ("tick", 1000), ("move", 1, "out", 0, 1, False, None, 1),
    ("move", 1, "transfer", 0, 2, False, 150, 1), ("sync", 1, "twice"), ("sync", 0, "lost"), ("replay", 1, 0),
    ("sync", 0, "once"), ("sync", 1, "once"), ("reverse", 0, 0), ("reverse", 1, 0), ("sync", 0, "once"), ("sync", 1, "once"),
])
def test_kiosks_offline_in_any_sync_order_agree_with_the_rebuilt_ledger(steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as root:
        world = StockWorld(root)
        try:
            runner = Runner(world)
            for op in steps:
                runner.run(op)
            runner.settle()
            runner.check()
        finally:
            world.close()
