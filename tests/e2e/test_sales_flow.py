"""End to end with real processes: the sales flow of issue 5 across a server and three clients.

A rep's laptop (A) and second device (A2), a manager's laptop (B; sales_manager + sales_approval),
a boss and a finance clerk (receipt_approval) on the server's API. Offline = the server stopped.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from .harness import ADMIN_PASSWORD, Api, Cluster, run

pytestmark = pytest.mark.e2e

REP = ("lina", "lina-pass-1", "sales_rep")
MANAGER = ("zhang", "zhang-pass-1", "sales_manager")
BOSS = ("wang", "wang-pass-1", "boss")
FINANCE = ("qian", "qian-pass-1", "finance")

def _issues_page(base: str, username: str, password: str) -> str:
    """The client's sync issues page, logged in like a browser (CSRF token from the login form)."""
    http = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{base}/login", timeout=10).text)
    assert token, "the login form has no CSRF token"
    http.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": token.group(1)}, timeout=10)
    page = http.get(f"{base}/sync-issues", timeout=10)
    assert page.status_code == 200
    return page.text


def _shows(page: str, reason: str, record_id: str) -> bool:
    """The issue is listed (by its reason code, whatever the page's language) and names the order: the
    record itself, or — for a refused decision — in the decision's values the page shows."""
    return f'data-reason="{reason}"' in page and record_id in page


def _lines(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(l["product_id"], l["quantity"], l["unit_price"], l["discount"], l["tax_rate"], l["amount"]) for l in doc["lines"]]


def _receivable(api: Api, customer_id: str, order_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ledger = api.get("/api/receivables", params={"customer_id": customer_id})
    items = [i for i in ledger["items"] if i["order_id"] == order_id]
    assert len(items) == 1, ledger
    return items[0], ledger["summary"]


def test_sales_flow_offline_approvals_numbers_receivables_and_refusals(cluster: Cluster) -> None:
    for username, password, role in (REP, MANAGER, BOSS, FINANCE):
        cluster.add_user(username, password, role)
    data = str(cluster.server.data)
    run("role", "grant", "--data", data, "--role", "sales_approval", "--username", MANAGER[0])
    run("role", "grant", "--data", data, "--role", "receipt_approval", "--username", FINANCE[0])
    server = cluster.server
    admin, boss, finance = (Api(server.url, u, p) for u, p in (("admin", ADMIN_PASSWORD), BOSS[:2], FINANCE[:2]))
    valve = admin.post("/api/products", {"code": "V-100", "name": "工业阀门", "price": 120, "unit": "个"})
    gear = admin.post("/api/products", {"code": "G-200", "name": "齿轮", "price": 12.5})
    a = Api(cluster.enroll("laptop_a", *REP[:2]).url, *REP[:2])
    a2 = Api(cluster.enroll("tablet_a2", *REP[:2]).url, *REP[:2])
    b = Api(cluster.enroll("laptop_b", *MANAGER[:2]).url, *MANAGER[:2])
    customer_id = a.post("/api/customers", {"kind": "company", "name": "宁波海川机电有限公司"})["id"]

    # 1. the rep quotes and converts offline; the draft reaches the server and the rep's second device
    server.stop()
    quote = a.post("/api/quotes", {"customer_id": customer_id, "lines": [
        {"product_id": valve["id"], "quantity": 3, "unit_price": 120, "discount": 10, "tax_rate": 13},
        {"product_id": gear["id"], "quantity": 8, "unit_price": 12.5}]})
    order = a.post(f"/api/quotes/{quote['id']}/convert")
    assert order["status"] == "draft" and not order["number_is_final"] and order["number"].startswith("TMP-")
    assert order["total"] == 466.12  # 3 × 120 × 0.9 = 324 + 42.12 tax, + 8 × 12.5 = 100
    server.start()
    a.sync()
    a2.sync()
    assert a2.get(f"/api/orders/{order['id']}")["status"] == "draft"

    # offline again: the rep submits on A; A2 (still holding the draft) changes its lines
    server.stop()
    submitted = a.post(f"/api/orders/{order['id']}/submit", expect=200)
    assert submitted["status"] == "submitted"
    a2_edit = a2.patch(f"/api/orders/{order['id']}", {"lines": [
        {"product_id": gear["id"], "quantity": 1, "unit_price": 1}]})
    assert a2_edit["total"] == 1.0
    server.start()
    a.sync()
    b.sync()
    seen = b.get(f"/api/orders/{order['id']}")
    assert seen["status"] == "submitted" and seen["number_is_final"]

    # the manager approves offline on B; both sync
    server.stop()
    decided = b.post(f"/api/orders/{order['id']}/approve", {"version": seen["version"]}, expect=200)
    assert decided["status"] == "submitted" and decided["pending_decision"] == "approve"
    server.start()
    b.sync()
    a.sync()
    final = boss.get(f"/api/orders/{order['id']}")
    assert final["status"] == "approved" and final["number_is_final"] and re.fullmatch(r"SO\d{8}\d{4}", final["number"])
    for api in (a, b):
        copy = api.get(f"/api/orders/{order['id']}")
        assert (copy["status"], copy["number"], copy["number_is_final"]) == ("approved", final["number"], True)
        assert copy["pending_decision"] is None
    for api in (boss, a, b):
        item, summary = _receivable(api, customer_id, order["id"])
        assert (item["total"], item["received"], item["outstanding"]) == (466.12, 0, 466.12)
        assert summary["outstanding"] == 466.12 and round(sum(summary["buckets"].values()), 2) == 466.12

    # the rep's edit from A2 arrives on an approved order: rejected as frozen, approved content everywhere
    a2.sync()
    assert a2.get("/api/sync/status")["rejections"] >= 1
    assert _shows(_issues_page(a2.base, *REP[:2]), "frozen", order["id"])
    for api in (boss, a, b, a2):
        copy = api.get(f"/api/orders/{order['id']}")
        assert copy["status"] == "approved" and copy["total"] == 466.12 and _lines(copy) == _lines(final)

    # 2. paid in two parts: a quick receive offline, then a receipt; finance approves both on the server
    server.stop()
    first = a.post(f"/api/orders/{order['id']}/receive", {"amount": 200, "method": "cash", "submit": True})
    assert first["status"] == "submitted"
    server.start()
    a.sync()
    second = a.post("/api/receipts", {"customer_id": customer_id, "payer": "海川财务部", "method": "bank_transfer",
                                      "amount": 266.12, "received_at": "2026-11-22",
                                      "allocations": [{"order_id": order["id"], "amount": 266.12}]})
    a.post(f"/api/receipts/{second['id']}/submit", expect=200)
    a.sync()
    for receipt in (first, second):
        done = finance.post(f"/api/receipts/{receipt['id']}/approve", expect=200)
        assert done["status"] == "approved" and done["number"].startswith("SK") and done["number_is_final"]
    a.sync()
    b.sync()
    for api in (boss, a, b):
        item, summary = _receivable(api, customer_id, order["id"])
        assert (item["received"], item["outstanding"]) == (466.12, 0)
        assert summary["outstanding"] == 0

    # 3. a stale approval: B holds the submitted order; the boss rejects it; the rep edits and resubmits;
    #    B approves its old copy without syncing, then syncs: refused, changed_since_seen
    other = a.post("/api/orders", {"customer_id": customer_id, "lines": [
        {"product_id": valve["id"], "quantity": 1, "unit_price": 120}]})
    a.post(f"/api/orders/{other['id']}/submit", expect=200)
    a.sync()
    b.sync()
    stale = b.get(f"/api/orders/{other['id']}")
    assert stale["status"] == "submitted"
    boss.post(f"/api/orders/{other['id']}/reject", {"reason": "数量太少"}, expect=200)
    a.sync()
    assert a.get(f"/api/orders/{other['id']}")["status"] == "rejected"
    new_lines = [{"product_id": valve["id"], "quantity": 5, "unit_price": 118}]
    a.patch(f"/api/orders/{other['id']}", {"lines": new_lines})
    resubmitted = a.post(f"/api/orders/{other['id']}/submit", expect=200)
    a.sync()
    before = b.get("/api/sync/status")["rejections"]
    assert b.post(f"/api/orders/{other['id']}/approve", {"version": stale["version"]}, expect=200)["pending_decision"] == "approve"
    b.sync()
    assert b.get("/api/sync/status")["rejections"] == before + 1
    assert _shows(_issues_page(b.base, *MANAGER[:2]), "changed_since_seen", other["id"])
    for api in (boss, a, b):
        copy = api.get(f"/api/orders/{other['id']}")
        assert copy["status"] == "submitted" and copy["total"] == 590.0 and _lines(copy) == _lines(resubmitted)
        assert copy["pending_decision"] is None
        item_ids = [i["order_id"] for i in api.get("/api/receivables", params={"customer_id": customer_id})["items"]]
        assert other["id"] not in item_ids
