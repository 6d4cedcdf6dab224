"""Workflow rules of sales documents, the same on every replica (DESIGN §3.5).

- A device may take only its own transitions: draft → submitted, rejected → submitted (and delete
  a draft or rejected document). approve / reject are decisions recorded as ``approval`` events by
  a user holding ``<module>.approve``; only the server turns a decision into the new status.
- A decision carries the **version** the approver saw: a digest of the document's content fields
  (customer, lines, totals, dates) and of its submission. The server refuses it (``changed_since_seen``)
  when the content differs, or the document was rejected and submitted again, by the time it arrives.
- Once submitted a document's content is frozen until it is rejected back (``frozen``).
- Numbers are provisional (``TMP-…``) until the server assigns the final one.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

#: The fields a decision is about (their digest is the version an approver saw): the content and the
#: submission (``submitted_at``), so a decision taken on one submission never applies to a later one —
#: not even when a rejected document comes back unchanged.
CONTENT_FIELDS: dict[str, tuple[str, ...]] = {
    "sales_order": ("customer_id", "lines", "total", "delivery_date", "due_date", "outbound_requested", "remark",
                    "submitted_at"),
    "receipt": ("customer_id", "payer", "method", "amount", "received_at", "allocations", "remark", "submitted_at"),
}
#: Fields only the server writes (after a document's creation).
SERVER_FIELDS = frozenset({"number", "number_is_final", "approved_by", "approved_at", "reject_reason"})
#: The module whose ``approve`` right decides each document type.
APPROVE_MODULE = {"sales_order": "orders", "receipt": "receipts"}
#: Number prefixes per document type (also the server's default numbering rules).
PREFIX = {"sales_order": "SO", "receipt": "SK", "quote": "QT"}
FROZEN = frozenset({"submitted", "approved"})
DEVICE_TRANSITIONS = frozenset({("draft", "submitted"), ("rejected", "submitted")})
DECISION_STATUS = {"approve": "approved", "reject": "rejected"}


def version(entity: str, values: Mapping[str, Any]) -> str:
    """The digest of a document's content fields (what an approver saw)."""
    content = {}
    for name in CONTENT_FIELDS[entity]:
        value = values.get(name)
        if name in ("lines", "allocations") and isinstance(value, str):
            value = json.loads(value or "[]")
        if name in ("total", "amount") and value is not None:
            value = round(float(value), 2)
        content[name] = value
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def provisional_number(entity: str, site_id: str, ms: int) -> str:
    """A device-made number, unique per device, replaced by the server's final number."""
    return f"TMP-{PREFIX.get(entity, 'DOC')}-{site_id[:6].upper()}-{_base36(ms)}"


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def transition_problem(old: str | None, new: str | None) -> str | None:
    """Why a device may not move a document from status ``old`` to ``new`` (None: allowed)."""
    if old == new:
        return None
    if old is None and new in ("draft", "submitted"):
        return None
    if (old, new) in DEVICE_TRANSITIONS:
        return None
    return "invalid_transition"


def decision_problem(entity: str, values: Mapping[str, Any] | None, seen_version: str) -> str | None:
    """Why a decision on this document (current ``values``) cannot be taken (None: it can)."""
    if values is None or values.get("deleted"):
        return "not_found"
    if values.get("status") != "submitted":
        return "not_submitted"
    if version(entity, values) != seen_version:
        return "changed_since_seen"
    return None
