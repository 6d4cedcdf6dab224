"""Review findings (changes since 7b583db): each test failed before its fix."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from server import create_app, db, users  # noqa: E402
from server_testkit import ADMIN_PASSWORD, PASSWORD, api_token, customer_values  # noqa: E402
from sync import ManualClock  # noqa: E402

MOVED = "2026-11-20T09:00:00+08:00"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    data_dir = str(tmp_path / "server")
    app: Flask = create_app({"TESTING": True, "DATA_DIR": data_dir, "ADMIN_PASSWORD": ADMIN_PASSWORD, "CLOCK": ManualClock()})
    with app.app_context():
        store = db.get_store()
        for name, role in (("rep1", "sales_rep"), ("boss", "boss"), ("clerk", "warehouse"), ("buyer", "purchasing")):
            users.create_user(store, name, PASSWORD, role, display_name=name)
    yield app.test_client()
    db.close_store(data_dir)


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, username)}"}


def store_of(client: FlaskClient) -> Any:
    with client.application.app_context():
        return db.get_store()


@pytest.fixture
def depot(client: FlaskClient) -> dict[str, Any]:
    boss = bearer(client, "boss")
    wh = client.post("/api/warehouses", headers=boss, json={"code": "WH01", "name": "一号仓"}).get_json()
    product = client.post("/api/products", headers=boss, json={"code": "FM-1", "name": "球阀", "price": 300}).get_json()
    return {"boss": boss, "wh": wh["id"], "product": product["id"]}


def _count(client: FlaskClient, sql: str) -> int:
    return int(store_of(client).db.execute(sql).fetchone()[0])


def test_a_move_posted_with_reverses_id_cannot_reverse_twice_or_mismatch(client: FlaskClient, depot: dict[str, Any]) -> None:
    """POST /api/stock_moves with ``reverses_id`` skipped every reversal check the sync rules make
    (already reversed, a reversal of a reversal, a different kind or quantity): the ledger counted
    the same correction twice."""
    boss, wh, product = depot["boss"], depot["wh"], depot["product"]
    base = {"warehouse_id": wh, "product_id": product, "moved_at": MOVED}
    client.post("/api/stock_moves", headers=boss, json={**base, "kind": "in", "quantity": 10, "unit_cost": 5})
    out = client.post("/api/stock_moves", headers=boss, json={**base, "kind": "out", "quantity": 4}).get_json()
    first = client.post("/api/stock_moves", headers=boss, json={**base, "kind": "out", "quantity": 4, "reverses_id": out["id"]})
    assert first.status_code == 201, first.get_json()
    moves = _count(client, "SELECT count(*) FROM stock_moves")
    for body in (
        {**base, "kind": "out", "quantity": 4, "reverses_id": out["id"]},               # reversed already
        {**base, "kind": "out", "quantity": 4, "reverses_id": first.get_json()["id"]},  # a reversal of a reversal
        {**base, "kind": "in", "quantity": 7, "reverses_id": "no-such-move"},           # nothing to reverse
    ):
        answer = client.post("/api/stock_moves", headers=boss, json=body)
        assert answer.status_code in (404, 409, 422), (body, answer.get_json())
    assert _count(client, "SELECT count(*) FROM stock_moves") == moves
    level = client.get(f"/api/stock?warehouse_id={wh}", headers=boss).get_json()["items"][0]
    assert level["quantity"] == 10


def test_a_reversal_posted_with_another_kind_or_quantity_is_refused(client: FlaskClient, depot: dict[str, Any]) -> None:
    boss, wh, product = depot["boss"], depot["wh"], depot["product"]
    base = {"warehouse_id": wh, "product_id": product, "moved_at": MOVED}
    client.post("/api/stock_moves", headers=boss, json={**base, "kind": "in", "quantity": 10, "unit_cost": 5})
    out = client.post("/api/stock_moves", headers=boss, json={**base, "kind": "out", "quantity": 4}).get_json()
    answer = client.post("/api/stock_moves", headers=boss, json={**base, "kind": "in", "quantity": 9, "reverses_id": out["id"]})
    assert answer.status_code in (409, 422), answer.get_json()
    assert client.get(f"/api/stock?warehouse_id={wh}", headers=boss).get_json()["items"][0]["quantity"] == 6


def _outbound(client: FlaskClient, depot: dict[str, Any], quantity: int) -> str:
    rep, boss = bearer(client, "rep1"), depot["boss"]
    customer = client.post("/api/customers", headers=rep, json=customer_values()).get_json()
    order = client.post("/api/orders", headers=rep, json={"customer_id": customer["id"], "outbound_requested": True,
                                                          "lines": [{"product_id": depot["product"], "quantity": quantity,
                                                                     "unit_price": 300}]}).get_json()
    client.post(f"/api/orders/{order['id']}/submit", headers=rep)
    assert client.post(f"/api/orders/{order['id']}/approve", headers=boss).status_code == 200
    pending = client.get("/api/outbound_requests?status=pending", headers=bearer(client, "clerk")).get_json()
    return str(pending["items"][0]["id"])


def test_shipping_the_same_product_on_two_lines_cannot_ship_more_than_is_left(client: FlaskClient, depot: dict[str, Any]) -> None:
    """Each line was checked against what is left on its own: two lines of 4 shipped 8 of 5."""
    request_id = _outbound(client, depot, 5)
    clerk = bearer(client, "clerk")
    line = {"product_id": depot["product"], "quantity": 4}
    answer = client.post(f"/api/outbound_requests/{request_id}/ship", headers=clerk, json={"lines": [line, line]})
    assert answer.status_code == 422, answer.get_json()
    assert _count(client, "SELECT count(*) FROM stock_moves") == 0


def test_receiving_the_same_product_on_two_lines_cannot_receive_more_than_ordered(client: FlaskClient, depot: dict[str, Any]) -> None:
    buyer, clerk = bearer(client, "buyer"), bearer(client, "clerk")
    po = client.post("/api/purchase_orders", headers=buyer, json={
        "supplier": "温州阀门厂", "warehouse_id": depot["wh"],
        "lines": [{"product_id": depot["product"], "quantity": 2, "unit_cost": 230}]}).get_json()
    line = {"product_id": depot["product"], "quantity": 2}
    answer = client.post(f"/api/purchase_orders/{po['id']}/receive", headers=clerk, json={"lines": [line, line]})
    assert answer.status_code == 422, answer.get_json()
    assert _count(client, "SELECT count(*) FROM stock_moves") == 0


def test_a_purchase_order_naming_a_product_twice_is_not_done_before_all_of_it_arrives(
        client: FlaskClient, depot: dict[str, Any]) -> None:
    """Lines were keyed by product: two lines of 2 and 3 received 3 and showed the order done."""
    buyer, clerk = bearer(client, "buyer"), bearer(client, "clerk")
    answer = client.post("/api/purchase_orders", headers=buyer, json={
        "supplier": "温州阀门厂", "warehouse_id": depot["wh"],
        "lines": [{"product_id": depot["product"], "quantity": 2, "unit_cost": 230},
                  {"product_id": depot["product"], "quantity": 3, "unit_cost": 230}]})
    if answer.status_code == 422:  # refused outright: nothing written
        assert _count(client, "SELECT count(*) FROM purchase_orders") == 0
        return
    po = answer.get_json()
    received = client.post(f"/api/purchase_orders/{po['id']}/receive", headers=clerk).get_json()
    moved = sum(m["quantity"] for m in received["moves"])
    assert moved == 5 or received["purchase_order"]["status"] != "done", received


def test_an_order_naming_an_unknown_warehouse_is_refused(client: FlaskClient, depot: dict[str, Any]) -> None:
    """The order was stored with any ``warehouse_id``; once approved its outbound request went to a
    warehouse no kiosk holds, so nobody ever saw it to ship."""
    rep = bearer(client, "rep1")
    customer = client.post("/api/customers", headers=rep, json=customer_values()).get_json()
    answer = client.post("/api/orders", headers=rep, json={
        "customer_id": customer["id"], "outbound_requested": True, "warehouse_id": "no-such-warehouse",
        "lines": [{"product_id": depot["product"], "quantity": 1, "unit_price": 300}]})
    assert answer.status_code == 422, answer.get_json()
    assert _count(client, "SELECT count(*) FROM sales_orders") == 0
