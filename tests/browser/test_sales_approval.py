"""In Chromium against a real server process: a boss approves a sales order on the server pages.

The rep makes and submits an order through the API; the boss (zh_CN, 1366×768) opens the workbench,
follows the pending order, rejects it with a reason; the rep changes it and submits again through
the API; the boss's approval from the page opened before the change is refused as stale, and the
approval after looking again goes through. Screenshots land in the test output directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.browsing import login as _login, shot
from tests.e2e.harness import Api, Cluster

pytestmark = pytest.mark.browser

BOSS = ("zhang", "zhang-pass-1")
REP = ("lina", "lina-pass-1")


def _shot(page: Any, output_dir: Path, name: str) -> None:
    shot(page, output_dir, f"server-sales-{name}-zh_CN")


def test_boss_rejects_then_approves_an_order_on_the_server_pages(tmp_path: Path, page_zh: Any, output_dir: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_user(*BOSS, "boss")
        cluster.add_user(*REP, "sales_rep")
        base = cluster.server.url
        boss, rep = Api(base, *BOSS), Api(base, *REP)
        valve = boss.post("/api/products", {"code": "FM-100", "name": "工业阀门", "spec": "DN50", "unit": "个", "price": 100})
        gear = boss.post("/api/products", {"code": "CL-20", "name": "齿轮", "unit": "件", "price": 12.5})
        customer = rep.post("/api/customers", {"kind": "company", "name": "上海远航贸易有限公司"})
        order = rep.post("/api/orders", {"customer_id": customer["id"], "delivery_date": "2026-12-20", "lines": [
            {"product_id": valve["id"], "quantity": 3, "unit_price": 100, "discount": 10, "tax_rate": 13},
            {"product_id": gear["id"], "quantity": 4, "unit_price": 12.5}]})
        order = rep.post(f"/api/orders/{order['id']}/submit", expect=200)
        assert order["status"] == "submitted" and order["number_is_final"]

        page = page_zh
        _login(page, base, *BOSS)
        page.goto(base + "/workbench")
        assert page.get_attribute("html", "lang").lower().startswith("zh")
        pending = page.locator(f"#pending-approvals tr[data-record='{order['id']}']")
        assert pending.count() == 1 and order["number"] in pending.inner_text()
        _shot(page, output_dir, "workbench")

        with page.expect_navigation():
            pending.locator("a").click()
        assert page.url.endswith(f"/orders/{order['id']}")
        assert page.inner_text("#doc-total") == "355.10"
        assert page.locator("#approve").is_visible() and page.locator("#reject").is_visible()
        _shot(page, output_dir, "order-pending")

        # the boss also has the order open in a second tab (it keeps the version shown now)
        stale_tab = page.context.new_page()
        stale_tab.goto(f"{base}/orders/{order['id']}")

        # a reason is required: the browser does not send an empty one
        page.click("#reject")
        assert page.url.endswith(f"/orders/{order['id']}")
        assert rep.get(f"/api/orders/{order['id']}")["status"] == "submitted"
        page.fill("#reason", "单价太低，请按100元重新报价")
        with page.expect_navigation():
            page.click("#reject")
        assert "单价太低" in page.inner_text("#reject-reason")
        assert page.locator("#approve").count() == 0
        assert "单价太低" in page.inner_text("#history")
        _shot(page, output_dir, "order-rejected")
        rejected = rep.get(f"/api/orders/{order['id']}")
        assert rejected["status"] == "rejected" and rejected["reject_reason"] == "单价太低，请按100元重新报价"

        # the rep drops the discount and submits again through the API
        rep.patch(f"/api/orders/{order['id']}", {"lines": [
            {"product_id": valve["id"], "quantity": 3, "unit_price": 100, "tax_rate": 13},
            {"product_id": gear["id"], "quantity": 4, "unit_price": 12.5}]})
        assert rep.post(f"/api/orders/{order['id']}/submit", expect=200)["status"] == "submitted"

        # approving from the old tab approves what the boss saw there, which is no longer the order: refused
        with stale_tab.expect_navigation():
            stale_tab.click("#approve")
        assert "您打开此单据后它已被修改" in stale_tab.inner_text("#decision-error")  # zh_CN: changed since you opened it
        assert rep.get(f"/api/orders/{order['id']}")["status"] == "submitted"
        stale_tab.screenshot(path=str(output_dir / "server-sales-order-stale-zh_CN.png"), full_page=True)
        stale_tab.close()

        page.goto(base + "/workbench")
        with page.expect_navigation():
            page.locator(f"#pending-approvals tr[data-record='{order['id']}'] a").click()
        assert page.inner_text("#doc-total") == "389.00"  # 3 × 100 + 13 % = 339, + 50
        with page.expect_navigation():
            page.click("#approve")
        assert page.locator("#approve").count() == 0 and page.locator(".flash-success").count() == 1
        _shot(page, output_dir, "order-approved")
        approved = rep.get(f"/api/orders/{order['id']}")
        assert approved["status"] == "approved" and approved["approved_by"]
        ledger = rep.get("/api/receivables", params={"customer_id": customer["id"]})
        assert ledger["summary"]["outstanding"] == 389.0

        page.goto(f"{base}/orders/{order['id']}/print")
        assert "工业阀门" in page.inner_text("body") and page.inner_text("#print-total") == "389.00"
        _shot(page, output_dir, "order-print")
        page.goto(base + "/workbench")
        assert page.locator(f"#pending-approvals tr[data-record='{order['id']}']").count() == 0
    finally:
        cluster.close()
