"""End to end with real processes: the idle customer recycling job, run by `fieldbook recycle` with an
injected "now", returns a rep's idle customer to the pool; the rep's next sync follows the rep's pool
scope (with ``pool.view``: the customer stays on the device as a pool customer; without it: evicted);
the owner gets an ``idle_recycled`` notification."""
from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from .harness import ADMIN_PASSWORD, Api, Cluster, run
from .test_transfer import _enroll_and_settle, _ids, _user_id

pytestmark = pytest.mark.e2e

REP = ("lina", "lina-pass-1")
NOW = "2030-06-01T09:00:00+08:00"  # far after anything the test creates today
IDLE_DAYS = 30


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _set_idle_days(base: str, days: int) -> None:
    """The admin sets the default idle days on the server's policy page (a real form post)."""
    web = requests.Session()
    login = web.post(f"{base}/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                            "csrf_token": _csrf(web.get(f"{base}/login", timeout=10).text)}, timeout=10)
    assert login.status_code == 200 and "/login" not in login.url, login.text[:500]
    page = web.get(f"{base}/policy", timeout=10)
    assert page.status_code == 200
    saved = web.post(f"{base}/policy", data={"csrf_token": _csrf(page.text), "action": "settings", "idle_days": str(days),
                                             "duplicate_fields": ["name", "phone", "mobile"]}, timeout=10)
    assert saved.status_code == 200
    assert f'name="idle_days" type="number" min="0" value="{days}"' in saved.text, "the idle days were not saved"


@pytest.mark.parametrize("pool_view", [True, False], ids=["rep-sees-pool", "rep-without-pool-view"])
def test_recycle_returns_idle_customer_to_pool_and_notifies_owner(cluster: Cluster, pool_view: bool) -> None:
    cluster.add_user(*REP, "sales_rep")
    if not pool_view:
        run("role", "revoke", "--data", str(cluster.server.data), "--role", "sales_rep", "--module", "pool", "--action", "view")
    _set_idle_days(cluster.server.url, IDLE_DAYS)
    device = _enroll_and_settle(cluster, "laptop", *REP)
    admin = Api(cluster.server.url, "admin", ADMIN_PASSWORD)
    rep_on_server = Api(cluster.server.url, *REP)
    rep_id = _user_id(admin, REP[0])

    idle = device.post("/api/customers", {"kind": "company", "name": "嘉兴久未联系五金有限公司"})["id"]
    contact = device.post("/api/contacts", {"customer_id": idle, "name": "周经理"})["id"]
    device.post("/api/visits", {"customer_id": idle, "method": "phone", "content": "上次电话回访",
                                "visited_at": "2026-11-01T10:00:00+08:00"})
    recent = device.post("/api/customers", {"kind": "company", "name": "湖州常联系纺织有限公司"})["id"]
    device.post("/api/visits", {"customer_id": recent, "method": "onsite", "content": "上周刚拜访",
                                "visited_at": "2030-05-25T10:00:00+08:00"})
    device.sync()
    assert admin.get(f"/api/customers/{idle}")["owner_id"] == rep_id

    out = run("recycle", "--data", str(cluster.server.data), "--now", NOW).stdout
    assert "嘉兴久未联系五金有限公司" in out and "湖州常联系纺织有限公司" not in out, out
    assert admin.get(f"/api/customers/{idle}")["owner_id"] is None
    assert admin.get(f"/api/customers/{recent}")["owner_id"] == rep_id  # contacted within the idle days

    report: dict[str, Any] = device.sync()
    if pool_view:
        # a rep with pool.view holds the pool: the customer stays on the device, now unowned
        assert device.get(f"/api/customers/{idle}")["owner_id"] is None
        assert idle in _ids(device, "/api/customers", pool="true")
        assert idle in _ids(rep_on_server, "/api/customers", pool="true")
    else:
        # out of the rep's scope now: evicted with what hangs off it
        assert report["evicted"] >= 1
        assert idle not in _ids(device, "/api/customers")
        assert contact not in _ids(device, "/api/contacts")
        assert device.http.get(f"{device.base}/api/customers/{idle}", timeout=10).status_code == 404
        assert rep_on_server.http.get(f"{cluster.server.url}/api/customers/{idle}", timeout=10).status_code == 404
    assert device.get(f"/api/customers/{recent}")["owner_id"] == rep_id
    assert device.get("/api/sync/status")["pending"] == 0

    notes = rep_on_server.get("/api/notifications")["items"]
    recycled = [n for n in notes if n["kind"] == "idle_recycled"]
    assert [n["customer_id"] for n in recycled] == [idle], notes
    assert recycled[0]["detail"]["idle_days"] == IDLE_DAYS

    again = run("recycle", "--data", str(cluster.server.data), "--now", NOW).stdout
    assert "no idle customers" in again  # nothing owned is idle any more; no second notification
    assert len([n for n in rep_on_server.get("/api/notifications")["items"] if n["kind"] == "idle_recycled"]) == 1
