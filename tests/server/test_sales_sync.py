"""Sales records arriving by sync: the server numbers them, judges workflow edits and offline
decisions, and never sends purchase costs to a rep. Devices talk to the real server app over the
Flask test client (HTTP framing, auth, the server's rules)."""
from __future__ import annotations

from typing import Any

import pytest

from client import sales_web as device_rights
from server import org, sales
from server_testkit import customer_values
from shared.web.errors import ApiError
from shared.web.sales_service import SalesHooks, SalesService


def on_device(device: Any) -> SalesService:
    """The service a device's pages use (rights from the replicated record, everything local in scope)."""
    user = {"id": device.user["id"]}
    return SalesService(device.store, user, SalesHooks(can=lambda u, m, a: device_rights.can(device.store, u, m, a)))


def on_server(store: Any, user: dict[str, Any]) -> SalesService:
    from server import sales_web

    return SalesService(store, org.enrich(store, user), sales_web.hooks(store))


@pytest.fixture
def shop(store: Any, people: dict[str, Any], devices: Any) -> dict[str, Any]:
    boss = on_server(store, people["boss"])
    widget = boss.create_product({"code": "W-1", "name": "工业阀门", "price": 100.0})
    sales.save_product_cost(store, widget["id"], 61.5, people["boss"]["id"])
    assert sales.product_cost(store, widget["id"]) == 61.5
    rep = devices("rep1")
    rep.sync()
    customer_id = rep.store.create("customer", {**customer_values(), "owner_id": rep.user["id"]}, rep.user["id"])
    rep.sync()
    return {"widget": widget, "rep": rep, "customer_id": customer_id}


def _draft(device: Any, shop: dict[str, Any], quantity: float = 2) -> dict[str, Any]:
    return on_device(device).create_order({"customer_id": shop["customer_id"], "lines": [
        {"product_id": shop["widget"]["id"], "quantity": quantity, "unit_price": 100.0, "tax_rate": 13}]})


def test_rep_receives_products_but_never_costs_and_cannot_approve(shop: dict[str, Any]) -> None:
    rep = shop["rep"]
    assert rep.store.db.execute("SELECT count(*) FROM products").fetchone()[0] == 1
    assert rep.store.db.execute("SELECT count(*) FROM product_costs").fetchone()[0] == 0
    assert rep.store.db.execute("SELECT count(*) FROM opportunity_stages").fetchone()[0] == 6
    assert not device_rights.can(rep.store, {"id": rep.user["id"]}, "orders", "approve")
    assert device_rights.can(rep.store, {"id": rep.user["id"]}, "orders", "edit")


def test_offline_order_gets_its_final_number_when_it_syncs(store: Any, shop: dict[str, Any]) -> None:
    rep = shop["rep"]
    order = _draft(rep, shop)
    assert order["number"].startswith("TMP-SO-") and not order["number_is_final"]
    rep.sync()
    rep.sync()
    mine = rep.store.get("sales_order", order["id"])
    assert mine["number_is_final"] and mine["number"].startswith("SO") and mine["number"] == store.get("sales_order", order["id"])["number"]


def test_offline_approval_is_applied_by_the_server_and_a_stale_one_is_refused(
        store: Any, people: dict[str, Any], devices: Any, shop: dict[str, Any]) -> None:
    rep = shop["rep"]
    boss_user = people["boss"]
    manager = devices("boss", "boss laptop")
    order = _draft(rep, shop)
    on_device(rep).submit("sales_order", order["id"])
    rep.sync()
    manager.sync()
    seen = on_device(manager).order(order["id"])
    assert seen["status"] == "submitted" and device_rights.can(manager.store, {"id": boss_user["id"]}, "orders", "approve")
    decided = on_device(manager).decide("sales_order", order["id"], "approve", seen["version"])
    assert decided["status"] == "submitted" and decided["pending_decision"] == "approve"  # waits for the server
    with pytest.raises(ApiError) as twice:
        on_device(manager).decide("sales_order", order["id"], "reject", seen["version"], "again")
    assert twice.value.code == "already_decided"
    report = manager.sync()
    assert report.rejected == 0
    manager.sync()
    assert store.get("sales_order", order["id"])["status"] == "approved"
    assert on_device(manager).order(order["id"])["status"] == "approved"
    assert on_device(manager).order(order["id"])["pending_decision"] is None
    rep.sync()
    assert on_device(rep).receivables()["summary"]["outstanding"] == 226.0

    # a second order: the boss's stale copy is approved offline after it was rejected and changed
    second = _draft(rep, shop, quantity=1)
    on_device(rep).submit("sales_order", second["id"])
    rep.sync()
    manager.sync()
    stale = on_device(manager).order(second["id"])
    on_server(store, boss_user).decide("sales_order", second["id"], "reject", reason="数量不对")
    rep.sync()
    on_device(rep).update_order(second["id"], {"lines": [{"product_id": shop["widget"]["id"], "quantity": 5, "unit_price": 100.0}]})
    on_device(rep).submit("sales_order", second["id"])
    rep.sync()
    on_device(manager).decide("sales_order", second["id"], "approve", stale["version"])
    report = manager.sync()
    assert report.rejected == 1
    refused = [r for r in manager.store.rejections() if r["record_id"]]
    assert any(r["reason"] == "changed_since_seen" for r in refused)
    manager.sync()
    assert store.get("sales_order", second["id"])["status"] == "submitted"
    assert on_device(manager).order(second["id"])["total"] == 500.0
    assert manager.store.db.execute("SELECT count(*) FROM approvals WHERE record_id = ? AND action = 'approve'",
                                    [second["id"]]).fetchone()[0] == 0  # the refused decision is dropped


def test_edit_of_an_approved_order_from_a_stale_device_is_rejected(
        store: Any, people: dict[str, Any], devices: Any, shop: dict[str, Any]) -> None:
    rep = shop["rep"]
    phone = devices("rep1", "rep1 phone")
    order = _draft(rep, shop)
    rep.sync()
    phone.sync()  # the phone holds the draft
    on_device(rep).submit("sales_order", order["id"])
    rep.sync()
    on_server(store, people["boss"]).decide("sales_order", order["id"], "approve")
    on_device(phone).update_order(order["id"], {"lines": [{"product_id": shop["widget"]["id"], "quantity": 9, "unit_price": 1.0}]})
    report = phone.sync()
    assert report.rejected >= 1
    reasons = {r["field"]: r["reason"] for r in phone.store.rejections() if r["record_id"] == order["id"]}
    assert reasons.get("lines") == "frozen" and reasons.get("total") == "frozen"
    phone.sync()
    for replica in (store, phone.store):
        row = replica.get("sales_order", order["id"])
        assert row["status"] == "approved" and row["total"] == 226.0
    debit, credit = sales.journal_totals(store)
    assert debit == credit == 22600


def test_device_cannot_forge_server_fields_or_totals(store: Any, shop: dict[str, Any]) -> None:
    rep = shop["rep"]
    order = _draft(rep, shop)
    rep.sync()
    rep.store.update("sales_order", order["id"], {"status": "approved", "number": "SO-FAKE"}, rep.user["id"])
    rep.store.update("sales_order", order["id"], {"total": 1.0}, rep.user["id"])
    rep.sync()
    reasons = {r["field"]: r["reason"] for r in rep.store.rejections() if r["record_id"] == order["id"]}
    assert reasons == {"status": "invalid_transition", "number": "server_owned", "total": "total_mismatch"}
    rep.sync()
    row = rep.store.get("sales_order", order["id"])
    assert row["status"] == "draft" and row["total"] == 226.0 and row["number"].startswith("SO") and row["number"] != "SO-FAKE"
    # a forged approval event from a rep is refused whole
    on = on_device(rep)
    on.submit("sales_order", order["id"])
    rep.store.add_event("approval", {"target": "sales_order", "record_id": order["id"], "customer_id": shop["customer_id"],
                                     "action": "approve", "version": on.order(order["id"])["version"],
                                     "acted_at": "2026-11-22T10:00:00+08:00"}, rep.user["id"])
    rep.sync()
    assert any(r["reason"] == "no_permission" and r["entity"] == "approval" for r in rep.store.rejections())
    assert store.get("sales_order", order["id"])["status"] == "submitted"


def test_recycling_spares_customers_with_an_open_opportunity_or_a_recent_order(store: Any, people: dict[str, Any]) -> None:
    from datetime import datetime, timedelta, timezone

    from server import policy, recycling

    boss, rep1 = people["boss"]["id"], people["rep1"]["id"]
    policy.save_settings(store, ["name"], None, 30, boss)
    now = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
    old = (now - timedelta(days=60)).isoformat()
    ids = {name: store.create("customer", customer_values(name, owner_id=rep1, created_at=old), boss)
           for name in ("机会", "赢单", "订单", "旧订单", "闲置")}
    store.create("opportunity", {"customer_id": ids["机会"], "name": "扩产", "stage": "proposal"}, rep1)
    store.create("opportunity", {"customer_id": ids["赢单"], "name": "已签", "stage": "won"}, rep1)
    store.create("sales_order", {"customer_id": ids["订单"], "status": "draft", "lines": "[]", "total": 0.0,
                                 "created_at": (now - timedelta(days=10)).isoformat()}, rep1)
    store.create("sales_order", {"customer_id": ids["旧订单"], "status": "draft", "lines": "[]", "total": 0.0,
                                 "created_at": (now - timedelta(days=200)).isoformat()}, rep1)
    moved = {m["id"] for m in recycling.recycle_idle(store, now)}
    assert moved == {ids["赢单"], ids["旧订单"], ids["闲置"]}


def test_overdue_reminders_are_sent_once_per_bucket(client: Any, store: Any, people: dict[str, Any], shop: dict[str, Any]) -> None:
    from datetime import date

    from server import jobs, notifications

    rep = shop["rep"]
    order = on_device(rep).create_order({"customer_id": shop["customer_id"], "due_date": "2026-10-01", "lines": [
        {"product_id": shop["widget"]["id"], "quantity": 1, "unit_price": 100.0}]})
    on_device(rep).submit("sales_order", order["id"])
    rep.sync()
    on_server(store, people["boss"]).decide("sales_order", order["id"], "approve")
    rep_id = rep.user["id"]
    assert sales.remind_overdue(store, date(2026, 9, 30)) == 0  # not yet due
    assert sales.remind_overdue(store, date(2026, 10, 20)) == 1
    assert sales.remind_overdue(store, date(2026, 10, 21)) == 0  # same bucket: already told
    assert sales.remind_overdue(store, date(2026, 11, 5)) == 1  # 35 days: the next bucket
    rows, total = notifications.for_user(store, rep_id)
    overdue = [r for r in rows if r["kind"] == "receivable_overdue"]
    assert [r["detail"]["bucket"] for r in overdue] == ["30_60", "0_30"] and overdue[0]["detail"]["outstanding"] == 100.0
    assert any(r["kind"] == "sales_order_approved" for r in rows)  # the decision notified the owner too
    token = client.post("/api/login", json={"username": "rep1", "password": "pass1234"}).get_json()["token"]
    page = client.get("/api/notifications", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert page["total"] == total
    assert jobs.run_reminders(store) == 0  # the job wrapper runs (nothing new today)


def test_cli_numbering_and_ledger_rebuild(tmp_path: Any, capsys: Any) -> None:
    from scripts.cli import main as cli_main
    from server import db, users

    data = str(tmp_path / "cli")
    assert cli_main(["user", "add", "--data", data, "--username", "li", "--password", "pass1234", "--role", "boss"]) == 0
    assert cli_main(["numbering", "--data", data, "--type", "sales_order", "--prefix", "XS", "--date-format", "YYMMDD",
                     "--digits", "5"]) == 0
    assert "sales_order\tXS\tYYMMDD\t5" in capsys.readouterr().out
    assert cli_main(["numbering", "--data", data, "--type", "sales_order", "--prefix", "X-S", "--digits", "5"]) == 2
    assert "bad_rule" in capsys.readouterr().err
    store = db.open_store(data)
    try:
        boss = on_server(store, users.get_user_by_name(store, "li"))
        product = boss.create_product({"code": "P", "name": "P", "price": 10.0})
        customer = store.create("customer", customer_values(owner_id=boss.me), boss.me)
        order = boss.create_order({"customer_id": customer, "lines": [{"product_id": product["id"], "quantity": 2, "unit_price": 10.0}]})
        assert order["number"].startswith("XS") and len(order["number"]) == 2 + 6 + 5
        boss.submit("sales_order", order["id"])
        boss.decide("sales_order", order["id"], "approve")
    finally:
        db.close_store(data)
    assert cli_main(["ledger", "rebuild", "--data", data]) == 0
    assert "journal rebuilt: 2 rows, debit 20.00 = credit 20.00" in capsys.readouterr().out
