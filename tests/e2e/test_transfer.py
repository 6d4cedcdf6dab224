"""End to end with real processes: a transfer A → B, an offline edit racing a transfer, an offline claim race."""
from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from .harness import Api, Cluster, Proc, free_port, run

pytestmark = pytest.mark.e2e

REP_A = ("lina", "lina-pass-1")
REP_B = ("wei", "wei-pass-1")
MANAGER = ("zhang", "zhang-pass-1")
VISIT = {"method": "onsite", "content": "上门拜访，确认二期采购", "visited_at": "2026-11-20T10:00:00+08:00"}


def _add(cluster: Cluster, username: str, password: str, role: str) -> None:
    run("user", "add", "--data", str(cluster.server.data), "--username", username, "--password", password,
        "--role", role, "--department", "Sales/East")


def _enroll_and_settle(cluster: Cluster, name: str, username: str, password: str) -> Api:
    """Enroll a device, start its client and wait for the worker's own first sync (1 s after start),
    so that it cannot race the test's steps (the interval is an hour after that)."""
    data = cluster.root / name
    run("enroll", "--data", str(data), "--server", cluster.server.url, "--username", username,
        "--password", password, "--name", name)
    enrolled = datetime.now(timezone.utc)
    proc = cluster.clients[name] = Proc("client", data, free_port(), cluster.root / f"{name}.log")
    api = Api(proc.start().url, username, password)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        last = api.get("/api/sync/status")["last_success_at"]
        if last and datetime.fromisoformat(last) > enrolled:
            break
        time.sleep(0.05)
    return api


@pytest.fixture
def team(cluster: Cluster) -> tuple[Cluster, Api, Api, Api]:
    """Two reps' laptops (A, B) and their manager on the server's API, all in Sales/East."""
    _add(cluster, *REP_A, "sales_rep")
    _add(cluster, *REP_B, "sales_rep")
    _add(cluster, *MANAGER, "sales_manager")
    a = _enroll_and_settle(cluster, "laptop_a", *REP_A)
    b = _enroll_and_settle(cluster, "laptop_b", *REP_B)
    return cluster, a, b, Api(cluster.server.url, *MANAGER)


def _user_id(api: Api, username: str) -> str:
    found = api.get("/api/users", params={"username": username})["items"]
    return str(next(u["id"] for u in found if u["username"] == username))


def _rejections(cluster: Cluster, device: str) -> list[dict[str, Any]]:
    """The device's sync issues, read from its own database (what its sync issues page lists)."""
    path = Path(cluster.clients[device].data) / "client.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sync_rejections WHERE dismissed = 0")]


def _ids(api: Api, path: str, **params: Any) -> set[str]:
    return {item["id"] for item in api.get(path, params={"per_page": 200, **params})["items"]}


def test_transfer_moves_customer_contacts_and_visits(team: tuple[Cluster, Api, Api, Api]) -> None:
    cluster, a, b, manager = team
    customer_id = a.post("/api/customers", {"kind": "company", "name": "宁波远航贸易有限公司"})["id"]
    contact_id = a.post("/api/contacts", {"customer_id": customer_id, "name": "王经理"})["id"]
    visit_id = a.post("/api/visits", {**VISIT, "customer_id": customer_id})["id"]
    a.sync()
    b.sync()
    assert customer_id not in _ids(b, "/api/customers")

    moved = manager.post(f"/api/customers/{customer_id}/transfer", {"owner_id": _user_id(manager, REP_B[0])}, expect=200)
    assert moved["owner_id"] == _user_id(manager, REP_B[0])

    b.sync()
    assert b.get(f"/api/customers/{customer_id}")["name"] == "宁波远航贸易有限公司"
    assert _ids(b, "/api/contacts", customer_id=customer_id) == {contact_id}
    assert _ids(b, "/api/visits", customer_id=customer_id) == {visit_id}

    report = a.sync()
    assert report["evicted"] >= 1
    assert customer_id not in _ids(a, "/api/customers")
    assert contact_id not in _ids(a, "/api/contacts") and visit_id not in _ids(a, "/api/visits")
    assert a.http.get(f"{a.base}/api/customers/{customer_id}", timeout=10).status_code == 404
    assert a.get("/api/sync/status")["pending"] == 0


def test_offline_edit_racing_a_transfer_is_never_lost(team: tuple[Cluster, Api, Api, Api]) -> None:
    cluster, a, b, manager = team
    customer_id = a.post("/api/customers", {"kind": "company", "name": "温州东瓯电器有限公司", "phone": "0577-1111"})["id"]
    a.sync()
    manager.post(f"/api/customers/{customer_id}/transfer", {"owner_id": _user_id(manager, REP_B[0])}, expect=200)
    cluster.server.stop()
    a.patch(f"/api/customers/{customer_id}", {"phone": "0577-2222", "remark": "A离线补充"})
    cluster.server.start()
    a.sync()

    on_server = manager.get(f"/api/customers/{customer_id}")
    issues = [r for r in _rejections(cluster, "laptop_a") if r["record_id"] == customer_id]
    if on_server["phone"] != "0577-2222":
        # not applied: the device must say so, with the values it could not deliver
        assert a.get("/api/sync/status")["rejections"] >= 1
        assert issues, "the offline edit vanished: neither on the server nor a sync issue"
        kept = " ".join(str(r.get("detail")) for r in issues)
        assert "0577-2222" in kept and "A离线补充" in kept
    else:
        assert on_server["remark"] == "A离线补充"
    assert customer_id not in _ids(a, "/api/customers")  # evicted either way
    b.sync()
    assert b.get(f"/api/customers/{customer_id}")["owner_id"] == _user_id(manager, REP_B[0])


def test_offline_claim_race_has_exactly_one_winner(team: tuple[Cluster, Api, Api, Api]) -> None:
    cluster, a, b, manager = team
    pool_id = manager.post("/api/customers", {"kind": "company", "name": "公海·绍兴纺织有限公司", "owner_id": None})["id"]
    a.sync()
    b.sync()
    assert pool_id in _ids(a, "/api/customers", pool="true") and pool_id in _ids(b, "/api/customers", pool="true")

    cluster.server.stop()
    claimed_a = a.post(f"/api/customers/{pool_id}/claim", expect=200)
    claimed_b = b.post(f"/api/customers/{pool_id}/claim", expect=200)
    assert claimed_a["owner_id"] and claimed_b["owner_id"] and claimed_a["owner_id"] != claimed_b["owner_id"]
    cluster.server.start()
    a.sync()
    b.sync()
    a.sync()

    assert manager.get(f"/api/customers/{pool_id}")["owner_id"] == claimed_a["owner_id"]
    assert a.get(f"/api/customers/{pool_id}")["owner_id"] == claimed_a["owner_id"]
    assert pool_id not in _ids(b, "/api/customers")
    lost = [(r["record_id"], r["field"], r["reason"]) for r in _rejections(cluster, "laptop_b")]
    # the whole-record refusal drops B's copy; the field rejection says why
    assert sorted(lost, key=str) == sorted([(pool_id, None, "out_of_scope"), (pool_id, "owner_id", "already_claimed")], key=str)
    assert b.get("/api/sync/status")["rejections"] == 2
    assert _rejections(cluster, "laptop_a") == []
