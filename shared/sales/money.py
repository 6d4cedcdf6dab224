"""Money as integer fen (分): every sum is exact; floats appear only at the JSON edge.

A line's amount is ``net + tax`` where ``net = quantity × unit_price × (1 − discount%)`` and
``tax = net × tax_rate%``, each rounded half-up to the fen, so an order's total always equals the
sum of its lines and the journal's revenue and tax postings add up to the receivable exactly.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

_FEN = Decimal(1)


def fen(amount: Any) -> int:
    """Yuan (number or numeric text) → integer fen, half-up."""
    if amount is None:
        return 0
    return int((Decimal(str(amount)) * 100).quantize(_FEN, rounding=ROUND_HALF_UP))


def yuan(amount_fen: int) -> float:
    """Integer fen → yuan as a JSON number with two decimals."""
    return float(Decimal(amount_fen) / 100)


def line_parts(line: Mapping[str, Any]) -> tuple[int, int]:
    """``(net_fen, tax_fen)`` of one line."""
    quantity = Decimal(str(line["quantity"]))
    price = Decimal(str(line["unit_price"]))
    discount = Decimal(str(line.get("discount") or 0))
    tax_rate = Decimal(str(line.get("tax_rate") or 0))
    net = quantity * price * (100 - discount) / 100
    net_fen = int((net * 100).quantize(_FEN, rounding=ROUND_HALF_UP))
    tax_fen = int((Decimal(net_fen) * tax_rate / 100).quantize(_FEN, rounding=ROUND_HALF_UP))
    return net_fen, tax_fen


def priced_lines(lines: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
    """The lines with their computed ``amount``, the total and the tax in fen."""
    out: list[dict[str, Any]] = []
    total = tax = 0
    for line in lines:
        net_fen, tax_fen = line_parts(line)
        out.append({
            "product_id": line["product_id"], "quantity": float(line["quantity"]), "unit_price": float(line["unit_price"]),
            "discount": float(line.get("discount") or 0), "tax_rate": float(line.get("tax_rate") or 0),
            "amount": yuan(net_fen + tax_fen),
        })
        total += net_fen + tax_fen
        tax += tax_fen
    return out, total, tax


def mismatched_amounts(lines: Iterable[Mapping[str, Any]]) -> list[int]:
    """Indexes of lines whose given ``amount`` differs from the computed one."""
    bad = []
    for index, line in enumerate(lines):
        if line.get("amount") is not None and fen(line["amount"]) != sum(line_parts(line)):
            bad.append(index)
    return bad
