"""In Chromium against a real client process: a rep fills the order form with two product lines
(picked by code and by name), the total is computed live in the browser, the order is saved and
submitted offline and its page shows it; screenshots in zh_CN at 1366×768."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.harness import ADMIN_PASSWORD, Api, Cluster

pytestmark = pytest.mark.browser

CUSTOMER = "宁波恒鼎精密机械有限公司"


def test_order_form_two_lines_live_total_submit(tmp_path: Path, page_zh, output_dir: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_user("lina", "lina-pass-1", "sales_rep")
        admin = Api(cluster.server.url, "admin", ADMIN_PASSWORD)
        admin.post("/api/products", {"code": "V-100", "name": "工业阀门", "spec": "DN50", "unit": "个", "price": 100})
        admin.post("/api/products", {"code": "G-200", "name": "精密齿轮", "spec": "M3", "unit": "件", "price": 12.5})
        client = cluster.enroll("laptop", "lina", "lina-pass-1")  # the first sync brings the products
        rep = Api(client.url, "lina", "lina-pass-1")
        customer = rep.post("/api/customers", {"kind": "company", "name": CUSTOMER})
        cluster.server.stop()  # from here on the client works offline
        page = page_zh

        page.goto(client.url + "/login")
        page.fill("#f-username", "lina")
        page.fill("#f-password", "lina-pass-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/customers.*"))

        page.goto(f"{client.url}/orders/new?customer_id={customer['id']}")
        assert page.get_attribute("html", "lang").lower().startswith("zh")
        assert page.input_value("#f-customer_id") == customer["id"]
        rows = page.locator("#line-rows tr.line")

        # line 1: picked by code, the unit price defaults to the product's price
        first = rows.nth(0)
        first.locator(".l-search").fill("V-100")
        first.locator(".pick-list button.pick").first.click()
        assert first.locator(".l-price").input_value() == "100"
        assert first.locator(".l-unit").inner_text() == "个"
        first.locator(".l-qty").fill("3")
        first.locator(".l-discount").fill("10")
        first.locator(".l-tax").fill("13")
        assert first.locator(".l-amount").inner_text() == "305.10"

        # line 2: added with the button, picked by name
        page.click("#add-line")
        assert rows.count() == 2
        second = rows.nth(1)
        second.locator(".l-search").fill("齿轮")
        second.locator(".pick-list button.pick", has_text="G-200").click()
        second.locator(".l-qty").fill("4")
        assert second.locator(".l-amount").inner_text() == "50.00"
        assert page.inner_text("#doc-total") == "355.10"

        # a third line added and removed again leaves the total alone
        page.click("#add-line")
        rows.nth(2).locator(".l-search").fill("V-100")
        rows.nth(2).locator(".pick-list button.pick").first.click()
        assert page.inner_text("#doc-total") == "455.10"
        rows.nth(2).locator(".l-remove").click()
        assert rows.count() == 2 and page.inner_text("#doc-total") == "355.10"

        page.fill("#f-delivery_date", "2026-02-10")
        page.check("#f-outbound_requested")
        page.screenshot(path=str(output_dir / "client-order-form-zh_CN.png"), full_page=False)

        page.click("button[name=then][value=submit]")
        page.wait_for_url(re.compile(r".*/orders/[0-9a-f-]{36}$"))
        order_id = page.url.rsplit("/", 1)[1]
        assert page.inner_text(".doc-total").strip() == "355.10"
        assert page.locator(".badge.status-submitted").count() >= 1
        assert page.locator(".badge.provisional").count() >= 1  # the server numbers it when it syncs
        assert "工业阀门" in page.inner_text("table.doc-lines") and "精密齿轮" in page.inner_text("table.doc-lines")
        page.screenshot(path=str(output_dir / "client-order-page-zh_CN.png"), full_page=False)

        stored = rep.get(f"/api/orders/{order_id}")
        assert stored["status"] == "submitted" and stored["total"] == 355.10 and stored["delivery_date"] == "2026-02-10"
        assert [l["amount"] for l in stored["lines"]] == [305.10, 50.0] and stored["outbound_requested"] is True
    finally:
        cluster.close()
