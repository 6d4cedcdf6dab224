"""End to end with real processes: offline work, conflicts, text merges, crashes."""
from __future__ import annotations

import threading
import time
from typing import Callable

import pytest
import requests

from .harness import ADMIN_PASSWORD, Api, Cluster

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


def _count(api: Api, q: str) -> int:
    try:
        answer = api.http.get(api.base + "/api/customers", params={"q": q, "per_page": 1}, timeout=5)
        return int(answer.json()["total"]) if answer.status_code == 200 else -1
    except requests.RequestException:
        return -1


def _kill_when(proc_kill: Callable[[], None], progress: Callable[[], int], total: int) -> int:
    """Kill as soon as some but not all records have arrived; return how many had."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen = progress()
        if 0 < seen < total:
            proc_kill()
            return seen
        if seen >= total:
            break
        time.sleep(0.01)
    raise AssertionError(f"could not catch the sync mid-way (saw {seen} of {total})")


def _names(api: Api, q: str, total: int) -> list[str]:
    names: list[str] = []
    for page in range(1, total // 200 + 2):
        names += [c["name"] for c in api.get("/api/customers", params={"q": q, "per_page": 200, "page": page})["items"]]
    return sorted(names)


def test_kill_client_during_push_loses_and_doubles_nothing(two_devices: tuple[Cluster, Api, Api]) -> None:
    cluster, a, b = two_devices
    total = 600
    names = [f"推送客户{i:04d}" for i in range(total)]
    for name in names:
        _new_customer(a, name)
    admin = Api(cluster.server.url, "admin", ADMIN_PASSWORD)
    proc = cluster.clients["laptop_a"]
    proc.stop()
    proc.env = {"FIELDBOOK_SYNC_BATCH": "20"}  # many small pushes, so the kill lands between two
    proc.start()
    a = Api(proc.url, "lina", "lina-pass-1")
    pusher = threading.Thread(target=lambda: _swallow(lambda: requests.post(a.base + "/api/sync", timeout=60)), daemon=True)
    pusher.start()
    seen = _kill_when(proc.kill9, lambda: _count(admin, "推送客户"), total)
    pusher.join(timeout=10)
    assert 0 < seen < total  # the client died mid-push
    proc.start()
    a = Api(proc.url, "lina", "lina-pass-1")
    a.sync()
    assert a.get("/api/sync/status")["pending"] == 0
    b.sync()
    assert _names(b, "推送客户", total) == names  # every customer once: nothing lost, nothing doubled
    assert _names(admin, "推送客户", total) == names


def test_kill_server_during_pull_loses_and_doubles_nothing(two_devices: tuple[Cluster, Api, Api]) -> None:
    cluster, a, b = two_devices
    total = 600
    names = [f"拉取客户{i:04d}" for i in range(total)]
    for i, name in enumerate(names):
        customer_id = _new_customer(a, name)
        if i % 5 == 0:
            a.post("/api/visits", {**VISIT, "customer_id": customer_id})
    a.sync()
    laptop_b = cluster.clients["laptop_b"]
    laptop_b.stop()
    laptop_b.env = {"FIELDBOOK_SYNC_PULL_LIMIT": "50"}  # many small pages, so the kill lands between two
    laptop_b.start()
    b = Api(laptop_b.url, "zhang", "zhang-pass-1")
    puller = threading.Thread(target=lambda: _swallow(lambda: requests.post(b.base + "/api/sync", timeout=120)), daemon=True)
    puller.start()
    seen = _kill_when(cluster.server.kill9, lambda: _count(b, "拉取客户"), total)
    puller.join(timeout=120)
    assert 0 < seen < total  # the server died mid-pull
    cluster.server.start()
    b.sync()
    assert _names(b, "拉取客户", total) == names
    assert b.get("/api/visits", params={"per_page": 1})["total"] == total // 5
    b.sync()  # a second sync changes nothing
    assert _names(b, "拉取客户", total) == names


def _swallow(call: Callable[[], object]) -> None:
    try:
        call()
    except requests.RequestException:
        pass  # the process on the other end was killed: that is the point
