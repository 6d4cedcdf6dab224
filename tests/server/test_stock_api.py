"""The warehouse on the server and on kiosks (devices over the Flask test client): moves, the
ledger with late moves and negative balances, outbound from approved orders, receiving, scopes."""
from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from client import sales_web as device_rights
from server import stock, users
from server_testkit import PASSWORD, api_token, customer_values
from shared.web.errors import ApiError
from shared.web.stock_service import StockHooks, StockService


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, username)}"}


def kiosk_service(device: Any, warehouse_id: str) -> StockService:
    user = {"id": device.user["id"]}
    return StockService(device.store, user, StockHooks(can=lambda u, m, a: device_rights.can(device.store, u, m, a),
                                                       warehouse_id=lambda: warehouse_id))


@pytest.fixture
def depot(client: FlaskClient, store: Any, people: dict[str, Any]) -> dict[str, Any]:
    boss = bearer(client, "boss")
    users.create_user(store, "buyer", PASSWORD, "purchasing", display_name="Buyer")
    wh1 = client.post("/api/warehouses", headers=boss, json={"code": "WH01", "name": "一号仓"}).get_json()
    wh2 = client.post("/api/warehouses", headers=boss, json={"code": "WH02", "name": "二号仓"}).get_json()
    product = client.post("/api/products", headers=boss, json={"code": "FM-1", "name": "球阀", "price": 300,
                                                              "barcode": "6901234500011"}).get_json()
    return {"boss": boss, "wh1": wh1, "wh2": wh2, "product": product}


def _enroll_kiosk(client: FlaskClient, devices: Any, code: str, username: str) -> Any:
    """A device of ``username`` recorded as a kiosk of warehouse ``code`` (as ``fieldbook enroll --warehouse``)."""
    device = devices(username, f"{code} kiosk")
    from server import db

    with client.application.app_context():
        db.get_store().db.execute("UPDATE devices SET warehouse = ? WHERE id = ?", [code, device.store.site_id])
    return device


def test_moves_ledger_late_move_and_reversal_on_the_server(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    boss, wh, product = depot["boss"], depot["wh1"]["id"], depot["product"]["id"]
    def move(**values: Any) -> dict[str, Any]:
        answer = client.post("/api/stock_moves", headers=boss, json={"warehouse_id": wh, "product_id": product, **values})
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    move(kind="in", quantity=10, unit_cost=100, moved_at="2026-11-20T09:00:00+08:00")
    move(kind="in", quantity=10, unit_cost=130, moved_at="2026-11-20T10:00:00+08:00")
    out = move(kind="out", quantity=4, moved_at="2026-11-20T11:00:00+08:00")
    ledger = client.get(f"/api/stock-ledger?warehouse_id={wh}&product_id={product}", headers=boss).get_json()
    assert [(r["quantity"], r["balance"], r["average_cost"]) for r in ledger["items"]] == [
        (10, 10, 100.0), (10, 20, 115.0), (-4, 16, 115.0)]
    level = client.get(f"/api/stock?warehouse_id={wh}", headers=boss).get_json()["items"][0]
    assert level["quantity"] == 16 and level["average_cost"] == 115.0 and not level["negative"]
    assert client.patch(f"/api/stock_moves/{out['id']}", headers=boss, json={"quantity": 1}).status_code == 405
    reversal = client.post(f"/api/stock_moves/{out['id']}/reverse", headers=boss, json={"reason": "录错"})
    assert reversal.status_code == 201 and reversal.get_json()["reverses_id"] == out["id"]
    assert client.post(f"/api/stock_moves/{out['id']}/reverse", headers=boss).get_json()["error"]["code"] == "already_reversed"
    assert client.get(f"/api/stock?warehouse_id={wh}", headers=boss).get_json()["items"][0]["quantity"] == 20
    rows_before = stock.ledger_rows(store, wh, product)[0]
    assert stock.rebuild(store) == len(rows_before)
    assert stock.ledger_rows(store, wh, product)[0] == rows_before


def test_bad_moves_write_nothing(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    boss, wh, product = depot["boss"], depot["wh1"]["id"], depot["product"]["id"]
    count = store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0]
    for body in (
        {"kind": "out", "warehouse_id": wh, "product_id": product, "quantity": 0, "moved_at": "2026-11-20T09:00:00+08:00"},
        {"kind": "out", "warehouse_id": wh, "product_id": product, "quantity": -2, "moved_at": "2026-11-20T09:00:00+08:00"},
        {"kind": "transfer", "warehouse_id": wh, "product_id": product, "quantity": 2, "moved_at": "2026-11-20T09:00:00+08:00"},
        {"kind": "teleport", "warehouse_id": wh, "product_id": product, "quantity": 2, "moved_at": "2026-11-20T09:00:00+08:00"},
        {"kind": "in", "warehouse_id": "nope", "product_id": product, "quantity": 2, "moved_at": "2026-11-20T09:00:00+08:00"},
        {"kind": "in", "warehouse_id": wh, "product_id": "nope", "quantity": 2, "moved_at": "2026-11-20T09:00:00+08:00"},
        {"kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 2, "moved_at": "yesterday"},
    ):
        answer = client.post("/api/stock_moves", headers=boss, json=body)
        assert answer.status_code in (404, 422), (body, answer.get_json())
    rep = client.post("/api/stock_moves", headers=bearer(client, "rep1"), json={
        "kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 2, "moved_at": "2026-11-20T09:00:00+08:00"})
    assert rep.status_code == 403
    assert store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == count


def test_two_offline_kiosks_ship_the_last_unit_and_a_late_move_recomputes(
        client: FlaskClient, store: Any, depot: dict[str, Any], devices: Any, clock: Any) -> None:
    users.create_user(store, "clerk2", PASSWORD, "warehouse", display_name="Clerk 2")
    wh, product = depot["wh1"]["id"], depot["product"]["id"]
    client.post("/api/stock_moves", headers=depot["boss"], json={
        "kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 1, "unit_cost": 200,
        "moved_at": "2026-11-20T09:00:00+08:00"})
    a = _enroll_kiosk(client, devices, "WH01", "clerk")
    b = _enroll_kiosk(client, devices, "WH01", "clerk2")
    a.sync(), b.sync()
    assert a.store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 1  # its warehouse's moves
    assert a.store.db.execute("SELECT count(*) FROM customers").fetchone()[0] == 0
    first = kiosk_service(a, wh).record_move({"kind": "out", "warehouse_id": wh, "product_id": product, "quantity": 1})
    clock.advance(1000)
    second = kiosk_service(b, wh).record_move({"kind": "out", "warehouse_id": wh, "product_id": product, "quantity": 1})
    with pytest.raises(ApiError) as other:
        kiosk_service(a, wh).record_move({"kind": "in", "warehouse_id": depot["wh2"]["id"], "product_id": product, "quantity": 1})
    assert other.value.code == "other_warehouse"
    b.sync()  # the later move arrives first
    a.sync()  # the earlier one arrives late: it takes its place before b's
    rows = stock.ledger_rows(store, wh, product)[0]
    assert [r["move_id"] for r in rows][1:] == [first["id"], second["id"]]
    assert [r["balance"] for r in rows] == [1, 0, -1] and [r["negative"] for r in rows] == [False, False, True]
    level = store.get("stock_level", stock.key_id(wh, product))
    assert level["quantity"] == -1 and level["negative"]
    flagged = store.db.execute("SELECT user_id FROM notifications WHERE kind = 'stock_negative'").fetchall()
    assert {u for (u,) in flagged} >= {users.get_user_by_name(store, "clerk")["id"], users.get_user_by_name(store, "buyer")["id"]}
    a.sync(), b.sync()
    for device in (a, b):  # the kiosk computes the same ledger from the moves it holds
        local = kiosk_service(device, wh).ledger(wh, product)
        assert [(r["move_id"], r["balance"], r["negative"]) for r in local["items"]] == \
            [(r["move_id"], r["balance"], r["negative"]) for r in rows]


def test_rep_sees_levels_but_never_costs_or_moves(client: FlaskClient, store: Any, depot: dict[str, Any], devices: Any) -> None:
    wh, product = depot["wh1"]["id"], depot["product"]["id"]
    client.post("/api/stock_moves", headers=depot["boss"], json={
        "kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 5, "unit_cost": 200,
        "moved_at": "2026-11-20T09:00:00+08:00"})
    rep = devices("rep1")
    rep.sync()
    assert rep.store.db.execute("SELECT quantity FROM stock_levels").fetchall() == [(5.0,)]
    assert rep.store.db.execute("SELECT count(*) FROM stock_costs").fetchone()[0] == 0
    assert rep.store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 0
    api = client.get(f"/api/stock?product_id={product}", headers=bearer(client, "rep1")).get_json()
    assert api["items"][0]["quantity"] == 5


def test_approved_order_becomes_an_outbound_request_shipped_in_parts(
        client: FlaskClient, store: Any, depot: dict[str, Any], people: dict[str, Any]) -> None:
    boss, wh, product = depot["boss"], depot["wh1"]["id"], depot["product"]["id"]
    client.post("/api/stock_moves", headers=boss, json={"kind": "in", "warehouse_id": wh, "product_id": product,
                                                         "quantity": 3, "unit_cost": 200, "moved_at": "2026-11-20T09:00:00+08:00"})
    rep = bearer(client, "rep1")
    customer = client.post("/api/customers", headers=rep, json=customer_values()).get_json()
    order = client.post("/api/orders", headers=rep, json={"customer_id": customer["id"], "outbound_requested": True,
                                                          "lines": [{"product_id": product, "quantity": 5, "unit_price": 300}]}).get_json()
    client.post(f"/api/orders/{order['id']}/submit", headers=rep)
    client.post(f"/api/orders/{order['id']}/approve", headers=boss)
    clerk = bearer(client, "clerk")
    pending = client.get("/api/outbound_requests?status=pending", headers=clerk).get_json()
    assert pending["total"] == 1 and pending["items"][0]["order_id"] == order["id"]
    request_id = pending["items"][0]["id"]
    detail = client.get(f"/api/outbound_requests/{request_id}", headers=clerk).get_json()
    assert detail["shortages"] == [{"product_id": product, "remaining": 5, "available": 3, "short": 2}]
    too_many = client.post(f"/api/outbound_requests/{request_id}/ship", headers=clerk, json={"lines": [{"product_id": product, "quantity": 6}]})
    assert too_many.status_code == 422
    shipped = client.post(f"/api/outbound_requests/{request_id}/ship", headers=clerk, json={"lines": [{"product_id": product, "quantity": 3}]}).get_json()
    assert shipped["request"]["status"] == "partial" and shipped["request"]["lines"][0]["remaining"] == 2
    made = client.post(f"/api/outbound_requests/{request_id}/purchase", headers=clerk)
    assert made.status_code == 201 and made.get_json()["items"][0]["quantity"] == 2
    assert client.post(f"/api/outbound_requests/{request_id}/purchase", headers=clerk).get_json()["total"] == 0  # not twice
    assert store.get("outbound_request", request_id)["status"] == "partial"
    # receiving a purchase order fills the shortage; shipping the rest finishes the request
    buyer = bearer(client, "buyer")
    po = client.post("/api/purchase_orders", headers=buyer, json={"supplier": "温州阀门厂", "warehouse_id": wh,
                                                                  "lines": [{"product_id": product, "quantity": 2, "unit_cost": 230}]})
    assert po.status_code == 201, po.get_json()
    received = client.post(f"/api/purchase_orders/{po.get_json()['id']}/receive", headers=clerk).get_json()
    assert received["purchase_order"]["status"] == "done"
    done = client.post(f"/api/outbound_requests/{request_id}/ship", headers=clerk).get_json()
    assert done["request"]["status"] == "done" and done["shortages"] == []
    assert store.get("outbound_request", request_id)["status"] == "done"
    assert client.get(f"/api/stock?warehouse_id={wh}", headers=boss).get_json()["items"][0]["quantity"] == 0


def test_enrolling_a_kiosk_for_an_unknown_warehouse_is_refused(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    body = {"username": "clerk", "password": PASSWORD, "device_id": "kiosk-0000-0001", "name": "kiosk", "warehouse": "WH99"}
    refused = client.post("/api/devices/enroll", json=body)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "unknown_warehouse"
    assert store.db.execute("SELECT count(*) FROM devices").fetchone()[0] == 0
    enrolled = client.post("/api/devices/enroll", json={**body, "warehouse": "WH01"})
    assert enrolled.status_code == 201
    assert stock.device_warehouse(store, "kiosk-0000-0001") == depot["wh1"]["id"]


def test_purchase_order_with_an_unknown_product_writes_nothing(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    buyer = bearer(client, "buyer")
    refused = client.post("/api/purchase_orders", headers=buyer, json={
        "supplier": "x", "warehouse_id": depot["wh1"]["id"], "lines": [{"product_id": "nope", "quantity": 1}]})
    assert refused.status_code == 422 and "lines" in refused.get_json()["error"]["fields"]
    assert store.db.execute("SELECT count(*) FROM purchase_orders").fetchone()[0] == 0


def test_a_move_by_an_operator_without_stock_rights_is_refused(client: FlaskClient, store: Any, depot: dict[str, Any],
                                                                 devices: Any, people: dict[str, Any]) -> None:
    wh, product = depot["wh1"]["id"], depot["product"]["id"]
    kiosk = _enroll_kiosk(client, devices, "WH01", "clerk")
    kiosk.sync()
    service = kiosk_service(kiosk, wh)
    ok = service.record_move({"kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 2})
    rep_move = service.record_move({"kind": "in", "warehouse_id": wh, "product_id": product, "quantity": 3,
                                    "operator_id": people["rep1"]["id"]})  # a rep who switched in on the kiosk
    kiosk.sync()
    assert store.event_row("stock_move", ok["id"]) is not None
    assert store.event_row("stock_move", rep_move["id"]) is None
    assert [r["reason"] for r in kiosk.store.rejections() if r["record_id"] == rep_move["id"]] == ["operator_not_allowed"]


def test_a_rep_on_the_server_api_sees_levels_but_no_costs_moves_or_outbound(client: FlaskClient, depot: dict[str, Any]) -> None:
    boss, wh, product = depot["boss"], depot["wh1"]["id"], depot["product"]["id"]
    moved = client.post("/api/stock_moves", headers=boss, json={"kind": "in", "warehouse_id": wh, "product_id": product,
                                                                "quantity": 4, "unit_cost": 200, "moved_at": "2026-11-20T09:00:00+08:00"})
    rep = bearer(client, "rep1")
    level = client.get(f"/api/stock?warehouse_id={wh}", headers=rep).get_json()["items"][0]
    assert level["quantity"] == 4 and level["average_cost"] is None
    assert client.get(f"/api/stock?warehouse_id={wh}", headers=boss).get_json()["items"][0]["average_cost"] == 200.0
    for path in (f"/api/stock-ledger?warehouse_id={wh}", "/api/stock_moves", f"/api/stock_moves/{moved.get_json()['id']}",
                 "/api/outbound_requests", "/api/purchase_orders", "/api/purchase_requests"):
        answer = client.get(path, headers=rep)
        assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "no_permission", path
        assert client.get(path, headers=boss).status_code == 200, path


def test_an_order_naming_an_unknown_warehouse_ships_from_the_default_one(client: FlaskClient, store: Any,
                                                                         depot: dict[str, Any], devices: Any) -> None:
    from client import sales_web as rights
    from shared.web.sales_service import SalesHooks, SalesService

    rep = devices("rep1")
    rep.sync()
    customer = rep.store.create("customer", {**customer_values(), "owner_id": rep.user["id"]}, rep.user["id"])
    on_device = SalesService(rep.store, {"id": rep.user["id"]},
                             SalesHooks(can=lambda u, m, a: rights.can(rep.store, u, m, a)))
    order = on_device.create_order({"customer_id": customer, "outbound_requested": True,
                                    "lines": [{"product_id": depot["product"]["id"], "quantity": 1, "unit_price": 300}]})
    rep.store.update("sales_order", order["id"], {"warehouse_id": "no-such-warehouse"}, rep.user["id"])  # an older app might
    on_device.submit("sales_order", order["id"])
    rep.sync()
    assert client.post(f"/api/orders/{order['id']}/approve", headers=depot["boss"]).status_code == 200
    request = store.get("outbound_request", f"ob-{order['id']}")
    assert request["warehouse_id"] == depot["wh1"]["id"]  # WH01 is the first by code


def test_a_kiosk_counts_what_it_holds_from_its_own_moves_while_offline(client: FlaskClient, store: Any,
                                                                       depot: dict[str, Any], devices: Any) -> None:
    wh, product = depot["wh1"]["id"], depot["product"]["id"]
    client.post("/api/stock_moves", headers=depot["boss"], json={"kind": "in", "warehouse_id": wh, "product_id": product,
                                                                 "quantity": 3, "unit_cost": 200, "moved_at": "2026-11-20T09:00:00+08:00"})
    kiosk = _enroll_kiosk(client, devices, "WH01", "clerk")
    kiosk.sync()
    service = kiosk_service(kiosk, wh)
    assert service.available(product, wh) == 3
    service.record_move({"kind": "out", "warehouse_id": wh, "product_id": product, "quantity": 2})  # not synced
    assert service.available(product, wh) == 1  # the server's level (3) is behind; the kiosk knows better
    assert service.levels(wh)["items"][0]["quantity"] == 3  # GET /api/stock stays the server's figure "as of"
    kiosk.sync()
    assert service.available(product, wh) == 1 and service.levels(wh)["items"][0]["quantity"] == 1
