"""In Chromium against a real server and a real kiosk client (enrolled with --warehouse WH01): the
warehouse clerk opens /kiosk at 1024×768 in zh_CN, follows the pending outbound of an approved
order, "scans" the product's barcode (typed + Enter, as a keyboard-wedge scanner does) to count,
ships part of it, sees the request partly done and the move in today's moves, then ships the rest.
After the kiosk syncs, the server has the moves and the request is done. Screenshots in the test
output directory."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.harness import ADMIN_PASSWORD, Api, Cluster, Proc, free_port, run

pytestmark = pytest.mark.browser

CLERK = ("clerk", "clerk-pass-1")
REP = ("lina", "lina-pass-1")
BARCODE = "6901234500011"


@pytest.fixture
def page_kiosk(browser: Any) -> Any:
    """A 1024×768 touch screen whose browser asks for Chinese."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def test_kiosk_outbound_counted_by_scan_and_shipped_in_parts(tmp_path: Path, page_kiosk: Any, output_dir: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_user(*CLERK, "warehouse")
        cluster.add_user(*REP, "sales_rep")
        base = cluster.server.url
        admin, rep = Api(base, "admin", ADMIN_PASSWORD), Api(base, *REP)
        wh = admin.post("/api/warehouses", {"code": "WH01", "name": "一号仓"})
        valve = admin.post("/api/products", {"code": "FM-100", "name": "工业阀门", "unit": "个", "price": 100, "barcode": BARCODE})
        admin.post("/api/stock_moves", {"kind": "in", "warehouse_id": wh["id"], "product_id": valve["id"], "quantity": 5,
                                        "unit_cost": 60, "moved_at": "2026-11-01T09:00:00+08:00"})
        customer = rep.post("/api/customers", {"kind": "company", "name": "宁波恒鼎精密机械有限公司"})
        order = rep.post("/api/orders", {"customer_id": customer["id"], "outbound_requested": True, "delivery_date": "2026-12-20",
                                         "lines": [{"product_id": valve["id"], "quantity": 3, "unit_price": 100}]})
        rep.post(f"/api/orders/{order['id']}/submit", expect=200)
        order = admin.post(f"/api/orders/{order['id']}/approve", expect=200)
        pending = admin.get("/api/outbound_requests?status=pending")
        assert pending["total"] == 1
        request_id = pending["items"][0]["id"]

        data = tmp_path / "kiosk"
        run("enroll", "--data", str(data), "--server", base, "--username", CLERK[0], "--password", CLERK[1],
            "--name", "WH01 kiosk", "--warehouse", "WH01")
        kiosk = Proc("client", data, free_port(), tmp_path / "kiosk.log")
        cluster.clients["kiosk"] = kiosk
        kiosk.start()
        page = page_kiosk

        page.goto(kiosk.url + "/login")
        page.fill("#f-username", CLERK[0])
        page.fill("#f-password", CLERK[1])
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/kiosk$"))
        assert page.get_attribute("html", "lang").lower().startswith("zh")
        assert page.evaluate("document.activeElement.id") == "scan"  # ready for the scanner
        assert page.locator("#pending-outbound .count-badge").inner_text() == "1"
        # touch-friendly at 1024×768: nothing wider than the screen, buttons at least 48px tall
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        page.keyboard.type(BARCODE)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.inner_text("#onhand") == "5"
        for selector in (".btn-kind", "#switch-user", "#scan"):
            boxes = [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]
            assert boxes and all(b["height"] >= 48 for b in boxes), (selector, boxes)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        page.screenshot(path=str(output_dir / "kiosk-home-zh_CN.png"), full_page=False)
        with page.expect_navigation():
            page.click(".btn-kind.kind-adjustment")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'f-counted'")  # type the count at once
        assert page.locator("#record-move").bounding_box()["height"] >= 48
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        page.screenshot(path=str(output_dir / "kiosk-stocktake-form-zh_CN.png"), full_page=False)
        page.goto(kiosk.url + "/kiosk")

        with page.expect_navigation():
            page.click(f"#pending-outbound a[href$='/kiosk/outbound/{request_id}']")
        assert order["number"] in page.inner_text("h1")
        line = page.locator(f"tr.count-line[data-product-id='{valve['id']}']")
        assert line.locator(".l-remaining").inner_text() == "3"
        assert page.evaluate("document.activeElement.id") == "scan"
        for _ in range(2):  # two scans: the code, then Enter, each counts one
            page.keyboard.type(BARCODE)
            page.keyboard.press("Enter")
        assert line.locator(".count-input").input_value() == "2"
        assert page.url.endswith(f"/kiosk/outbound/{request_id}")  # a scan never submits the form
        page.keyboard.type("0000000")
        page.keyboard.press("Enter")
        assert "0000000" in page.inner_text("#scan-message") and line.locator(".count-input").input_value() == "2"
        page.screenshot(path=str(output_dir / "kiosk-outbound-counted-zh_CN.png"), full_page=False)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024

        with page.expect_navigation():
            page.click("#ship")
        assert page.locator("#request-status.status-partial").count() == 1
        assert line.locator(".l-done").inner_text() == "2" and line.locator(".l-remaining").inner_text() == "1"
        page.screenshot(path=str(output_dir / "kiosk-outbound-partial-zh_CN.png"), full_page=False)

        page.goto(kiosk.url + "/kiosk")
        today = page.locator("#today-moves tr.move")
        assert today.count() == 1 and order["number"] in today.first.inner_text() and "FM-100" in today.first.inner_text()
        page.screenshot(path=str(output_dir / "kiosk-today-moves-zh_CN.png"), full_page=False)

        # the last unit: one more scan and Ship finish the request
        page.goto(f"{kiosk.url}/kiosk/outbound/{request_id}")
        page.keyboard.type(BARCODE)
        page.keyboard.press("Enter")
        with page.expect_navigation():
            page.click("#ship")
        assert page.locator("#request-status.status-done").count() == 1

        clerk = Api(kiosk.url, *CLERK)
        clerk.sync()
        on_server = admin.get(f"/api/outbound_requests/{request_id}")
        assert on_server["status"] == "done" and on_server["lines"][0]["done"] == 3
        ledger = admin.get(f"/api/stock-ledger?warehouse_id={wh['id']}&product_id={valve['id']}")
        assert [r["balance"] for r in ledger["items"]] == [5, 3, 2]
        page.goto(f"{kiosk.url}/kiosk/ledger?product_id={valve['id']}")
        assert page.locator("table.ledger tr.ledger-row").count() == 3
        assert page.locator("table.ledger td.balance").all_inner_texts() == ["5", "3", "2"]
        page.screenshot(path=str(output_dir / "kiosk-ledger-zh_CN.png"), full_page=False)
        page.set_viewport_size({"width": 1366, "height": 768})  # the laptop-sized screen too
        page.goto(f"{kiosk.url}/kiosk?code={BARCODE}")
        assert page.inner_text("#onhand") == "2" and page.evaluate("document.documentElement.scrollWidth") <= 1366
        page.screenshot(path=str(output_dir / "kiosk-home-1366-zh_CN.png"), full_page=False)
        moves = admin.get(f"/api/stock_moves?warehouse_id={wh['id']}&kind=out")
        clerk_id = requests.post(f"{kiosk.url}/api/login", json={"username": CLERK[0], "password": CLERK[1]}, timeout=10).json()["user"]["id"]
        assert [m["operator_id"] for m in moves["items"]] == [clerk_id, clerk_id]
    finally:
        cluster.close()
