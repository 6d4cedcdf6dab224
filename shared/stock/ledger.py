"""The stock ledger (库存流水帐) as a pure function of stock moves (DESIGN §4).

Per warehouse × product, the moves in event order ``(hlc, move id)`` with the running balance and
the moving-average unit cost. A move that arrives late is simply placed by its HLC and every later
row recomputed (``rows_for`` recomputes a whole key). A balance below zero is kept and flagged
``negative``, never hidden and never "fixed" by dropping a move.

Quantities are exact in thousandths (``milli``), costs in ten-thousandths of a yuan; floats appear
only at the JSON edge. What a move does (``effects``):

- in, return: + quantity at the warehouse, at ``unit_cost`` when given;
- out, borrow: − quantity (the average cost does not change);
- transfer: − quantity at the source, + quantity at the destination at ``unit_cost`` (the source's
  average as the kiosk knew it);
- adjustment (stocktake): the signed difference counted − booked, at ``unit_cost`` when it adds;
- a reversal (``reverses_id``) copies the original and has the opposite effect: taking units back
  out at their cost moves the average back.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

_MILLI = Decimal(1000)
_COST = Decimal("0.0001")


def milli(quantity: Any) -> int:
    return int((Decimal(str(quantity)) * _MILLI).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cost(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(_COST, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Effect:
    warehouse_id: str
    product_id: str
    delta: int  # thousandths of a unit
    unit_cost: Decimal | None


def effects(move: Mapping[str, Any]) -> list[Effect]:
    """What one move does, per warehouse × product."""
    q = milli(move["quantity"])
    sign = -1 if move.get("reverses_id") else 1
    unit = cost(move.get("unit_cost"))
    kind, wh, product = move["kind"], move["warehouse_id"], move["product_id"]
    if kind in ("in", "return"):
        out = [Effect(wh, product, q, unit)]
    elif kind in ("out", "borrow"):
        out = [Effect(wh, product, -q, None)]
    elif kind == "transfer":
        out = [Effect(wh, product, -q, None), Effect(move["to_warehouse_id"], product, q, unit)]
    elif kind == "adjustment":
        out = [Effect(wh, product, q, unit if q > 0 else None)]
    else:
        raise ValueError(f"unknown stock move kind {kind!r}")
    return [Effect(e.warehouse_id, e.product_id, sign * e.delta, e.unit_cost) for e in out]


def keys(move: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(e.warehouse_id, e.product_id) for e in effects(move)]


def order_key(move: Mapping[str, Any]) -> tuple[str, str]:
    return (str(move["hlc"]), str(move["id"]))


def step(balance: int, average: Decimal | None, effect: Effect) -> tuple[int, Decimal | None]:
    """The balance and average cost after one effect."""
    after = balance + effect.delta
    if effect.unit_cost is None:
        return after, average
    if effect.delta > 0:
        if balance <= 0 or average is None:
            return after, effect.unit_cost
        value = Decimal(balance) * average + Decimal(effect.delta) * effect.unit_cost
        return after, (value / Decimal(after)).quantize(_COST, rounding=ROUND_HALF_UP)
    # units leave at a known cost (a reversed receipt): the rest keeps the remaining value
    if after <= 0 or average is None:
        return after, average
    value = Decimal(balance) * average + Decimal(effect.delta) * effect.unit_cost
    return after, max(Decimal(0), (value / Decimal(after)).quantize(_COST, rounding=ROUND_HALF_UP))


def rows_after(key: tuple[str, str], move: Mapping[str, Any], balance: int, average: Decimal | None) -> list[dict[str, Any]]:
    """The rows one move adds to a key whose balance (thousandths) and average cost are given."""
    rows = []
    for effect in effects(move):
        if (effect.warehouse_id, effect.product_id) != key:
            continue
        balance, average = step(balance, average, effect)
        rows.append({
            "move_id": move["id"], "warehouse_id": key[0], "product_id": key[1], "hlc": move["hlc"],
            "kind": move["kind"], "moved_at": move.get("moved_at"), "reverses_id": move.get("reverses_id"),
            "quantity": effect.delta / 1000, "balance": balance / 1000,
            "average_cost": None if average is None else float(average), "negative": balance < 0,
        })
    return rows


def state(row: Mapping[str, Any] | None) -> tuple[int, Decimal | None]:
    """The balance (thousandths) and average cost after a ledger row (None: an empty key)."""
    if row is None:
        return 0, None
    return milli(row["balance"]), cost(row["average_cost"])


def rows_for(key: tuple[str, str], moves: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ledger rows of one warehouse × product from every move touching it (any order given)."""
    rows: list[dict[str, Any]] = []
    for move in sorted(moves, key=order_key):
        rows += rows_after(key, move, *state(rows[-1] if rows else None))
    return rows


def ledger(moves: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every key's rows from a set of moves (the rebuild)."""
    by_key: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for move in moves:
        for key in dict.fromkeys(keys(move)):
            by_key.setdefault(key, []).append(move)
    return {key: rows_for(key, ms) for key, ms in sorted(by_key.items())}
