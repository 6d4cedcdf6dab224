"""In Chromium against a real server process: the stock ledger on the server pages.

Two outs of the last unit (as two offline kiosks would) leave a negative balance; the boss (zh_CN,
1366×768) goes from the stock levels to the ledger, sees the flagged row, rebuilds the ledger after
confirming, and reverses the second out after confirming; the balance is back to zero and the
negative list is empty. Screenshots land in the test output directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.browsing import login as _login, shot
from tests.e2e.harness import Api, Cluster

pytestmark = pytest.mark.browser

BOSS = ("zhang", "zhang-pass-1")


def _shot(page: Any, output_dir: Path, name: str) -> None:
    shot(page, output_dir, f"server-stock-{name}-zh_CN")


def test_boss_sees_the_negative_row_rebuilds_and_reverses(tmp_path: Path, page_zh: Any, output_dir: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_user(*BOSS, "boss")
        base = cluster.server.url
        boss = Api(base, *BOSS)
        wh = boss.post("/api/warehouses", {"code": "WH01", "name": "一号仓"})
        valve = boss.post("/api/products", {"code": "FM-100", "name": "工业阀门", "unit": "个", "price": 100})
        boss.post("/api/stock_moves", {"kind": "in", "warehouse_id": wh["id"], "product_id": valve["id"], "quantity": 1,
                                       "unit_cost": 80, "moved_at": "2026-11-20T09:00:00+08:00"})
        for hour, who in ((10, "A"), (11, "B")):
            last = boss.post("/api/stock_moves", {"kind": "out", "warehouse_id": wh["id"], "product_id": valve["id"],
                                                  "quantity": 1, "reason": f"kiosk {who}",
                                                  "moved_at": f"2026-11-20T{hour}:00:00+08:00"})

        page = page_zh
        _login(page, base, *BOSS)
        page.goto(base + "/stock")
        assert page.get_attribute("html", "lang").lower().startswith("zh")
        level = page.locator("#levels tr[data-product='FM-100']")
        assert "negative" in (level.get_attribute("class") or "") and level.locator(".neg-flag").is_visible()
        _shot(page, output_dir, "levels")
        with page.expect_navigation():
            level.locator("a").first.click()
        flagged = page.locator("#ledger tr[data-negative='1']")
        assert flagged.count() == 1 and flagged.get_attribute("data-move") == last["id"]
        assert flagged.locator(".neg-flag").is_visible() and "-1" in flagged.inner_text()
        assert page.locator("#ledger-negative").is_visible()
        _shot(page, output_dir, "ledger-negative")

        with page.expect_navigation():
            page.click("#rebuild")
        assert page.locator("#confirm-form").is_visible()
        with page.expect_navigation():
            page.click("#confirm-form button[type=submit]")
        assert page.locator("#ledger tr[data-move]").count() == 3
        assert "3" in page.inner_text(".flashes")

        page.goto(base + f"/stock/moves/{last['id']}/reverse")
        page.fill("#reason", "重复出库")
        with page.expect_navigation():
            page.click("#confirm-form button[type=submit]")
        assert "reversed" in (page.locator(f"#moves tr[data-move='{last['id']}']").get_attribute("class") or "")
        _shot(page, output_dir, "moves")
        page.goto(base + "/stock/negative")
        assert page.locator("#no-negative").is_visible()
        assert boss.get(f"/api/stock?warehouse_id={wh['id']}")["items"][0]["quantity"] == 0
    finally:
        cluster.close()
