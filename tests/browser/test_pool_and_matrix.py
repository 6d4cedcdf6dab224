"""In Chromium against a real server: the permission matrix takes effect on the rep's next API request;
a rep claims from the pool page and an admin assigns selected pool customers to a rep."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.browsing import login as _login
from tests.e2e.harness import ADMIN_PASSWORD, Api, Cluster

pytestmark = pytest.mark.browser

REP = ("lina", "lina-pass-1")
OTHER_REP = ("wei", "wei-pass-1")
POOL_NAMES = ("公海·杭州明达机械有限公司", "公海·宁波远航贸易有限公司", "公海·绍兴纺织有限公司")


def _user_id(api: Api, username: str) -> str:
    return str(next(u["id"] for u in api.get("/api/users", params={"username": username})["items"]
                    if u["username"] == username))


def _save_rep_right(page: Any, base: str, right: str, on: bool) -> None:
    """On the roles page, set one cell of sales_rep's matrix and save that role's form."""
    page.goto(base + "/roles")
    section = page.locator("#role-sales_rep")
    box = section.locator(f"input[name=right][value='{right}']")
    assert box.is_checked() != on, f"{right} is already {'on' if on else 'off'}"
    box.set_checked(on)
    with page.expect_navigation():
        section.locator("button[name=op][value=save]").click()
    assert page.locator("#role-sales_rep").locator(f"input[name=right][value='{right}']").is_checked() == on


def test_permission_matrix_and_pool_page(tmp_path: Path, browser: Any, page_zh: Any, output_dir: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_user(*REP, "sales_rep")
        cluster.add_user(*OTHER_REP, "sales_rep")
        base = cluster.server.url
        admin = Api(base, "admin", ADMIN_PASSWORD)
        rep = Api(base, *REP)
        pool_ids = [admin.post("/api/customers", {"kind": "company", "name": n, "owner_id": None})["id"] for n in POOL_NAMES]
        rep_id, other_id = _user_id(admin, REP[0]), _user_id(admin, OTHER_REP[0])
        assert set(pool_ids) <= {c["id"] for c in rep.get("/api/customers", params={"pool": "true"})["items"]}

        # the admin removes "pool: edit" from sales_rep: the rep's very next claim is refused
        page = page_zh
        _login(page, base, "admin", ADMIN_PASSWORD)
        _save_rep_right(page, base, "pool.edit", on=False)
        assert page.get_attribute("html", "lang").lower().startswith("zh")
        page.locator("#role-sales_rep").scroll_into_view_if_needed()
        page.screenshot(path=str(output_dir / "server-roles-zh_CN.png"), full_page=True)
        refused = rep.http.post(f"{base}/api/customers/{pool_ids[0]}/claim", timeout=10)
        assert refused.status_code == 403, refused.text
        assert admin.get(f"/api/customers/{pool_ids[0]}")["owner_id"] is None

        # ... and gives it back: the next request may claim again
        _save_rep_right(page, base, "pool.edit", on=True)

        # the rep claims on the pool page (own browser context, same server)
        rep_context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
        try:
            rep_page = rep_context.new_page()
            rep_page.set_default_timeout(20_000)
            _login(rep_page, base, *REP)
            rep_page.goto(base + "/pool")
            assert rep_page.locator("#pool input[type=checkbox]").count() == 0  # a rep cannot assign
            with rep_page.expect_navigation():
                rep_page.locator(f"tr[data-customer='{pool_ids[0]}'] button[type=submit]").click()
            assert rep_page.locator(f"tr[data-customer='{pool_ids[0]}']").count() == 0
            assert rep_page.locator(".flash, .flash-success, [class*=flash]").count() >= 1
        finally:
            rep_context.close()
        assert rep.get(f"/api/customers/{pool_ids[0]}")["owner_id"] == rep_id
        assert admin.get(f"/api/customers/{pool_ids[0]}")["owner_id"] == rep_id

        # the admin selects the other two and assigns them to wei
        page.goto(base + "/pool")
        assert page.locator("#pool tbody tr").count() == 2
        for cid in pool_ids[1:]:
            page.locator(f"tr[data-customer='{cid}'] input[name=ids]").check()
        page.select_option("select[name=owner_id]", other_id)
        page.screenshot(path=str(output_dir / "server-pool-zh_CN.png"), full_page=True)
        with page.expect_navigation():
            page.click("button[form=assign-form]")
        assert "公海" not in page.inner_text("body")
        wei = Api(base, *OTHER_REP)
        for cid in pool_ids[1:]:
            assert admin.get(f"/api/customers/{cid}")["owner_id"] == other_id
            assert wei.get(f"/api/customers/{cid}")["owner_id"] == other_id
            assert rep.http.get(f"{base}/api/customers/{cid}", timeout=10).status_code == 404
        assert rep.get("/api/customers", params={"pool": "true"})["total"] == 0
    finally:
        cluster.close()
