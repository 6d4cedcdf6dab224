"""The server's side of sales (no HTTP): numbering rules, turning approval decisions into status,
the double-entry journal, the rights each device sees, and the sync rules for sales records.

- **Numbers**: a sales order, receipt or quote gets its final number the first time the server
  stores it (pushed or created here): ``prefix + date part + sequence``, the sequence per type and
  period, taken inside the writing transaction (SQLite serializes writers), and recorded in
  ``document_numbers`` whose primary key makes a duplicate impossible.
- **Decisions**: an ``approval`` event that the rules accepted sets the target's status (a server
  change every device pulls), posts the journal on approve and notifies the document's owner.
- **Journal**: order approval posts Dr 1122 receivable / Cr 6001 revenue + Cr 2221 output VAT;
  receipt approval posts Dr 1001 cash or 1002 bank / Cr 1122 receivable for what it allocates and
  Cr 2203 advances for the rest. Amounts are integer fen, every entry balances, and
  ``rebuild_journal`` recomputes the table from the approval events to identical rows.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

import sqlite_utils

from shared.sales import workflow
from shared.schemas.sales import ProductCostSchema
from shared.sales.money import fen, priced_lines
from shared.sales.receivables import outstanding_fen
from sync import Principal, RecordDiff, ServerStore, Verdict
from sync.clock import iso_from_ms

from . import notifications, org, stock
from .db import migrations

AUTHOR = "server"
NUMBERED = ("sales_order", "receipt", "quote")
DATE_FORMATS = {"YYYYMMDD": "%Y%m%d", "YYMMDD": "%y%m%d", "YYYYMM": "%Y%m", "": ""}
DEFAULT_RULES = {"sales_order": ("SO", "YYYYMMDD", 4), "receipt": ("SK", "YYYYMMDD", 4), "quote": ("QT", "YYYYMMDD", 4)}
ACCOUNTS = {
    "1001": "Cash", "1002": "Bank deposits", "1122": "Accounts receivable", "2203": "Advances from customers",
    "2221": "Output VAT payable", "6001": "Sales revenue",
}
DEFAULT_STAGES = (
    ("lead", "初步接洽", "Initial contact", 10, False), ("need", "需求确认", "Needs confirmed", 30, False),
    ("proposal", "方案报价", "Proposal", 50, False), ("negotiation", "谈判审核", "Negotiation", 70, False),
    ("won", "赢单", "Won", 100, True), ("lost", "输单", "Lost", 0, True),
)
#: Which module's rights govern device pushes of each sales entity (None: server-owned).
ENTITY_MODULE: dict[str, str | None] = {
    "product_category": "products", "product": "products", "opportunity": "opportunities", "quote": "quotes",
    "sales_order": "orders", "receipt": "receipts", "approval": None, "sales_target": "targets",
    "product_cost": None, "opportunity_stage": None, "user_rights": None,
}
TIMEZONE = ZoneInfo(os.environ.get("FIELDBOOK_TIMEZONE") or "Asia/Shanghai")


class SalesError(ValueError):
    """A sales write the rules refuse (the message says why; ``code`` is the reason)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code


@migrations(name="sales_numbers_journal")
def _sales_tables(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE numbering_rules (doc_type TEXT PRIMARY KEY, prefix TEXT NOT NULL, date_format TEXT NOT NULL,"
               " digits INTEGER NOT NULL)")
    for doc_type, (prefix, date_format, digits) in DEFAULT_RULES.items():
        db.execute("INSERT INTO numbering_rules VALUES (?, ?, ?, ?)", [doc_type, prefix, date_format, digits])
    db.execute("CREATE TABLE number_sequences (doc_type TEXT NOT NULL, period TEXT NOT NULL, last INTEGER NOT NULL,"
               " PRIMARY KEY (doc_type, period))")
    db.execute("CREATE TABLE document_numbers (number TEXT PRIMARY KEY, doc_type TEXT NOT NULL, record_id TEXT NOT NULL,"
               " UNIQUE (doc_type, record_id))")
    db.execute("CREATE TABLE journal_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL, hlc TEXT NOT NULL,"
               " posted_at TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT NOT NULL, account TEXT NOT NULL,"
               " debit INTEGER NOT NULL, credit INTEGER NOT NULL, memo TEXT)")
    db.execute("CREATE INDEX journal_source ON journal_entries (source, source_id)")


@migrations(name="sales_rights")
def _sales_rights(db: sqlite_utils.Database) -> None:
    """Give roles of a database from before the sales modules their default sales rights."""
    boss = {m: ("view", "edit", "approve") for m in ("products", "opportunities", "quotes", "targets")}
    for role, modules in {**org.SALES_RIGHTS, "boss": boss}.items():
        for module, actions in modules.items():
            for action in actions:
                db.execute("INSERT OR IGNORE INTO role_permissions SELECT code, ?, ? FROM roles WHERE code = ?",
                           [module, action, role])


def seed_stages(store: ServerStore) -> None:
    """Create the default funnel stages once (server changes every device pulls)."""
    with store.write():
        if store.db.execute("SELECT count(*) FROM opportunity_stages").fetchone()[0]:
            return
        for position, (code, zh, en, probability, closed) in enumerate(DEFAULT_STAGES):
            store.create("opportunity_stage", {"code": code, "name_zh": zh, "name_en": en, "probability": probability,
                                               "ordering": position * 10, "closed": closed}, AUTHOR, record_id=f"stage-{code}")


# ---- numbering ----------------------------------------------------------------------------------
def numbering_rules(store: ServerStore) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.query("SELECT * FROM numbering_rules ORDER BY doc_type")]


def save_numbering_rule(store: ServerStore, doc_type: str, prefix: str, date_format: str, digits: int) -> None:
    if doc_type not in DEFAULT_RULES:
        raise SalesError("unknown_doc_type")
    if date_format not in DATE_FORMATS:
        raise SalesError("bad_date_format")
    if not (1 <= len(prefix) <= 10 and prefix.isalnum()) or not 3 <= int(digits) <= 8:
        raise SalesError("bad_rule", "A prefix is 1-10 letters or digits; a sequence has 3-8 digits.")
    with store.write():
        store.db.execute("UPDATE numbering_rules SET prefix = ?, date_format = ?, digits = ? WHERE doc_type = ?",
                         [prefix, date_format, int(digits), doc_type])


def assign_number(store: ServerStore, entity: str, record_id: str) -> str:
    """Give a record its final number (idempotent: a numbered record keeps its number)."""
    with store.write():
        db = store.db
        held = db.execute("SELECT number FROM document_numbers WHERE doc_type = ? AND record_id = ?", [entity, record_id]).fetchone()
        if held is None:
            prefix, date_format, digits = db.execute(
                "SELECT prefix, date_format, digits FROM numbering_rules WHERE doc_type = ?", [entity]).fetchone()
            now = datetime.fromtimestamp(store.now_ms() / 1000, TIMEZONE)
            period = now.strftime(DATE_FORMATS[date_format]) if date_format else ""
            row = db.execute("SELECT last FROM number_sequences WHERE doc_type = ? AND period = ?", [entity, period]).fetchone()
            seq = row[0] if row else 0
            while True:  # a rule edited back to an earlier shape may meet numbers already given
                seq += 1
                number = f"{prefix}{period}{seq:0{int(digits)}d}"
                if db.execute("SELECT 1 FROM document_numbers WHERE number = ?", [number]).fetchone() is None:
                    break
            db.execute("INSERT INTO number_sequences VALUES (?, ?, ?) ON CONFLICT (doc_type, period) DO UPDATE SET last = ?",
                       [entity, period, seq, seq])
            db.execute("INSERT INTO document_numbers VALUES (?, ?, ?)", [number, entity, record_id])
        else:
            number = held[0]
        store.update(entity, record_id, {"number": number, "number_is_final": True}, AUTHOR)
        return number


# ---- decisions and the journal -------------------------------------------------------------------
def apply_decision(store: ServerStore, approval: Mapping[str, Any]) -> None:
    """Turn an accepted ``approval`` event into the target's status, post it, notify the owner."""
    with store.write():
        target, record_id = approval["target"], approval["record_id"]
        values: dict[str, Any] = {"status": workflow.DECISION_STATUS[approval["action"]]}
        if approval["action"] == "approve":
            # in the server's time zone, so its date part is the local approval day the receivable ages from
            approved_at = datetime.fromisoformat(approval["acted_at"]).astimezone(TIMEZONE).isoformat(timespec="milliseconds")
            values.update(approved_by=approval["author_id"], approved_at=approved_at, reject_reason=None)
        else:
            values.update(reject_reason=approval.get("reason") or "", approved_by=None, approved_at=None)
        store.update(target, record_id, values, AUTHOR)
        if approval["action"] == "approve":
            _post(store, approval)
            if target == "sales_order":
                stock.open_outbound(store, record_id)  # the warehouse's kiosk sees what to ship
        record = store.get(target, record_id)
        owner = record.get("owner_id")
        if owner and owner != approval["author_id"]:
            notifications.notify(store, owner, f"{target}_{values['status']}", record.get("customer_id"), {
                "record_id": record_id, "number": record.get("number"), "reason": approval.get("reason"),
                "by": approval["author_id"]})


def journal_lines(store: ServerStore, approval: Mapping[str, Any]) -> list[tuple[str, int, int, str]]:
    """``(account, debit, credit, memo)`` rows an approve decision posts (they balance)."""
    record = store.get(approval["target"], approval["record_id"])
    number = record.get("number") or record["id"]
    if approval["target"] == "sales_order":
        _, total, tax = priced_lines(json.loads(record.get("lines") or "[]"))
        return [("1122", total, 0, f"order {number}"), ("6001", 0, total - tax, f"order {number}"),
                ("2221", 0, tax, f"order {number}")]
    amount = fen(record.get("amount"))
    allocated = sum(fen(a["amount"]) for a in json.loads(record.get("allocations") or "[]"))
    cash = "1001" if record.get("method") == "cash" else "1002"
    return [(cash, amount, 0, f"receipt {number}"), ("1122", 0, allocated, f"receipt {number}"),
            ("2203", 0, amount - allocated, f"receipt {number}")]


def _post(store: ServerStore, approval: Mapping[str, Any]) -> None:
    rows = [(approval["id"], approval["hlc"], approval["acted_at"], approval["target"], approval["record_id"],
             account, debit, credit, memo)
            for account, debit, credit, memo in journal_lines(store, approval) if debit or credit]
    store.db.conn.executemany(
        "INSERT INTO journal_entries (entry, hlc, posted_at, source, source_id, account, debit, credit, memo)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def journal(store: ServerStore, limit: int = 200, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    total = store.db.execute("SELECT count(*) FROM journal_entries").fetchone()[0]
    rows = [dict(r) for r in store.db.query(
        "SELECT * FROM journal_entries ORDER BY hlc, entry, id LIMIT ? OFFSET ?", [limit, offset])]
    return rows, int(total)


def journal_totals(store: ServerStore) -> tuple[int, int]:
    debit, credit = store.db.execute("SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0) FROM journal_entries").fetchone()
    return int(debit), int(credit)


def rebuild_journal(store: ServerStore) -> int:
    """Recompute the journal from the approve decisions in event order; returns the row count."""
    with store.write():
        store.db.execute("DELETE FROM journal_entries")
        store.db.execute("DELETE FROM sqlite_sequence WHERE name = 'journal_entries'")
        for approval in store.db.query("SELECT * FROM approvals WHERE action = 'approve' ORDER BY hlc, id"):
            _post(store, approval)
        return int(store.db.execute("SELECT count(*) FROM journal_entries").fetchone()[0])


def after_write(store: ServerStore, entity: str, record_id: str) -> None:
    """What the server does after any write of a sales record (pushed or its own)."""
    if entity in NUMBERED:
        row = store.db.execute(f"SELECT number_is_final, deleted FROM [{store.registry[entity].table}] WHERE id = ?",
                               [record_id]).fetchone()
        if row is not None and not row[0] and not row[1]:
            assign_number(store, entity, record_id)
    elif entity == "approval":
        event = store.event_row("approval", record_id)
        if event is not None:
            apply_decision(store, event)


# ---- overdue reminders (a daily job) ----------------------------------------------------------------
def remind_overdue(store: ServerStore, today: Any) -> int:
    """Notify each order's owner once per aging bucket its unpaid receivable enters; returns how many."""
    from shared.sales.receivables import receivables

    sent = 0
    with store.write():
        ledger = receivables(store.db, today, open_only=True)
        owners = dict(store.db.execute("SELECT id, owner_id FROM sales_orders WHERE status = 'approved'").fetchall())
        for item in ledger["items"]:
            owner = owners.get(item["order_id"])
            if item["bucket"] == "not_yet_due" or not owner or item["outstanding"] <= 0:
                continue
            key = f'{item["order_id"]}:{item["bucket"]}'
            seen = store.db.execute("SELECT 1 FROM notifications WHERE user_id = ? AND kind = 'receivable_overdue'"
                                    " AND json_extract(detail, '$.key') = ?", [owner, key]).fetchone()
            if seen:
                continue
            notifications.notify(store, owner, "receivable_overdue", item["customer_id"], {
                "key": key, "order_id": item["order_id"], "number": item["number"], "outstanding": item["outstanding"],
                "days_overdue": item["days_overdue"], "bucket": item["bucket"]})
            sent += 1
    return sent


# ---- recycling exemptions (server.recycling) -----------------------------------------------------
RECENT_ORDER_DAYS = 90


def has_open_opportunity(store: ServerStore, customer: Mapping[str, Any], now: datetime) -> bool:
    """A customer with an opportunity in a stage that is not closed is being worked on."""
    return store.db.execute(
        "SELECT 1 FROM opportunities o LEFT JOIN opportunity_stages s ON s.code = o.stage AND coalesce(s.deleted, 0) = 0"
        " WHERE o.customer_id = ? AND coalesce(o.deleted, 0) = 0 AND coalesce(s.closed, 0) = 0 LIMIT 1",
        [customer["id"]]).fetchone() is not None


def has_recent_order(store: ServerStore, customer: Mapping[str, Any], now: datetime) -> bool:
    """A customer with an order created in the last ``RECENT_ORDER_DAYS`` days is not idle."""
    since = (now - timedelta(days=RECENT_ORDER_DAYS)).isoformat()
    for (created,) in store.db.execute(
            "SELECT created_at FROM sales_orders WHERE customer_id = ? AND coalesce(deleted, 0) = 0", [customer["id"]]):
        try:
            if created and datetime.fromisoformat(created) >= datetime.fromisoformat(since):
                return True
        except ValueError:
            continue
    return False


# ---- purchase costs (server-owned, sent only to roles with cost rights) ----------------------------
def save_product_cost(store: ServerStore, product_id: str, cost: Any, author: str) -> float:
    """Set a product's purchase cost (the ``product_cost`` record shares the product's id); validated
    (non-negative, at most 4 decimals: ``ValidationError`` otherwise, nothing written)."""
    values = ProductCostSchema().load({"product_id": product_id, "cost": cost})
    with store.write():
        if store.db.execute("SELECT 1 FROM product_costs WHERE id = ?", [product_id]).fetchone() is None:
            store.create("product_cost", values, author, record_id=product_id)
        else:
            store.update("product_cost", product_id, {**values, "deleted": False}, author)
    return float(values["cost"])


def product_cost(store: ServerStore, product_id: str) -> float | None:
    row = store.db.execute("SELECT cost FROM product_costs WHERE id = ? AND coalesce(deleted, 0) = 0", [product_id]).fetchone()
    return None if row is None else float(row[0])


# ---- rights as devices see them -----------------------------------------------------------------
def refresh_rights(store: ServerStore, user: Mapping[str, Any]) -> None:
    """Keep the user's ``user_rights`` record (sent only to their own devices) equal to their rights."""
    rights = ",".join(sorted(user.get("rights") or ()))
    held = store.db.execute("SELECT rights FROM user_rights WHERE id = ?", [user["id"]]).fetchone()
    if held is not None and held[0] == rights:
        return
    with store.write():
        if held is None:
            store.create("user_rights", {"user_id": user["id"], "rights": rights}, AUTHOR, record_id=user["id"])
        else:
            store.update("user_rights", user["id"], {"rights": rights}, AUTHOR)


# ---- sync rules ---------------------------------------------------------------------------------
def _after(diff: RecordDiff) -> dict[str, Any]:
    return {**diff.before, **{c.field: c.new for c in diff.changes}}


def verdict(store: ServerStore, user: Mapping[str, Any], can: Callable[[str, str], bool],
            in_scope: Callable[[str | None], bool], diff: RecordDiff) -> Verdict:
    """Judge a pushed sales record (``diff.entity`` in ``ENTITY_MODULE``)."""
    if diff.entity == "approval":
        reason = decision_refusal(store, user, can, _after(diff))
        return Verdict.refuse(reason) if reason else Verdict.accept()
    module = ENTITY_MODULE[diff.entity]
    if module is None or not can(module, "edit"):
        if diff.is_new:
            return Verdict.refuse("no_permission")
        return Verdict(rejected_fields={c.field: "no_permission" for c in diff.changes})
    if diff.entity == "sales_target":
        return Verdict.accept() if in_scope(_after(diff).get("user_id")) else Verdict.refuse("no_permission")
    if diff.entity in ("sales_order", "receipt", "quote"):
        return _document_verdict(store, diff)
    return Verdict.accept()


def _document_verdict(store: ServerStore, diff: RecordDiff) -> Verdict:
    after = _after(diff)
    old_status = None if diff.is_new else diff.before.get("status")
    changed = {c.field for c in diff.changes}
    rejected: dict[str, str] = {}
    for name in changed & workflow.SERVER_FIELDS:
        provisional = diff.is_new and (name == "number" or (name == "number_is_final" and not after.get(name))
                                       or after.get(name) in (None, ""))
        if not provisional:
            rejected[name] = "server_owned"
    if "owner_id" in changed and not diff.is_new:
        rejected["owner_id"] = "server_owned"
    if diff.entity != "quote":
        if "status" in changed:
            problem = workflow.transition_problem(old_status, after.get("status"))
            if problem:
                rejected["status"] = problem
        if old_status in workflow.FROZEN:
            for name in changed - {"status"} - set(rejected):
                if name not in ("conflicts", "updated_at"):
                    rejected[name] = "frozen"
        elif old_status is None and after.get("status") not in ("draft", "submitted"):
            return Verdict.refuse("invalid_status")
    if diff.entity in ("sales_order", "quote") and changed & {"lines", "total"}:
        try:
            _, total, _tax = priced_lines(json.loads(after.get("lines") or "[]"))
        except (ValueError, KeyError, TypeError):
            total = None
        if total is None or total != fen(after.get("total")):
            for name in changed & {"lines", "total"}:
                rejected.setdefault(name, "total_mismatch")
    if diff.entity == "receipt" and changed & {"allocations", "amount", "customer_id"}:
        problem = allocation_problem(store, after)
        if problem:
            for name in ("allocations", "amount") if "amount" in changed else ("allocations",):
                rejected.setdefault(name, problem)
    if diff.is_new and rejected and set(rejected) & {"status", "lines", "total"}:
        return Verdict.refuse(sorted(set(rejected.values()))[0])
    return Verdict(rejected_fields=rejected)


def allocation_problem(store: ServerStore, receipt: Mapping[str, Any]) -> str | None:
    """Why a receipt's allocations are wrong (orders of another customer, more than the amount)."""
    try:
        allocations = json.loads(receipt.get("allocations") or "[]")
    except ValueError:
        return "bad_allocation"
    total = 0
    for allocation in allocations:
        row = store.db.execute("SELECT customer_id FROM sales_orders WHERE id = ? AND coalesce(deleted, 0) = 0",
                               [allocation.get("order_id")]).fetchone()
        if row is None or row[0] != receipt.get("customer_id"):
            return "bad_allocation"
        total += fen(allocation.get("amount"))
    return "over_allocated" if total > fen(receipt.get("amount")) else None


def decision_refusal(store: ServerStore, user: Mapping[str, Any], can: Callable[[str, str], bool],
                     event: Mapping[str, Any]) -> str | None:
    """Why an approval decision is refused (None: it stands)."""
    target = event.get("target")
    if target not in workflow.APPROVE_MODULE or not can(workflow.APPROVE_MODULE[target], "approve"):
        return "no_permission"
    try:
        record = store.get(target, str(event.get("record_id")))
    except KeyError:
        record = None
    if record is not None and record.get("customer_id") != event.get("customer_id"):
        record = None
    problem = workflow.decision_problem(target, record, str(event.get("version")))
    if problem or record is None or event.get("action") != "approve" or target != "receipt":
        return problem
    claimed: dict[str, int] = {}  # two allocations to one order must fit together
    for allocation in json.loads(record.get("allocations") or "[]"):
        owed = outstanding_fen(store.db, allocation["order_id"])
        if owed is None:
            return "order_not_approved"
        claimed[allocation["order_id"]] = claimed.get(allocation["order_id"], 0) + fen(allocation["amount"])
        if claimed[allocation["order_id"]] > owed:
            return "over_allocated"
    return None


def now_iso(store: ServerStore) -> str:
    return iso_from_ms(store.now_ms())


def effects(store: ServerStore) -> Callable[[Principal, str, str], None]:
    """``SyncServer``'s effects hook (the same as ``server.effects.hook``: sales and stock)."""
    from . import effects as server_effects

    return server_effects.hook(store)
