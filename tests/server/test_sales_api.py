"""The sales API on the server, and sales records arriving by sync (devices over the test client).

Covers: products (reps read, cannot write, never receive costs), quote → order, submit, approve with
the version seen, numbers, receivables paid in two parts, the journal, frozen documents, decisions
refused when the document changed, and offline decisions judged when they sync.
"""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from server import org, sales
from server_testkit import api_token, customer_values


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, username)}"}


@pytest.fixture
def world(client: FlaskClient, store: Any, people: dict[str, Any]) -> dict[str, Any]:
    org.set_user_role(store, people["boss"]["id"], "sales_approval", True)  # boss holds every right anyway
    h = {name: bearer(client, name) for name in ("rep1", "rep2", "boss")}
    boss = h["boss"]
    widget = client.post("/api/products", headers=boss, json={"code": "W-1", "name": "工业阀门", "price": 100, "unit": "个"})
    assert widget.status_code == 201, widget.get_json()
    gear = client.post("/api/products", headers=boss, json={"code": "G-2", "name": "齿轮", "price": 12.5, "barcode": "6901234567892"})
    customer = client.post("/api/customers", headers=h["rep1"], json=customer_values())
    assert customer.status_code == 201
    return {"h": h, "widget": widget.get_json(), "gear": gear.get_json(), "customer": customer.get_json(), "people": people}


def _order(client: FlaskClient, w: dict[str, Any], **extra: Any) -> dict[str, Any]:
    lines = [{"product_id": w["widget"]["id"], "quantity": 3, "unit_price": 100, "discount": 10, "tax_rate": 13},
             {"product_id": w["gear"]["id"], "quantity": 4, "unit_price": 12.5}]
    response = client.post("/api/orders", headers=w["h"]["rep1"],
                           json={"customer_id": w["customer"]["id"], "lines": lines, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_products_are_read_by_reps_and_written_by_product_editors(client: FlaskClient, world: dict[str, Any]) -> None:
    rep = world["h"]["rep1"]
    listed = client.get("/api/products?q=阀门", headers=rep).get_json()
    assert [p["code"] for p in listed["items"]] == ["W-1"] and listed["total"] == 1
    assert client.get("/api/products/lookup?code=6901234567892", headers=rep).get_json()["code"] == "G-2"
    refused = client.post("/api/products", headers=rep, json={"code": "X", "name": "x", "price": 1})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "no_permission"
    clash = client.post("/api/products", headers=world["h"]["boss"], json={"code": "W-1", "name": "dup", "price": 1})
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "duplicate_code"
    bad = client.post("/api/products", headers=world["h"]["boss"], json={"code": "Y", "name": "y", "price": 1.005})
    assert bad.status_code == 422 and "price" in bad.get_json()["error"]["fields"]


def test_order_totals_submit_approve_number_and_receivable(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    order = _order(client, world, due_date="2026-12-01")
    # 3 × 100 − 10 % = 270, + 13 % tax = 35.10 → 305.10; 4 × 12.5 = 50 → 355.10
    assert order["total"] == 355.10 and [l["amount"] for l in order["lines"]] == [305.10, 50.0]
    assert order["status"] == "draft" and order["number_is_final"] and order["number"].startswith("SO")
    rep, boss = world["h"]["rep1"], world["h"]["boss"]
    assert client.post(f"/api/orders/{order['id']}/approve", headers=boss).get_json()["error"]["code"] == "not_submitted"
    submitted = client.post(f"/api/orders/{order['id']}/submit", headers=rep).get_json()
    assert submitted["status"] == "submitted"
    frozen = client.patch(f"/api/orders/{order['id']}", headers=rep, json={"remark": "late change"})
    assert frozen.status_code == 409 and frozen.get_json()["error"]["code"] == "frozen"
    assert client.post(f"/api/orders/{order['id']}/approve", headers=rep).status_code == 403  # reps cannot approve
    stale = client.post(f"/api/orders/{order['id']}/approve", headers=boss, json={"version": "0" * 20})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "changed_since_seen"
    approved = client.post(f"/api/orders/{order['id']}/approve", headers=boss, json={"version": submitted["version"]}).get_json()
    assert approved["status"] == "approved" and approved["approved_by"] == world["people"]["boss"]["id"]
    ledger = client.get(f"/api/receivables?customer_id={world['customer']['id']}", headers=rep).get_json()
    assert [(i["order_id"], i["outstanding"]) for i in ledger["items"]] == [(order["id"], 355.10)]
    assert ledger["summary"]["outstanding"] == 355.10 and sum(ledger["summary"]["buckets"].values()) == pytest.approx(355.10)
    debit, credit = sales.journal_totals(store)
    assert debit == credit == 35510

    # paid in two parts: quick receive of 100, then a receipt for the rest
    first = client.post(f"/api/orders/{order['id']}/receive", headers=rep, json={"amount": 100, "method": "cash", "submit": True})
    assert first.status_code == 201 and first.get_json()["status"] == "submitted"
    over = client.post("/api/receipts", headers=rep, json={
        "customer_id": world["customer"]["id"], "method": "bank_transfer", "amount": 500, "received_at": "2026-11-22",
        "allocations": [{"order_id": order["id"], "amount": 400}]})
    assert over.status_code == 422 and "allocations" in over.get_json()["error"]["fields"]
    second = client.post("/api/receipts", headers=rep, json={
        "customer_id": world["customer"]["id"], "payer": "远航财务", "method": "bank_transfer", "amount": 255.10,
        "received_at": "2026-11-22", "allocations": [{"order_id": order["id"], "amount": 255.10}]}).get_json()
    client.post(f"/api/receipts/{second['id']}/submit", headers=rep)
    for receipt in (first.get_json(), second):
        done = client.post(f"/api/receipts/{receipt['id']}/approve", headers=boss)
        assert done.status_code == 200 and done.get_json()["status"] == "approved", done.get_json()
    ledger = client.get(f"/api/receivables?customer_id={world['customer']['id']}", headers=rep).get_json()
    assert ledger["items"][0]["received"] == 355.10 and ledger["items"][0]["outstanding"] == 0
    assert ledger["summary"]["outstanding"] == 0
    debit, credit = sales.journal_totals(store)
    assert debit == credit == 35510 * 2
    before = sales.journal(store, 1000)[0]
    assert sales.rebuild_journal(store) == len(before)
    assert [{k: r[k] for k in r if k != "id"} for r in sales.journal(store, 1000)[0]] == \
        [{k: r[k] for k in r if k != "id"} for r in before]


def test_rejected_order_is_edited_and_resubmitted(client: FlaskClient, world: dict[str, Any]) -> None:
    order = _order(client, world)
    rep, boss = world["h"]["rep1"], world["h"]["boss"]
    client.post(f"/api/orders/{order['id']}/submit", headers=rep)
    no_reason = client.post(f"/api/orders/{order['id']}/reject", headers=boss, json={})
    assert no_reason.status_code == 422
    rejected = client.post(f"/api/orders/{order['id']}/reject", headers=boss, json={"reason": "价格太低"}).get_json()
    assert rejected["status"] == "rejected" and rejected["reject_reason"] == "价格太低"
    edited = client.patch(f"/api/orders/{order['id']}", headers=rep, json={"lines": [
        {"product_id": world["widget"]["id"], "quantity": 3, "unit_price": 110}]})
    assert edited.status_code == 200 and edited.get_json()["total"] == 330.0
    again = client.post(f"/api/orders/{order['id']}/submit", headers=rep).get_json()
    assert again["status"] == "submitted" and again["version"] != order["version"]


def test_numbers_are_unique_and_follow_the_rule(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    sales.save_numbering_rule(store, "sales_order", "XS", "YYMMDD", 3)
    numbers = [_order(client, world)["number"] for _ in range(5)]
    assert len(set(numbers)) == 5 and all(n.startswith("XS") and len(n) == 2 + 6 + 3 for n in numbers)
    assert sorted(numbers) == numbers


def test_rep_never_sees_another_reps_orders(client: FlaskClient, world: dict[str, Any]) -> None:
    order = _order(client, world)
    other = world["h"]["rep2"]
    assert client.get(f"/api/orders/{order['id']}", headers=other).status_code == 404
    assert client.get("/api/orders", headers=other).get_json()["total"] == 0
    assert client.get("/api/receivables", headers=other).get_json()["summary"]["outstanding"] == 0
    assert client.post(f"/api/orders/{order['id']}/submit", headers=other).status_code == 404


def test_quote_converts_into_a_draft_order_once(client: FlaskClient, world: dict[str, Any]) -> None:
    rep = world["h"]["rep1"]
    quote = client.post("/api/quotes", headers=rep, json={"customer_id": world["customer"]["id"], "lines": [
        {"product_id": world["gear"]["id"], "quantity": 10, "unit_price": 12, "tax_rate": 13}]})
    assert quote.status_code == 201 and quote.get_json()["total"] == 135.6
    converted = client.post(f"/api/quotes/{quote.get_json()['id']}/convert", headers=rep)
    assert converted.status_code == 201
    order = converted.get_json()
    assert order["status"] == "draft" and order["quote_id"] == quote.get_json()["id"] and order["total"] == 135.6
    again = client.post(f"/api/quotes/{quote.get_json()['id']}/convert", headers=rep)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_converted"


def test_opportunities_and_funnel(client: FlaskClient, world: dict[str, Any]) -> None:
    rep = world["h"]["rep1"]
    for stage, amount in (("lead", 1000), ("proposal", 5000), ("proposal", 2500)):
        made = client.post("/api/opportunities", headers=rep, json={
            "customer_id": world["customer"]["id"], "name": f"{stage} 项目", "stage": stage, "amount": amount})
        assert made.status_code == 201, made.get_json()
    bad = client.post("/api/opportunities", headers=rep, json={"customer_id": world["customer"]["id"], "name": "x", "stage": "nope"})
    assert bad.status_code == 422
    funnel = {s["code"]: s for s in client.get("/api/funnel", headers=rep).get_json()["items"]}
    assert funnel["proposal"]["count"] == 2 and funnel["proposal"]["amount"] == 7500 and funnel["proposal"]["weighted"] == 3750
    assert funnel["lead"]["count"] == 1 and funnel["won"]["count"] == 0


def test_targets_set_by_managers_show_progress(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    rep, boss = world["h"]["rep1"], world["h"]["boss"]
    rep_id = world["people"]["rep1"]["id"]
    assert client.post("/api/sales_targets", headers=rep, json={"user_id": rep_id, "month": "2026-11", "amount": 1000}).status_code == 403
    order = _order(client, world)
    client.post(f"/api/orders/{order['id']}/submit", headers=rep)
    client.post(f"/api/orders/{order['id']}/approve", headers=boss)
    month = sales.now_iso(store)[:7]
    target = client.post("/api/sales_targets", headers=boss, json={"user_id": rep_id, "month": month, "amount": 1000})
    assert target.status_code == 200, target.get_json()
    bench = client.get("/api/workbench", headers=rep).get_json()
    assert bench["target"]["amount"] == 1000 and bench["target"]["achieved"] == 355.10
    assert bench["target"]["progress"] == pytest.approx(0.3551)


def test_workbench_lists_pending_approvals_for_approvers(client: FlaskClient, world: dict[str, Any]) -> None:
    order = _order(client, world)
    client.post(f"/api/orders/{order['id']}/submit", headers=world["h"]["rep1"])
    boss = client.get("/api/workbench", headers=world["h"]["boss"]).get_json()
    assert [p["id"] for p in boss["pending_approvals"]] == [order["id"]]
    assert client.get("/api/workbench", headers=world["h"]["rep1"]).get_json()["pending_approvals"] == []


def test_bad_sales_input_writes_nothing(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    rep = world["h"]["rep1"]
    count = store.db.execute("SELECT count(*) FROM sync_log").fetchone()[0]
    for body in (
        {"customer_id": world["customer"]["id"], "lines": "nope"},
        {"customer_id": world["customer"]["id"], "lines": [{"product_id": "missing", "quantity": 1, "unit_price": 1}]},
        {"customer_id": world["customer"]["id"], "lines": [{"product_id": world["gear"]["id"], "quantity": -1, "unit_price": 1}]},
        {"customer_id": world["customer"]["id"], "lines": [{"product_id": world["gear"]["id"], "quantity": 1, "unit_price": 1, "amount": 5}]},
        {"customer_id": world["customer"]["id"], "lines": [], "status": "approved"},
        {"customer_id": world["customer"]["id"], "lines": [], "total": 5},
        {"customer_id": "someone-elses", "lines": []},
    ):
        response = client.post("/api/orders", headers=rep, json=body)
        assert response.status_code in (404, 422), (body, response.get_json())
        assert "error" in response.get_json()
    assert store.db.execute("SELECT count(*) FROM sync_log").fetchone()[0] == count
