"""In Chromium: a rep creates a customer and a visit on the client, syncs, and the admin sees both."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.harness import ADMIN_PASSWORD, Cluster

pytestmark = pytest.mark.browser

NAME = "宁波恒鼎精密机械有限公司"
NOTE = "现场演示了新款数控机床，客户对交期很关心"


def test_customer_and_visit_from_client_page_reach_server_pages(tmp_path: Path, page_zh, output_dir: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_user("lina", "lina-pass-1", "sales_rep")
        client = cluster.enroll("laptop", "lina", "lina-pass-1")
        page = page_zh

        page.goto(client.url + "/login")
        assert page.get_attribute("html", "lang", timeout=5000).lower().startswith("zh")
        page.fill("#f-username", "lina")
        page.fill("#f-password", "lina-pass-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/customers.*"))

        page.goto(client.url + "/customers/new")
        page.select_option("#f-kind", "company")
        page.fill("#f-name", NAME)
        page.fill("#f-phone", "0574-87654321")
        page.click("form button[type=submit].btn-primary")
        page.wait_for_url(re.compile(r".*/customers/[0-9a-f-]{36}$"))
        customer_id = page.url.rsplit("/", 1)[1]
        assert NAME in page.inner_text("h1")

        page.goto(f"{client.url}/customers/{customer_id}/visits/new")
        page.select_option("#f-method", "onsite")
        page.fill("#f-visited_at", "2026-11-22T10:30")
        page.fill("#f-content", NOTE)
        page.click("form button[type=submit].btn-primary")
        page.wait_for_url(re.compile(rf".*/customers/{customer_id}$"))
        assert NOTE in page.inner_text("body")

        with page.expect_response(lambda r: "/syncbar/sync" in r.url and r.status == 200):
            page.click("button.sync-now")
        page.wait_for_function("() => !document.body.innerText.includes('离线')", timeout=10_000)
        page.reload()
        page.screenshot(path=str(output_dir / "client-customer-zh_CN.png"), full_page=True)

        page.goto(cluster.server.url + "/login")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.goto(cluster.server.url + "/customers?q=恒鼎精密")
        page.click(f"a[href$='/customers/{customer_id}']")
        page.wait_for_url(re.compile(rf".*/customers/{customer_id}$"))
        body = page.inner_text("body")
        assert NAME in body and NOTE in body
        assert page.get_attribute("html", "lang").lower().startswith("zh")
        assert "Visits" not in page.inner_text("#visits-h")  # the heading is translated
        page.screenshot(path=str(output_dir / "server-customer-zh_CN.png"), full_page=True)
    finally:
        cluster.close()
