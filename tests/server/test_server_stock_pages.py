"""The server's warehouse pages through the Flask test client: warehouses with kiosks, stock levels
(search, paging, costs only for cost roles, Excel), the ledger with the negative flag and the
rebuild, moves with reversal, negative balances and their notifications, outbound, purchasing.
"""
from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from server import db, stock, users
from server_testkit import PASSWORD, PageAuth, api_token, csrf_from, customer_values


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, username)}"}


def login(client: FlaskClient, username: str) -> PageAuth:
    auth = PageAuth(client)
    response = auth.login(username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    client.get("/lang/en")  # the assertions below read English (a language test covers zh_CN)
    return auth


def logout(client: FlaskClient) -> None:
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/notifications").get_data(as_text=True))})


def form_of(html: str, form_id: str) -> dict[str, str]:
    match = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert match, f"no form #{form_id}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(0)))


def row_of(html: str, attr: str, value: str) -> str:
    match = re.search(rf'<tr[^>]*{attr}="{re.escape(value)}".*?</tr>', html, re.S)
    assert match, f"no row {attr}={value}"
    return match.group(0)


@pytest.fixture
def depot(client: FlaskClient, store: Any, people: dict[str, Any]) -> dict[str, Any]:
    """Two warehouses, a product with 1 unit in WH01 at cost 200 (and a second product), a buyer."""
    boss = bearer(client, "boss")
    users.create_user(store, "buyer", PASSWORD, "purchasing", display_name="Buyer Qian")
    wh1 = client.post("/api/warehouses", headers=boss, json={"code": "WH01", "name": "一号仓"}).get_json()
    wh2 = client.post("/api/warehouses", headers=boss, json={"code": "WH02", "name": "二号仓"}).get_json()
    valve = client.post("/api/products", headers=boss, json={"code": "FM-1", "name": "球阀", "price": 300}).get_json()
    gear = client.post("/api/products", headers=boss, json={"code": "GR-2", "name": "Gear", "price": 12}).get_json()
    first = client.post("/api/stock_moves", headers=boss, json={
        "kind": "in", "warehouse_id": wh1["id"], "product_id": valve["id"], "quantity": 1, "unit_cost": 200.1234,
        "moved_at": "2026-11-20T09:00:00+08:00"})
    assert first.status_code == 201, first.get_json()
    return {"boss": boss, "wh1": wh1, "wh2": wh2, "valve": valve, "gear": gear, "first": first.get_json()}


def move(client: FlaskClient, depot: dict[str, Any], **values: Any) -> dict[str, Any]:
    body = {"warehouse_id": depot["wh1"]["id"], "product_id": depot["valve"]["id"], **values}
    answer = client.post("/api/stock_moves", headers=depot["boss"], json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def two_outs_of_the_last_unit(client: FlaskClient, depot: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    a = move(client, depot, kind="out", quantity=1, moved_at="2026-11-20T10:00:00+08:00", reason="kiosk A")
    b = move(client, depot, kind="out", quantity=1, moved_at="2026-11-20T11:00:00+08:00", reason="kiosk B")
    return a, b


PAGES = ["/warehouses", "/stock", "/stock?q=FM&warehouse_id=x", "/stock/ledger", "/stock/moves", "/stock/moves?kind=in&day=2026-11-20",
         "/stock/negative", "/outbound", "/outbound?status=pending", "/purchasing/requests", "/purchasing/orders",
         "/purchasing/orders/new", "/stock/ledger/rebuild", "/notifications"]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_stock_page_renders_for_the_boss_in_both_languages(client: FlaskClient, depot: dict[str, Any], lang: str) -> None:
    two_outs_of_the_last_unit(client, depot)
    login(client, "boss")
    client.get(f"/lang/{lang}")
    wh, valve = depot["wh1"]["id"], depot["valve"]["id"]
    for path in [*PAGES, f"/stock/ledger?warehouse_id={wh}&product_id={valve}", f"/stock/ledger?warehouse_id={wh}",
                 f"/stock/ledger?code=FM-1", f"/warehouses/{wh}", f"/stock/moves/{depot['first']['id']}/reverse"]:
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (path, response.status_code)
        assert f'lang="{lang[:2]}' in html, path
    nav = client.get("/stock").get_data(as_text=True).split("</nav>")[0]
    for link in ("/stock", "/outbound", "/warehouses", "/purchasing/requests"):
        assert f'href="{link}"' in nav, link


def test_pages_need_a_login(client: FlaskClient, depot: dict[str, Any]) -> None:
    for path in ("/stock", "/warehouses", "/stock/ledger", "/stock/moves", "/purchasing/orders"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


@pytest.mark.parametrize("path, rep, clerk, buyer", [
    ("/stock", 200, 200, 200), ("/warehouses", 200, 200, 200), ("/stock/ledger", 403, 200, 200), ("/stock/moves", 403, 200, 200),
    ("/stock/negative", 403, 200, 200), ("/outbound", 403, 200, 200), ("/purchasing/requests", 403, 200, 200),
    ("/purchasing/orders", 403, 200, 200), ("/purchasing/orders/new", 403, 403, 200), ("/stock/ledger/rebuild", 403, 403, 403),
])
def test_rights_of_a_rep_a_warehouse_clerk_and_purchasing(client: FlaskClient, depot: dict[str, Any], path: str,
                                                          rep: int, clerk: int, buyer: int) -> None:
    for username, expected in (("rep1", rep), ("clerk", clerk), ("buyer", buyer)):
        login(client, username)
        assert client.get(path).status_code == expected, (username, path)
        nav = client.get("/notifications").get_data(as_text=True).split("</nav>")[0]
        if path in ("/outbound", "/purchasing/requests"):
            assert (f'href="{path}"' in nav) == (expected == 200), (username, path)
        logout(client)


def test_a_rep_sees_levels_but_no_costs_and_cannot_reverse(client: FlaskClient, depot: dict[str, Any]) -> None:
    auth = login(client, "rep1")
    html = client.get("/stock").get_data(as_text=True)
    assert "FM-1" in row_of(html, "data-product", "FM-1")
    assert "200.12" not in html and "Average cost" not in html and 'class="num cost"' not in html
    assert "/stock/ledger" not in html  # no ledger links or tabs for a rep
    sheet = client.get("/stock?format=xlsx")
    assert sheet.status_code == 200
    from openpyxl import load_workbook

    values = [c.value for row in load_workbook(io.BytesIO(sheet.data)).active.iter_rows() for c in row]
    assert "FM-1" in values and 200.1234 not in values and "Average cost" not in values
    token = auth.csrf("/stock")
    reverse = client.post(f"/stock/moves/{depot['first']['id']}/reverse", data={"csrf_token": token, "confirm": "yes"})
    assert reverse.status_code == 403
    assert client.post("/warehouses", data={"csrf_token": token, "code": "X1", "name": "X"}).status_code == 403


def test_costs_for_boss_and_clerk_with_excel_export(client: FlaskClient, depot: dict[str, Any]) -> None:
    for username in ("boss", "clerk"):
        login(client, username)
        html = client.get("/stock").get_data(as_text=True)
        assert "200.12" in row_of(html, "data-product", "FM-1"), username
        logout(client)
    login(client, "boss")
    sheet = client.get(f"/stock?format=xlsx&warehouse_id={depot['wh1']['id']}")
    from openpyxl import load_workbook

    rows = [[c.value for c in row] for row in load_workbook(io.BytesIO(sheet.data)).active.iter_rows()]
    assert rows[0][:5] == ["Warehouse", "Code", "Product", "Unit", "Quantity"] and "Average cost" in rows[0]
    assert rows[1][:2] == ["WH01", "FM-1"] and 200.1234 in rows[1]


def test_boss_creates_and_edits_a_warehouse_and_sees_its_kiosk(client: FlaskClient, store: Any, depot: dict[str, Any],
                                                               devices: Any) -> None:
    kiosk = devices("clerk", "Dock kiosk")
    with client.application.app_context():
        db.get_store().db.execute("UPDATE devices SET warehouse = 'WH02' WHERE id = ?", [kiosk.store.site_id])
    auth = login(client, "boss")
    html = client.get("/warehouses").get_data(as_text=True)
    assert "Dock kiosk" in row_of(html, "data-warehouse", "WH02") and "Dock kiosk" not in row_of(html, "data-warehouse", "WH01")
    token = form_of(html, "warehouse-form")["csrf_token"]
    without_csrf = client.post("/warehouses", data={"code": "WH03", "name": "三号仓"})
    assert without_csrf.status_code == 400
    bad = client.post("/warehouses", data={"csrf_token": token, "code": "bad code!", "name": ""})
    assert bad.status_code == 422 and 'id="error-code"' in bad.get_data(as_text=True)
    duplicate = client.post("/warehouses", data={"csrf_token": token, "code": "WH01", "name": "again"})
    assert duplicate.status_code == 409 and "Another warehouse has this code" in duplicate.get_data(as_text=True)
    assert store.db.execute("SELECT count(*) FROM warehouses").fetchone()[0] == 2
    made = client.post("/warehouses", data={"csrf_token": token, "code": "WH03", "name": "三号仓", "address": "浦东"})
    assert made.status_code == 303
    row = store.db.execute("SELECT id, name, address FROM warehouses WHERE code = 'WH03'").fetchone()
    assert row[1:] == ("三号仓", "浦东")
    edited = client.post(f"/warehouses/{row[0]}", data={"csrf_token": auth.csrf("/warehouses"), "code": "WH03", "name": "三号仓 东"})
    assert edited.status_code == 303
    assert store.db.execute("SELECT name, address FROM warehouses WHERE id = ?", [row[0]]).fetchone() == ("三号仓 东", None)
    logout(client)
    login(client, "clerk")  # a clerk sees the list but may not change it
    html = client.get("/warehouses").get_data(as_text=True)
    assert "WH03" in html and 'id="warehouse-form"' not in html
    assert client.get(f"/warehouses/{row[0]}").status_code == 403


def test_ledger_flags_the_negative_row_after_two_outs_of_the_last_unit(client: FlaskClient, store: Any,
                                                                        depot: dict[str, Any]) -> None:
    a, b = two_outs_of_the_last_unit(client, depot)
    wh, valve = depot["wh1"]["id"], depot["valve"]["id"]
    login(client, "clerk")
    html = client.get(f"/stock/ledger?warehouse_id={wh}&product_id={valve}").get_data(as_text=True)
    assert 'id="ledger-negative"' in html
    rows = re.findall(r'<tr data-move="([^"]+)"( class="negative" data-negative="1")?', html)
    assert rows == [(depot["first"]["id"], ""), (a["id"], ""), (b["id"], ' class="negative" data-negative="1"')]
    flagged = row_of(html, "data-move", b["id"])
    assert "neg-flag" in flagged and "Negative" in flagged and ">-1" in flagged and "kiosk B" in flagged
    assert "neg-flag" not in row_of(html, "data-move", a["id"])
    assert "Zhang Boss" in flagged  # who recorded it
    assert "200.12" in row_of(html, "data-move", depot["first"]["id"])  # the clerk sees the moving-average cost
    # the same by product code, and the negative list and the level page point to it
    assert 'data-negative="1"' in client.get("/stock/ledger?code=FM-1").get_data(as_text=True)
    negative = client.get("/stock/negative").get_data(as_text=True)
    assert ">-1" in row_of(negative, "data-product", "FM-1")
    assert 'class="negative"' in row_of(client.get("/stock").get_data(as_text=True), "data-product", "FM-1")
    # the clerk (warehouse staff) was notified: the notification names product, warehouse and balance
    notes = client.get("/notifications").get_data(as_text=True)
    note = re.search(r'<li data-kind="stock_negative".*?</li>', notes, re.S)
    assert note and "FM-1" in note.group(0) and "WH01" in note.group(0) and "-1" in note.group(0)
    assert f"/stock/ledger?warehouse_id={wh}" in note.group(0).replace("&amp;", "&")


def test_negative_balance_becomes_a_purchase_request_that_purchasing_orders(client: FlaskClient, store: Any,
                                                                           depot: dict[str, Any]) -> None:
    two_outs_of_the_last_unit(client, depot)
    auth = login(client, "buyer")
    assert "stock_negative" in client.get("/notifications").get_data(as_text=True)
    page = client.get("/stock/negative").get_data(as_text=True)
    made = client.post("/stock/negative/purchase", data={"csrf_token": csrf_from(page), "warehouse_id": depot["wh1"]["id"],
                                                         "product_id": depot["valve"]["id"]})
    assert made.status_code == 303
    request_row = store.db.execute("SELECT id, quantity, status FROM purchase_requests").fetchall()
    assert [(q, s) for _i, q, s in request_row] == [(1.0, "open")]
    html = client.get("/purchasing/requests").get_data(as_text=True)
    row = row_of(html, "data-request", request_row[0][0])
    assert "FM-1" in row and "Buyer Qian" in row and "/purchasing/orders/new?request_id=" in row
    ordered = client.post(f"/purchasing/requests/{request_row[0][0]}/status",
                          data={"csrf_token": auth.csrf("/purchasing/requests"), "status": "ordered"})
    assert ordered.status_code == 303
    assert store.db.execute("SELECT status FROM purchase_requests").fetchone()[0] == "ordered"
    assert 'data-status="ordered"' in client.get("/purchasing/requests?status=ordered").get_data(as_text=True)
    assert "Nothing matches" in client.get("/purchasing/requests?status=open").get_data(as_text=True)
    bad = client.post(f"/purchasing/requests/{request_row[0][0]}/status",
                      data={"csrf_token": auth.csrf("/purchasing/requests"), "status": "open"})
    assert bad.status_code == 400
    logout(client)
    login(client, "clerk")  # the clerk sees purchasing but may not change it
    refused = client.post(f"/purchasing/requests/{request_row[0][0]}/status",
                          data={"csrf_token": auth.csrf("/purchasing/requests"), "status": "closed"})
    assert refused.status_code == 403
    assert store.db.execute("SELECT status FROM purchase_requests").fetchone()[0] == "ordered"


def test_rebuild_asks_for_confirmation_then_shows_the_row_count(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    two_outs_of_the_last_unit(client, depot)
    wh, valve = depot["wh1"]["id"], depot["valve"]["id"]
    before = stock.ledger_rows(store, wh, valve)[0]
    login(client, "boss")
    ledger = client.get(f"/stock/ledger?warehouse_id={wh}&product_id={valve}").get_data(as_text=True)
    assert 'id="rebuild"' in ledger
    store.db.execute("DELETE FROM stock_ledger")  # damaged: only a rebuild brings the rows back
    confirm = client.get(f"/stock/ledger/rebuild?warehouse_id={wh}&product_id={valve}").get_data(as_text=True)
    assert 'id="confirm-form"' in confirm and store.db.execute("SELECT count(*) FROM stock_ledger").fetchone()[0] == 0
    data = form_of(confirm, "confirm-form")
    not_confirmed = client.post("/stock/ledger/rebuild", data={"csrf_token": data["csrf_token"]})
    assert not_confirmed.status_code == 200 and store.db.execute("SELECT count(*) FROM stock_ledger").fetchone()[0] == 0
    assert client.post("/stock/ledger/rebuild", data={"confirm": "yes"}).status_code == 400  # CSRF
    done = client.post(f"/stock/ledger/rebuild?warehouse_id={wh}&product_id={valve}", data=data, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "rebuilt from the moves: 3 rows" in text and 'data-negative="1"' in text
    assert stock.ledger_rows(store, wh, valve)[0] == before
    logout(client)
    clerk = login(client, "clerk")
    assert 'id="rebuild"' not in client.get(f"/stock/ledger?warehouse_id={wh}").get_data(as_text=True)
    assert client.post("/stock/ledger/rebuild", data={"csrf_token": clerk.csrf("/stock"), "confirm": "yes"}).status_code == 403


def test_reverse_a_move_after_confirmation(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    a, b = two_outs_of_the_last_unit(client, depot)
    login(client, "clerk")
    moves = client.get("/stock/moves").get_data(as_text=True)
    assert f"/stock/moves/{b['id']}/reverse" in row_of(moves, "data-move", b["id"])
    confirm = client.get(f"/stock/moves/{b['id']}/reverse").get_data(as_text=True)
    assert 'id="confirm-form"' in confirm and "FM-1" in confirm and 'name="reason"' in confirm
    assert store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 3
    data = form_of(confirm, "confirm-form")
    assert client.post(f"/stock/moves/{b['id']}/reverse", data={"csrf_token": data["csrf_token"]}).status_code == 200
    assert store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 3  # not confirmed: nothing
    done = client.post(f"/stock/moves/{b['id']}/reverse", data={**data, "reason": "shipped twice"}, follow_redirects=True)
    assert done.status_code == 200 and "reversed" in done.get_data(as_text=True)
    reversal = store.db.execute("SELECT reverses_id, reason, kind, quantity FROM stock_moves WHERE reverses_id IS NOT NULL").fetchall()
    assert reversal == [(b["id"], "shipped twice", "out", 1.0)]
    assert store.get("stock_level", stock.key_id(depot["wh1"]["id"], depot["valve"]["id"]))["quantity"] == 0
    page = client.get("/stock/moves").get_data(as_text=True)
    assert f"/stock/moves/{b['id']}/reverse" not in page and 'class="reversed"' in row_of(page, "data-move", b["id"])
    again = client.post(f"/stock/moves/{b['id']}/reverse", data=data, follow_redirects=True)
    assert "already reversed" in again.get_data(as_text=True)
    assert store.db.execute("SELECT count(*) FROM stock_moves").fetchone()[0] == 4
    assert client.get("/stock/moves/nope/reverse").status_code == 404


def test_purchase_order_with_bad_input_writes_nothing_then_is_created(client: FlaskClient, store: Any,
                                                                      depot: dict[str, Any]) -> None:
    auth = login(client, "buyer")
    token = auth.csrf("/purchasing/orders/new")
    base = {"csrf_token": token, "supplier": "宁波阀门厂", "number": "PO-001", "warehouse_id": depot["wh1"]["id"],
            "expected_at": "2026-12-01"}
    bad_inputs = [
        {**base, "code": ["FM-1"], "quantity": ["-2"], "unit_cost": ["180"]},
        {**base, "code": ["NOPE"], "quantity": ["2"], "unit_cost": ["180"]},
        {**base, "code": ["FM-1"], "quantity": ["abc"], "unit_cost": [""]},
        {**base, "code": ["FM-1"], "quantity": ["2"], "unit_cost": ["1.23456"]},
        {**base, "supplier": "", "code": ["FM-1"], "quantity": ["2"], "unit_cost": ["180"]},
        {**base, "warehouse_id": "nope", "code": ["FM-1"], "quantity": ["2"], "unit_cost": ["180"]},
        {**base, "code": [""], "quantity": [""], "unit_cost": [""]},
        {**base, "code": ["", "GR-2"], "quantity": ["5", ""], "unit_cost": ["", ""]},
    ]
    for body in bad_inputs:
        response = client.post("/purchasing/orders/new", data=body)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (body, response.status_code)
        assert 'id="po-errors"' in html and "宁波阀门厂" in html or body["supplier"] == "", body
    assert store.db.execute("SELECT count(*) FROM purchase_orders").fetchone()[0] == 0
    unknown = client.post("/purchasing/orders/new", data=bad_inputs[1]).get_data(as_text=True)
    assert "No product with this code" in unknown and 'value="NOPE"' in unknown  # the entry is kept
    good = client.post("/purchasing/orders/new", data={**base, "code": ["FM-1", "", "GR-2"], "quantity": ["10", "", "4"],
                                                        "unit_cost": ["180.5", "", ""]})
    assert good.status_code == 303
    po = store.db.execute("SELECT id, number, supplier, status FROM purchase_orders").fetchall()
    assert [p[1:] for p in po] == [("PO-001", "宁波阀门厂", "open")]
    # receive part of it (as a kiosk would): the list shows the progress
    client.post(f"/api/purchase_orders/{po[0][0]}/receive", headers=depot["boss"],
                json={"lines": [{"product_id": depot["valve"]["id"], "quantity": 7}]})
    listing = client.get("/purchasing/orders").get_data(as_text=True)
    row = row_of(listing, "data-po", po[0][0])
    assert "7 / 14" in row and 'aria-valuenow="50.0"' in row
    detail = client.get(f"/purchasing/orders/{po[0][0]}").get_data(as_text=True)
    assert "180.50" in detail and "FM-1" in detail and "GR-2" in detail
    logout(client)
    clerk = login(client, "clerk")
    assert client.post("/purchasing/orders/new", data={**base, "csrf_token": clerk.csrf("/stock"), "code": ["FM-1"], "quantity": ["1"], "unit_cost": [""]}).status_code == 403
    assert store.db.execute("SELECT count(*) FROM purchase_orders").fetchone()[0] == 1


def test_purchase_order_form_prefilled_from_a_request(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    pr = client.post("/api/purchase_requests", headers=bearer(client, "buyer"), json={
        "product_id": depot["gear"]["id"], "quantity": 12, "warehouse_id": depot["wh2"]["id"]}).get_json()
    login(client, "buyer")
    html = client.get(f"/purchasing/orders/new?request_id={pr['id']}").get_data(as_text=True)
    assert 'value="GR-2"' in html and 'value="12"' in html
    assert re.search(rf'<option value="{depot["wh2"]["id"]}" selected>', html)


def test_levels_search_filter_and_paging(client: FlaskClient, app: Any, store: Any, depot: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 3
    boss = depot["boss"]
    for n in range(5):
        product = client.post("/api/products", headers=boss, json={"code": f"P-{n:02d}", "name": f"Part {n}", "price": 1}).get_json()
        move(client, depot, kind="in", product_id=product["id"], warehouse_id=depot["wh2"]["id"], quantity=n + 1, unit_cost=1,
             moved_at="2026-11-21T09:00:00+08:00")
    login(client, "boss")
    first = client.get("/stock").get_data(as_text=True)
    assert "6 in total" in first and "Page 1 of 2" in first and len(re.findall(r"<tr data-product=", first)) == 3
    second = client.get("/stock?page=2").get_data(as_text=True)
    assert len(re.findall(r"<tr data-product=", second)) == 3 and "Page 2 of 2" in second
    beyond = client.get("/stock?page=99").get_data(as_text=True)
    assert "Page 2 of 2" in beyond
    found = client.get("/stock?q=Part 3").get_data(as_text=True)
    assert re.findall(r'<tr data-product="([^"]+)"', found) == ["P-03"]
    by_code = client.get("/stock?q=FM").get_data(as_text=True)
    assert re.findall(r'<tr data-product="([^"]+)"', by_code) == ["FM-1"]
    wh1 = client.get(f"/stock?warehouse_id={depot['wh1']['id']}").get_data(as_text=True)
    assert re.findall(r'<tr data-product="([^"]+)"', wh1) == ["FM-1"]
    assert "Nothing matches" in client.get("/stock?q=zzz").get_data(as_text=True)
    # moves: paged and filtered by kind, day, warehouse and product code
    moves = client.get("/stock/moves").get_data(as_text=True)
    assert "6 in total" in moves and len(re.findall(r"<tr data-move=", moves)) == 3
    assert len(re.findall(r"<tr data-move=", client.get("/stock/moves?day=2026-11-20").get_data(as_text=True))) == 1
    assert len(re.findall(r"<tr data-move=", client.get("/stock/moves?code=P-02").get_data(as_text=True))) == 1
    assert "Nothing matches" in client.get("/stock/moves?kind=out").get_data(as_text=True)
    assert "Nothing matches" in client.get("/stock/moves?code=zzz").get_data(as_text=True)
    assert "5 in total" in client.get(f"/stock/moves?warehouse_id={depot['wh2']['id']}").get_data(as_text=True)
    assert "6 in total" in client.get("/stock/moves?day=bad&kind=teleport").get_data(as_text=True)  # bad filters ignored


def test_outbound_requests_across_warehouses_with_progress(client: FlaskClient, store: Any, depot: dict[str, Any]) -> None:
    rep = bearer(client, "rep1")
    customer = client.post("/api/customers", headers=rep, json=customer_values("Yuanhang Trading")).get_json()
    order = client.post("/api/orders", headers=rep, json={"customer_id": customer["id"], "outbound_requested": True, "lines": [
        {"product_id": depot["valve"]["id"], "quantity": 4, "unit_price": 300}]}).get_json()
    assert client.post(f"/api/orders/{order['id']}/submit", headers=rep).status_code == 200
    approved = client.post(f"/api/orders/{order['id']}/approve", headers=depot["boss"],
                           json={"version": client.get(f"/api/orders/{order['id']}", headers=depot["boss"]).get_json()["version"]})
    assert approved.status_code == 200, approved.get_json()
    request_id = stock.open_outbound(store, order["id"])
    assert request_id
    client.post(f"/api/outbound_requests/{request_id}/ship", headers=depot["boss"],
                json={"lines": [{"product_id": depot["valve"]["id"], "quantity": 1}]})
    login(client, "clerk")
    html = client.get("/outbound").get_data(as_text=True)
    row = row_of(html, "data-request", request_id)
    number = client.get(f"/api/orders/{order['id']}", headers=depot["boss"]).get_json()["number"]
    assert number in row and "Yuanhang Trading" in row and "WH01" in row and 'aria-valuenow="25.0"' in row
    assert "negative-value" in row  # 3 left to ship, 0 available: short
    assert request_id in client.get("/outbound?status=pending").get_data(as_text=True)
    assert request_id not in client.get("/outbound?status=done").get_data(as_text=True)
    assert request_id not in client.get(f"/outbound?warehouse_id={depot['wh2']['id']}").get_data(as_text=True)
    # shortage -> purchase request in one click, not twice for the same open line
    button = re.search(r'<form[^>]*class="shortage-form".*?</form>', row, re.S)
    assert button, "a short request offers the purchase request button"
    token = csrf_from(html)
    done = client.post(f"/outbound/{request_id}/purchase", data={"csrf_token": token}, follow_redirects=True)
    assert done.status_code == 200 and "1 purchase request created" in done.get_data(as_text=True)
    again = client.post(f"/outbound/{request_id}/purchase", data={"csrf_token": token}, follow_redirects=True)
    assert "Nothing to request" in again.get_data(as_text=True)
    assert store.db.execute("SELECT product_id, quantity, ref_type FROM purchase_requests").fetchall() == [
        (depot["valve"]["id"], 3.0, "order")]
    logout(client)
    login(client, "rep1")
    assert client.post(f"/outbound/{request_id}/purchase", data={"csrf_token": csrf_from(client.get("/stock").get_data(as_text=True))}).status_code == 403
