"""Faults end to end: two real clients sync with a real server through a fault proxy, with kill -9.

Each iteration both clients create and edit customers and record visits, then sync through the
proxy (which drops, duplicates, delays, truncates and replays requests and responses); now and then
a client or the server is killed with SIGKILL in the middle of a sync and restarted. Then the faults
stop, every client syncs until quiet, and every replica must hold the same customers (same values,
same kept conflicts) and the same visits, each created customer exactly once.

The seed is printed (``FAULT_SEED=<n>`` reruns one, ``FAULT_SEED=random`` draws one); ``FAULT_ITERATIONS``
changes the count (10).
"""
from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from e2e.harness import ADMIN_PASSWORD, Api, Cluster, Proc, free_port, run

from .fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e

USERS = {"laptop_a": ("zhang", "zhang-pass-1"), "laptop_b": ("wang", "wang-pass-1")}
CUSTOMER_KEYS = ("id", "kind", "name", "phone", "mobile", "email", "city", "remark", "owner_id", "is_hot",
                 "next_contact_at", "conflicts")
VISIT_KEYS = ("id", "customer_id", "method", "content", "visited_at", "next_contact_at", "voided")


class Rig:
    """A server, a fault proxy in front of it, and two managers' clients enrolled through the proxy."""

    def __init__(self, root: Path, seed: int) -> None:
        self.cluster = Cluster(root)
        self.proxy = FaultProxy(self.cluster.server.port, seed)
        self.apis: dict[str, Api] = {}
        for name, (username, password) in USERS.items():
            self.cluster.add_user(username, password, "sales_manager")
            data = root / name
            run("enroll", "--data", str(data), "--server", self.proxy.url, "--username", username,
                "--password", password, "--name", name)
            proc = Proc("client", data, free_port(), root / f"{name}.log")
            self.cluster.clients[name] = proc
            proc.start()
            self.login(name)

    def login(self, name: str) -> Api:
        username, password = USERS[name]
        self.apis[name] = Api(self.cluster.clients[name].url, username, password)
        return self.apis[name]

    def close(self) -> None:
        self.proxy.close()
        self.cluster.close()


@pytest.fixture
def seed() -> int:
    # A fixed default keeps CI deterministic; FAULT_SEED=random explores (424242 found the
    # receive_documents bug, see test_pull_page_duplicates.py).
    raw = os.environ.get("FAULT_SEED", "1")
    value = random.SystemRandom().randrange(1, 10**6) if raw == "random" else int(raw)
    print(f"\nFAULT_SEED={value}")
    return value


@pytest.fixture
def rig(tmp_path: Path, seed: int) -> Iterator[Rig]:
    r = Rig(tmp_path, seed)
    try:
        yield r
    finally:
        r.close()


def _try_sync(api: Api) -> int:
    """POST /api/sync and return the status; faults make 4xx/503 normal here, never a 500."""
    try:
        answer = api.http.post(api.base + "/api/sync", timeout=120)
    except requests.RequestException:
        return -1  # the client itself was killed
    return answer.status_code


def _all(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        got = api.get(path, params={"per_page": 200, "page": page})
        items += got["items"]
        if len(items) >= got["total"] or not got["items"]:
            return items
        page += 1


def _snapshot(api: Api) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    customers = sorted(({k: c.get(k) for k in CUSTOMER_KEYS} for c in _all(api, "/api/customers")), key=lambda c: c["id"])
    for c in customers:
        c["conflicts"] = sorted(c["conflicts"] or [], key=lambda k: k["id"])
    visits = sorted(({k: v.get(k) for k in VISIT_KEYS} for v in _all(api, "/api/visits")), key=lambda v: v["id"])
    return customers, visits


def _kill_mid_sync(rig: Rig, rng: random.Random, log: list[str]) -> None:
    """Start a sync on a client, SIGKILL the client or the server at a random moment, restart it."""
    name = rng.choice(sorted(rig.apis))
    victim_name = rng.choice(["server", name])
    victim = rig.cluster.server if victim_name == "server" else rig.cluster.clients[name]
    syncing = threading.Thread(target=_try_sync, args=(rig.apis[name],), daemon=True)
    syncing.start()
    time.sleep(rng.uniform(0.0, 0.4))
    victim.kill9()
    log.append(f"kill -9 {victim_name} during {name}'s sync")
    syncing.join(timeout=120)
    victim.start()
    if victim_name != "server":
        rig.login(name)


def test_replicas_converge_after_network_faults_and_crashes(rig: Rig, seed: int) -> None:
    rng = random.Random(seed)
    iterations = int(os.environ.get("FAULT_ITERATIONS", "10"))
    created: list[str] = []
    ids: list[str] = []
    visits: list[str] = []
    log: list[str] = []
    statuses: list[int] = []
    rig.proxy.enabled = True
    for it in range(iterations):
        for name, api in rig.apis.items():
            for n in range(rng.randint(1, 3)):
                label = f"故障客户-{seed}-{it}-{name}-{n}"
                answer = api.post("/api/customers", {"kind": "company", "name": label, "phone": f"0571-{it}{n}",
                                                     "remark": f"{name} 创建。"})
                created.append(label)
                ids.append(answer["id"])
            known = [c["id"] for c in api.get("/api/customers", params={"q": "故障客户", "per_page": 200})["items"]]
            for customer_id in rng.sample(known, min(2, len(known))):
                api.patch(f"/api/customers/{customer_id}", {"phone": f"{name}-{it}", "city": rng.choice(["杭州", "苏州", "上海"])})
            if known:
                visit = api.post("/api/visits", {"customer_id": rng.choice(known), "method": "onsite",
                                                  "content": f"{name} 第{it}次拜访", "visited_at": "2026-11-20T10:00:00+08:00"})
                visits.append(visit["id"])
        if rng.random() < 0.3:
            _kill_mid_sync(rig, rng, log)
        for name in rng.sample(sorted(rig.apis), 2):
            statuses.append(_try_sync(rig.apis[name]))
    print(f"faults injected: {dict(rig.proxy.counts)}; crashes: {log}; sync statuses: {sorted(set(statuses))}")

    rig.proxy.enabled = False
    for _ in range(3):
        for api in rig.apis.values():
            assert _try_sync(api) == 200, f"the final sync failed (seed {seed})"
    for api in rig.apis.values():
        assert api.get("/api/sync/status")["pending"] == 0

    admin = Api(rig.cluster.server.url, "admin", ADMIN_PASSWORD)
    snapshots = {name: _snapshot(api) for name, api in {**rig.apis, "server": admin}.items()}
    reference_customers, reference_visits = snapshots["server"]
    names = sorted(c["name"] for c in reference_customers)
    assert names == sorted(created), f"customers lost or doubled (seed {seed})"
    assert sorted(c["id"] for c in reference_customers) == sorted(ids)
    assert sorted(v["id"] for v in reference_visits) == sorted(visits), f"visits lost or doubled (seed {seed})"
    for name, (customers, visit_rows) in snapshots.items():
        assert customers == reference_customers, f"{name} differs from the server (seed {seed})"
        assert visit_rows == reference_visits, f"{name}'s visits differ from the server (seed {seed})"
    assert 500 not in statuses, f"a sync through faults answered 500: see the client logs (seed {seed})"
