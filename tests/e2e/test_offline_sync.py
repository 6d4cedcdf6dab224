"""End to end with real processes: offline work, conflicts, text merges, crashes."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from .harness import Api, Cluster

pytestmark = pytest.mark.e2e

VISIT = {"method": "onsite", "content": "上门拜访，讨论二期采购", "visited_at": "2026-11-20T10:00:00+08:00",
         "next_contact_at": "2026-11-27T09:30:00+08:00"}


def _new_customer(api: Api, name: str, **extra: object) -> str:
    return str(api.post("/api/customers", {"kind": "company", "name": name, **extra})["id"])


def test_offline_work_reaches_the_other_device(two_devices: tuple[Cluster, Api, Api]) -> None:
    cluster, a, b = two_devices
    cluster.server.stop()
    customer_id = _new_customer(a, "杭州明达机械有限公司", phone="0571-88886666")
    visit = a.post("/api/visits", {**VISIT, "customer_id": customer_id})
    offline = a.http.post(a.base + "/api/sync", timeout=30)
    assert offline.status_code == 503 and offline.json()["error"]["code"] == "offline"
    status = a.get("/api/sync/status")
    assert status["online"] is False and status["pending"] >= 2

    cluster.server.start()
    assert a.sync()["pushed"] >= 2
    b.sync()
    found = b.get("/api/customers", params={"q": "明达机械"})
    assert found["total"] == 1 and found["items"][0]["id"] == customer_id
    assert found["items"][0]["next_contact_at"] == VISIT["next_contact_at"]
    visits = b.get("/api/visits", params={"customer_id": customer_id})
    assert [v["id"] for v in visits["items"]] == [visit["id"]]
    assert a.get("/api/sync/status")["pending"] == 0


def test_concurrent_edits_merge_with_kept_conflicts(two_devices: tuple[Cluster, Api, Api]) -> None:
    cluster, a, b = two_devices
    customer_id = _new_customer(a, "苏州恒通电子有限公司", phone="0512-1111", remark="老客户。")
    a.sync()
    b.sync()
    cluster.server.stop()
    a.patch(f"/api/customers/{customer_id}", {"phone": "0512-AAAA", "email": "a@hengtong.cn", "remark": "A补充：老客户。"})
    time.sleep(0.05)  # B's phone edit is the later one
    b.patch(f"/api/customers/{customer_id}", {"phone": "0512-BBBB", "mobile": "13800000002", "remark": "老客户。B补充。"})
    cluster.server.start()
    for api in (a, b, a):
        api.sync()
    seen = [api.get(f"/api/customers/{customer_id}") for api in (a, b)]
    for record in seen:
        assert record["phone"] == "0512-BBBB"  # the later edit wins
        assert record["email"] == "a@hengtong.cn" and record["mobile"] == "13800000002"  # both fields kept
        assert "A补充" in record["remark"] and "B补充" in record["remark"]  # both text edits present
        kept = [(c["field"], c["value"]) for c in record["conflicts"]]
        assert kept == [("phone", "0512-AAAA")]
        assert record["conflicts"][0]["author_id"] and record["conflicts"][0]["edited_at"]
    assert seen[0]["remark"] == seen[1]["remark"]
    assert seen[0]["conflicts"] == seen[1]["conflicts"]

    conflict_id = seen[0]["conflicts"][0]["id"]
    restored = a.post(f"/api/customers/{customer_id}/conflicts/{conflict_id}/restore", expect=200)
    assert restored["phone"] == "0512-AAAA" and restored["conflicts"] == []
    a.sync()
    b.sync()
    assert b.get(f"/api/customers/{customer_id}")["phone"] == "0512-AAAA"


def test_kill_client_during_push_loses_and_doubles_nothing(two_devices: tuple[Cluster, Api, Api]) -> None:
    cluster, a, b = two_devices
    names = [f"测试客户{i:04d}" for i in range(400)]
    for name in names:
        _new_customer(a, name)
    proc = cluster.clients["laptop_a"]
    pusher = threading.Thread(target=lambda: requests.post(a.base + "/api/sync", timeout=60), daemon=True)
    pusher.start()
    time.sleep(0.3)
    proc.kill9()
    pusher.join(timeout=10)
    proc.start()
    a = Api(proc.url, "lina", "lina-pass-1")
    a.sync()
    assert a.get("/api/sync/status")["pending"] == 0
    b.sync()
    listed = b.get("/api/customers", params={"q": "测试客户", "per_page": 200})
    assert listed["total"] == len(names)
    seen: list[str] = []
    for page in (1, 2):
        seen += [c["name"] for c in b.get("/api/customers", params={"q": "测试客户", "per_page": 200, "page": page})["items"]]
    assert sorted(seen) == names


def test_kill_server_during_pull_loses_and_doubles_nothing(two_devices: tuple[Cluster, Api, Api]) -> None:
    cluster, a, b = two_devices
    for i in range(300):
        customer_id = _new_customer(a, f"拉取客户{i:04d}")
        if i % 3 == 0:
            a.post("/api/visits", {**VISIT, "customer_id": customer_id})
    a.sync()
    puller = threading.Thread(target=lambda: requests.post(b.base + "/api/sync", timeout=60), daemon=True)
    puller.start()
    time.sleep(0.2)
    cluster.server.kill9()
    puller.join(timeout=60)
    cluster.server.start()
    b.sync()
    assert b.get("/api/customers", params={"q": "拉取客户"})["total"] == 300
    assert b.get("/api/visits", params={"per_page": 1})["total"] == 100
    b.sync()  # a second sync changes nothing
    assert b.get("/api/customers", params={"q": "拉取客户"})["total"] == 300
