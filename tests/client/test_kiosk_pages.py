"""The warehouse kiosk pages on a device enrolled for warehouse WH01 (Flask test client).

The warehouses, products, moves, levels, outbound requests and purchase orders are written into
the device's replica as the server's sync would leave them (and taken off the outbox: they came
from the server). Switching user is checked against a real server on loopback."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from client import db
from client.enrollment import remember_user

CLERK = {"id": "u-clerk", "username": "clerk", "display_name": "王库管", "role": "warehouse"}
PASSWORD = "clerk-pw-1"
SERVER = "server-user"


def server_doc(store: Any, entity: str, values: dict[str, Any], record_id: str | None = None) -> str:
    record_id = store.create(entity, values, SERVER, record_id)
    store.drop_outbox_for(entity, record_id)
    return record_id


def server_move(store: Any, **values: Any) -> str:
    move_id = store.add_event("stock_move", {"moved_at": "2026-01-01T01:00:00.000+00:00", "operator_id": "u-other", **values}, SERVER)
    store.drop_outbox_for("stock_move", move_id)
    return move_id


def moves(store: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.query("SELECT * FROM stock_moves ORDER BY hlc")]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


class Kiosk:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.token = ""

    def login(self, username: str = CLERK["username"], password: str = PASSWORD) -> Any:
        self.token = csrf_of(self.client.get("/login").get_data(as_text=True))
        answer = self.client.post("/login", data={"username": username, "password": password, "csrf_token": self.token})
        page = self.client.get("/kiosk")
        if page.status_code == 200:
            self.token = csrf_of(page.get_data(as_text=True))
        return answer

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def text(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.get_data(as_text=True)[:2000])
        return answer.get_data(as_text=True)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kw)


@pytest.fixture
def depot(store: Any) -> dict[str, Any]:
    """Device enrolled for WH01 by the clerk; two warehouses, two products, stock and pending work."""
    from tests.client.conftest import closed_port_url  # noqa: PLC0415 (helper only)

    db.save_device(store, closed_port_url(), "device-token", CLERK, "2026-01-01T00:00:00+00:00", "WH01")
    remember_user(store, CLERK, PASSWORD)
    wh1 = server_doc(store, "warehouse", {"code": "WH01", "name": "一号仓"})
    wh2 = server_doc(store, "warehouse", {"code": "WH02", "name": "二号仓"})
    valve = server_doc(store, "product", {"code": "FM-1", "name": "球阀", "unit": "个", "price": 300, "barcode": "6901234500011"})
    gear = server_doc(store, "product", {"code": "G-2", "name": "齿轮", "unit": "件", "price": 12.5, "barcode": "6901234500028"})
    server_doc(store, "user_rights", {"rights": "stock.view,stock.edit,products.view,orders.view,purchasing.view"}, CLERK["id"])
    server_move(store, kind="in", warehouse_id=wh1, product_id=valve, quantity=10, unit_cost=100)
    server_move(store, kind="in", warehouse_id=wh1, product_id=gear, quantity=2, unit_cost=5)
    for product, quantity, cost in ((valve, 10, 100), (gear, 2, 5)):
        level = server_doc(store, "stock_level", {"warehouse_id": wh1, "product_id": product, "quantity": quantity,
                                                  "negative": False, "as_of": "2026-01-01T01:00:00.000+00:00"})
        server_doc(store, "stock_cost", {"warehouse_id": wh1, "product_id": product, "average_cost": cost}, level)
    order_lines = [{"product_id": valve, "quantity": 4, "done": 0}, {"product_id": gear, "quantity": 5, "done": 0}]
    outbound = server_doc(store, "outbound_request", {"order_id": "o-1", "order_number": "SO20260101-001", "customer_name": "恒鼎机械",
                                                       "warehouse_id": wh1, "lines": json.dumps(order_lines), "status": "open",
                                                       "delivery_date": "2026-01-05"})
    po = server_doc(store, "purchase_order", {"number": "PO-7", "supplier": "温州阀门厂", "warehouse_id": wh1, "status": "open",
                                              "lines": json.dumps([{"product_id": gear, "quantity": 6, "done": 0, "unit_cost": 6.5}])})
    return {"wh1": wh1, "wh2": wh2, "valve": valve, "gear": gear, "outbound": outbound, "po": po}


@pytest.fixture
def kiosk(app: Any, depot: dict[str, Any]) -> Kiosk:
    k = Kiosk(app.test_client())
    k.client.get("/lang/en")  # the assertions read the English strings
    assert k.login().status_code == 302
    return k


def test_home_scan_lookup_shows_the_warehouse_quantity_and_pending_work(kiosk: Kiosk, depot: dict[str, Any]) -> None:
    assert kiosk.get("/").headers["Location"].endswith("/kiosk")  # a kiosk opens on its scan page
    home = kiosk.text("/kiosk")
    assert 'id="scan"' in home and "autofocus" in home.split('id="scan"')[1].split(">")[0]
    assert "SO20260101-001" in home and "PO-7" in home
    assert re.search(r'id="pending-outbound".*?count-badge">1<', home, re.S)
    assert re.search(r'id="pending-inbound".*?count-badge">1<', home, re.S)
    by_barcode = kiosk.text("/kiosk?code=6901234500011")  # what a keyboard-wedge scanner types before Enter
    assert "FM-1 · 球阀" in by_barcode and re.search(r'id="onhand">10<', by_barcode)
    for label in ("In", "Out", "Stock transfer", "Borrow", "Return", "Stocktake"):
        assert f">{label}</a>" in by_barcode
    by_code = kiosk.text("/kiosk?code=G-2")
    assert "G-2 · 齿轮" in by_code and re.search(r'id="onhand">2<', by_code)
    missing = kiosk.get("/kiosk?code=NOPE")
    assert missing.status_code == 404 and "No product has the code or barcode NOPE." in missing.get_data(as_text=True)


@pytest.mark.parametrize("kind, extra, effect", [
    ("in", {"quantity": "5", "unit_cost": "130"}, 15),
    ("out", {"quantity": "3"}, 7),
    ("transfer", {"quantity": "2"}, 8),
    ("borrow", {"quantity": "1", "borrower": "维修部 老张"}, 9),
    ("return", {"quantity": "1", "borrower": "维修部 老张"}, 11),
])
def test_each_move_kind_is_recorded_with_the_operator(kiosk: Kiosk, depot: dict[str, Any], store: Any,
                                                       kind: str, extra: dict[str, Any], effect: float) -> None:
    form = kiosk.text(f"/kiosk?product_id={depot['valve']}&kind={kind}")
    assert 'id="move-form"' in form
    if kind == "transfer":
        extra = {**extra, "to_warehouse_id": depot["wh2"]}
    answer = kiosk.post("/kiosk/move", {"kind": kind, "product_id": depot["valve"], "warehouse_id": depot["wh1"], **extra})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:3000]
    move = moves(store)[-1]
    assert move["kind"] == kind and move["operator_id"] == CLERK["id"] and move["warehouse_id"] == depot["wh1"]
    assert store.pending_for("stock_move", move["id"])  # waits for the sync
    if kind == "in":
        assert move["unit_cost"] == 130
    if kind == "transfer":
        assert move["to_warehouse_id"] == depot["wh2"] and move["unit_cost"] == 100  # the source's average
    if kind in ("borrow", "return"):
        assert move["ref_type"] == "borrower" and move["ref_id"] == "维修部 老张"
    home = kiosk.text(f"/kiosk?product_id={depot['valve']}")
    assert re.search(rf'id="onhand">{effect}<', home)
    assert "Recorded:" in home and 'class="btn btn-reverse"' in home


def test_stocktake_records_counted_minus_booked(kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    page = kiosk.text(f"/kiosk?product_id={depot['valve']}&kind=adjustment")
    assert "Counted quantity" in page and "Booked: 10." in page
    assert kiosk.post("/kiosk/move", {"kind": "adjustment", "product_id": depot["valve"], "counted": "7"}).status_code == 302
    move = moves(store)[-1]
    assert move["kind"] == "adjustment" and move["quantity"] == -3 and move["ref_type"] == "stocktake"
    assert "counted 7, booked 10" in move["reason"]
    assert kiosk.post("/kiosk/move", {"kind": "adjustment", "product_id": depot["valve"], "counted": "12"}).status_code == 302
    assert moves(store)[-1]["quantity"] == 5  # booked is 7 now
    same = kiosk.post("/kiosk/move", {"kind": "adjustment", "product_id": depot["valve"], "counted": "12"})
    assert same.status_code == 422 and "nothing to adjust" in same.get_data(as_text=True)
    assert len(moves(store)) == 4


def test_bad_moves_write_nothing_and_say_why(kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    before = len(moves(store))
    cases = [
        ({"kind": "out", "quantity": "0"}, "Must be more than 0."),
        ({"kind": "out", "quantity": "-2"}, "Must be more than 0."),
        ({"kind": "out", "quantity": "abc"}, "Enter a number."),
        ({"kind": "out", "quantity": "1.23456"}, "at most 3 decimals"),
        ({"kind": "in", "quantity": "1", "unit_cost": "-5"}, "Enter a cost of 0 or more"),
        ({"kind": "transfer", "quantity": "1"}, "Choose the warehouse it goes to."),
        ({"kind": "transfer", "quantity": "1", "to_warehouse_id": depot["wh1"]}, "A transfer goes to another warehouse."),
        ({"kind": "borrow", "quantity": "1"}, "Who borrows it"),
        ({"kind": "adjustment", "counted": ""}, "Enter the quantity you counted"),
        ({"kind": "adjustment", "counted": "-1"}, "Must be more than 0."),
        ({"kind": "teleport", "quantity": "1"}, "Choose a kind of move."),
        ({"kind": "out", "quantity": "1", "warehouse_id": depot["wh2"]}, "This kiosk records moves of its own warehouse only."),
    ]
    for values, message in cases:
        answer = kiosk.post("/kiosk/move", {"product_id": depot["valve"], **values})
        assert answer.status_code in (403, 422), (values, answer.status_code)
        assert message in answer.get_data(as_text=True), (values, message)
    unknown = kiosk.post("/kiosk/move", {"kind": "out", "product_id": "nope", "quantity": "1"})
    assert unknown.status_code == 422 and "No such product." in unknown.get_data(as_text=True)
    assert kiosk.client.post("/kiosk/move", data={"kind": "out", "product_id": depot["valve"], "quantity": "1"}).status_code == 400  # no CSRF
    assert len(moves(store)) == before


def test_reverse_asks_first_then_reverses_once(kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    kiosk.post("/kiosk/move", {"kind": "out", "product_id": depot["valve"], "quantity": "3"})
    wrong = moves(store)[-1]
    home = kiosk.text("/kiosk")
    assert f"/kiosk/moves/{wrong['id']}/reverse" in home
    confirm = kiosk.text(f"/kiosk/moves/{wrong['id']}/reverse")
    assert "Reverse this move?" in confirm and 'id="confirm-reverse"' in confirm
    assert len(moves(store)) == 3  # looking at the confirmation writes nothing
    assert kiosk.post(f"/kiosk/moves/{wrong['id']}/reverse", {"reason": "扫错了"}).status_code == 302
    reversal = moves(store)[-1]
    assert reversal["reverses_id"] == wrong["id"] and reversal["quantity"] == 3 and reversal["operator_id"] == CLERK["id"]
    assert re.search(r'id="onhand">10<', kiosk.text(f"/kiosk?product_id={depot['valve']}"))
    again = kiosk.post(f"/kiosk/moves/{wrong['id']}/reverse", {}, follow_redirects=True)
    assert "This move was already reversed." in again.get_data(as_text=True)
    of_reversal = kiosk.post(f"/kiosk/moves/{reversal['id']}/reverse", {}, follow_redirects=True)
    assert "A reversal is not reversed" in of_reversal.get_data(as_text=True)
    assert len(moves(store)) == 4


def test_outbound_scan_counts_then_ships_in_part_and_the_shortage_becomes_a_purchase_request(
        kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    url = f"/kiosk/outbound/{depot['outbound']}"
    listing = kiosk.text("/kiosk/outbound")
    assert "SO20260101-001" in listing and url in listing
    page = kiosk.text(url)
    assert "Short 3" in page  # 5 gears ordered, 2 in the warehouse
    # scanning without script: each Enter posts one scan and the server counts one
    counted = kiosk.post(url, {"action": "scan", "scan": "6901234500011"})
    assert counted.status_code == 200
    assert re.search(rf'name="qty-{depot["valve"]}" value="1"', counted.get_data(as_text=True))
    counted = kiosk.post(url, {"action": "scan", "scan": "FM-1", f"qty-{depot['valve']}": "1"})
    assert re.search(rf'name="qty-{depot["valve"]}" value="2"', counted.get_data(as_text=True))
    unknown = kiosk.post(url, {"action": "scan", "scan": "999"})
    assert unknown.status_code == 422 and "999 is not on this list." in unknown.get_data(as_text=True)
    full = kiosk.post(url, {"action": "scan", "scan": "FM-1", f"qty-{depot['valve']}": "4"})
    assert full.status_code == 422 and "nothing more is left to count" in full.get_data(as_text=True)
    # more than remaining: refused, nothing written
    too_many = kiosk.post(url, {"action": "ship", f"qty-{depot['valve']}": "5"})
    assert too_many.status_code == 422 and "More than what is left (4)." in too_many.get_data(as_text=True)
    nothing = kiosk.post(url, {"action": "ship"})
    assert nothing.status_code == 422 and "Count what you ship first" in nothing.get_data(as_text=True)
    assert len(moves(store)) == 2
    # ship part: 2 valves
    shipped = kiosk.post(url, {"action": "ship", f"qty-{depot['valve']}": "2.0"}, follow_redirects=True)
    text = shipped.get_data(as_text=True)
    assert "Shipped 1 line(s)." in text and 'id="request-status">Partly done<' in text
    out = moves(store)[-1]
    assert out["kind"] == "out" and out["quantity"] == 2 and out["ref_type"] == "order" and out["ref_id"] == "o-1"
    assert out["operator_id"] == CLERK["id"]
    # the shortage → one click → a purchase request (not twice)
    made = kiosk.post(f"{url}/purchase", {}, follow_redirects=True)
    assert "1 purchase request(s) created." in made.get_data(as_text=True)
    requests_ = [dict(r) for r in store.db.query("SELECT * FROM purchase_requests")]
    assert [(r["product_id"], r["quantity"], r["ref_id"]) for r in requests_] == [(depot["gear"], 3, "o-1")]
    again = kiosk.post(f"{url}/purchase", {}, follow_redirects=True)
    assert "No new purchase request" in again.get_data(as_text=True)
    assert store.db.execute("SELECT count(*) FROM purchase_requests").fetchone()[0] == 1
    # today's moves on the home page show the shipment
    assert "SO20260101-001" in kiosk.text("/kiosk")  # today's moves name the order they shipped


def test_receive_against_a_purchase_order_with_the_cost_prefilled(kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    url = f"/kiosk/inbound/{depot['po']}"
    assert "PO-7" in kiosk.text("/kiosk/inbound")
    page = kiosk.text(url)
    assert re.search(rf'name="cost-{depot["gear"]}" value="6.5"', page)
    too_many = kiosk.post(url, {"action": "receive", f"qty-{depot['gear']}": "7", f"cost-{depot['gear']}": "6.5"})
    assert too_many.status_code == 422 and "More than what is left (6)." in too_many.get_data(as_text=True)
    bad_cost = kiosk.post(url, {"action": "receive", f"qty-{depot['gear']}": "1", f"cost-{depot['gear']}": "x"})
    assert bad_cost.status_code == 422 and "Nothing was received" in bad_cost.get_data(as_text=True)
    assert len(moves(store)) == 2
    part = kiosk.post(url, {"action": "receive", f"qty-{depot['gear']}": "4", f"cost-{depot['gear']}": "6.5"}, follow_redirects=True)
    assert "Received 1 line(s)." in part.get_data(as_text=True) and "More is still to come." in part.get_data(as_text=True)
    got = moves(store)[-1]
    assert (got["kind"], got["quantity"], got["unit_cost"], got["ref_type"], got["ref_id"]) == ("in", 4, 6.5, "purchase", depot["po"])
    rest = kiosk.post(url, {"action": "receive_all", f"cost-{depot['gear']}": "7"}, follow_redirects=True)
    assert "The purchase order is complete." in rest.get_data(as_text=True)
    assert (moves(store)[-1]["quantity"], moves(store)[-1]["unit_cost"]) == (2, 7)
    assert re.search(r'id="onhand">8<', kiosk.text(f"/kiosk?product_id={depot['gear']}"))


def test_stock_and_ledger_with_the_negative_flag(kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    stock = kiosk.text("/kiosk/stock")
    assert "FM-1" in stock and "G-2" in stock
    searched = kiosk.text("/kiosk/stock?q=齿轮")
    assert "G-2" in searched and "FM-1" not in searched
    kiosk.post("/kiosk/move", {"kind": "out", "product_id": depot["gear"], "quantity": "3"})
    ledger = kiosk.text(f"/kiosk/ledger?product_id={depot['gear']}")
    rows = re.findall(r'<tr class="ledger-row( negative)?"', ledger)
    assert rows == ["", " negative"]
    assert "The balance went below zero" in ledger and ">-1 <span class=\"badge negative-flag\">" in ledger
    assert "5.00" in ledger  # the average cost
    by_scan = kiosk.text("/kiosk/ledger?code=6901234500028")
    assert "G-2 · 齿轮" in by_scan


def test_outbound_of_another_warehouse_is_not_shown(kiosk: Kiosk, depot: dict[str, Any], store: Any) -> None:
    other = server_doc(store, "outbound_request", {"order_id": "o-2", "order_number": "SO-OTHER", "warehouse_id": depot["wh2"],
                                                    "lines": json.dumps([{"product_id": depot["valve"], "quantity": 1, "done": 0}])})
    assert "SO-OTHER" not in kiosk.text("/kiosk/outbound")
    assert kiosk.get(f"/kiosk/outbound/{other}").status_code == 404
    assert kiosk.post(f"/kiosk/outbound/{other}", {"action": "ship_all"}).status_code == 404
    assert len(moves(store)) == 2


def test_not_a_kiosk(app: Any, pages: Any) -> None:
    pages.get("/lang/en")
    answer = pages.get("/kiosk")
    assert answer.status_code == 404 and "not a warehouse kiosk" in answer.get_data(as_text=True)


def test_kiosk_pages_render_in_chinese_and_english(kiosk: Kiosk, depot: dict[str, Any]) -> None:
    paths = ["/kiosk", f"/kiosk?product_id={depot['valve']}&kind=adjustment", "/kiosk/outbound",
             f"/kiosk/outbound/{depot['outbound']}", "/kiosk/inbound", f"/kiosk/inbound/{depot['po']}", "/kiosk/stock",
             f"/kiosk/ledger?product_id={depot['valve']}"]
    kiosk.client.get("/lang/en")
    for path in paths:
        assert 'lang="en' in kiosk.text(path)
    assert "Switch user" in kiosk.text("/kiosk")
    kiosk.client.get("/lang/zh_CN")
    for path in paths:
        text = kiosk.text(path)
        assert 'lang="zh' in text and "仓库" in text and "同步问题" in text, path


# ---- switching user --------------------------------------------------------------------------------
def test_switch_user_online_then_offline(app: Any, store: Any, live_server: Any, depot: dict[str, Any]) -> None:
    url, server_store = live_server
    import importlib

    users = importlib.import_module("server.users")
    clerk2 = users.create_user(server_store, "clerk2", "clerk2-pw", "warehouse", display_name="李库管")
    clerk2_id = clerk2["id"] if isinstance(clerk2, dict) else users.get_user_by_name(server_store, "clerk2")["id"]
    with store.write():
        store.db.execute("UPDATE device SET server_url = ?", [url])
    kiosk = Kiosk(app.test_client())
    kiosk.client.get("/lang/en")
    kiosk.login()
    switched = kiosk.post("/kiosk/switch")
    assert switched.status_code == 302 and "/login" in switched.headers["Location"]
    assert kiosk.get("/kiosk").status_code == 302  # logged out
    # a wrong password is refused by the server and nothing is cached
    assert kiosk.login("clerk2", "wrong").status_code == 401
    assert store.db.execute("SELECT count(*) FROM kiosk_users").fetchone()[0] == 0
    # online: the server checks the password; the hash is kept on the kiosk
    answer = kiosk.login("clerk2", "clerk2-pw")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/kiosk")
    assert "李库管" in kiosk.text("/kiosk")
    cached = store.db.execute("SELECT id, username, password_hash FROM kiosk_users").fetchall()
    assert [(r[0], r[1]) for r in cached] == [(clerk2_id, "clerk2")] and "clerk2-pw" not in cached[0][2]
    kiosk.post("/kiosk/move", {"kind": "out", "product_id": depot["valve"], "quantity": "1"})
    assert moves(store)[-1]["operator_id"] == clerk2_id
    # offline: the server is gone; clerk2 logs in from the cached hash, an unknown user cannot
    with store.write():
        from tests.client.conftest import closed_port_url  # noqa: PLC0415

        store.db.execute("UPDATE device SET server_url = ?", [closed_port_url()])
    kiosk.post("/kiosk/switch")
    assert kiosk.login("clerk2", "wrong-again").status_code == 401
    offline_new = kiosk.login("clerk3", "whatever")
    assert offline_new.status_code == 401 and "only users who logged in on this kiosk before" in offline_new.get_data(as_text=True)
    assert kiosk.login("clerk2", "clerk2-pw").status_code == 302
    kiosk.post("/kiosk/move", {"kind": "in", "product_id": depot["valve"], "quantity": "1"})
    assert moves(store)[-1]["operator_id"] == clerk2_id
    ops = kiosk.text("/kiosk")
    assert ops.count("李库管") >= 3  # the nav and both moves' operator
    # the enrolled clerk still logs in offline as before
    kiosk.post("/kiosk/switch")
    assert kiosk.login().status_code == 302 and "王库管" in kiosk.text("/kiosk")


def test_a_rep_laptop_never_asks_the_server_at_login(app: Any, enrolled: dict[str, Any], store: Any) -> None:
    client = app.test_client()
    client.get("/lang/en")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": "someone", "password": "x", "csrf_token": token})
    assert answer.status_code == 401 and "Wrong username or password." in answer.get_data(as_text=True)  # not "cannot be reached"
    assert store.db.execute("SELECT count(*) FROM kiosk_users").fetchone()[0] == 0


# ---- reps: available quantity on the order form, as of the last sync --------------------------------
def test_rep_order_form_shows_available_quantity_as_of_last_sync(pages: Any, store: Any, enrolled: dict[str, Any]) -> None:
    pages.get("/lang/en")
    server_doc(store, "user_rights", {"rights": "products.view,orders.view,orders.edit,stock.view"}, enrolled["id"])
    customer = store.create("customer", {"kind": "company", "name": "恒鼎机械", "owner_id": enrolled["id"]}, enrolled["id"])
    valve = server_doc(store, "product", {"code": "V-100", "name": "工业阀门", "unit": "个", "price": 100.0})
    gear = server_doc(store, "product", {"code": "V-200", "name": "阀芯", "unit": "个", "price": 10.0})
    for warehouse, quantity in (("wh-a", 3), ("wh-b", 4)):  # a rep's device holds levels of every warehouse, never moves
        server_doc(store, "stock_level", {"warehouse_id": warehouse, "product_id": valve, "quantity": quantity, "negative": False,
                                          "as_of": "2026-01-01T01:00:00.000+00:00"})
    picked = pages.get("/products/pick?q=V-").get_json()["items"]
    assert [(p["code"], p["available"], p["stock_as_of"]) for p in picked] == [
        ("V-100", 7.0, "2026-01-01T01:00:00.000+00:00"), ("V-200", None, None)]
    form = pages.get(f"/orders/new?customer_id={customer}").get_data(as_text=True)
    assert 'data-available="Available: {quantity} (as of last sync)"' in form
    created = pages.post("/orders/new", {"customer_id": customer, "lines-0-product_id": valve, "lines-0-quantity": "2",
                                         "lines-0-unit_price": "100", "lines-1-product_id": gear, "lines-1-quantity": "1",
                                         "lines-1-unit_price": "10"})
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    edit = pages.get(created.headers["Location"].rstrip("/") + "/edit").get_data(as_text=True)
    avail = re.findall(r'<div class="muted l-avail[^"]*">([^<]*)</div>', edit)
    assert avail[:2] == ["Available: 7 (as of last sync)", "No stock data yet"]
