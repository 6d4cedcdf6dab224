"""Clocks skewed by hours: the server's and the clients', in process with injected ``ManualClock``s.

The ``fieldbook client`` process has no clock offset setting (``CLOCK`` is an object, so neither
``FIELDBOOK_*`` variables nor the CLI can skew it), so these tests run ``server.create_app`` and two
``client.create_app`` apps in one process, each with its own ``ManualClock``; the clients sync through
``client.worker.run_sync`` with a transport that posts to the server's Flask test client.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

import client as client_app
import server as server_app
from client import db as client_db
from client.enrollment import remember_user
from client.worker import run_sync
from server import db as server_db
from server import users
from sync import ManualClock
from sync.errors import SyncError

pytestmark = pytest.mark.e2e

HOUR = 3600 * 1000
T0 = 1_767_258_000_000  # 2026-01-01T09:00:00Z
ADMIN_PASSWORD = "admin-skew"
PASSWORD = "skew-pass-1"


class FlaskTransport:
    """The sync transport over a server app's Flask test client (JSON, ``Authorization: Device``)."""

    def __init__(self, http: FlaskClient, token: str) -> None:
        self.http, self.token = http, token
        self.bytes_sent = self.bytes_received = 0

    def _post(self, path: str, message: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(path, json=message, headers={"Authorization": f"Device {self.token}"})
        if answer.status_code >= 400:
            raise SyncError(str(answer.get_json()))
        self.bytes_received += len(answer.data)
        return answer.get_json()  # type: ignore[no-any-return]

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/push", message)

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/pull", message)

    def close(self) -> None:
        pass


class Laptop:
    """A client app with its own clock, enrolled to the in-process server."""

    def __init__(self, root: Path, name: str, username: str, server: FlaskClient, clock: ManualClock) -> None:
        self.clock = clock
        self.app: Flask = client_app.create_app({"DATA_DIR": str(root / name), "TESTING": True, "START_WORKER": False,
                                                 "CLOCK": clock})
        self.store = client_db.store_for(self.app.config["DATA_DIR"])
        answer = server.post("/api/devices/enroll", json={"username": username, "password": PASSWORD,
                                                           "device_id": self.store.site_id, "name": name})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        body = answer.get_json()
        client_db.save_device(self.store, "http://server.invalid", body["device_token"], body["user"],
                              "2026-01-01T00:00:00+00:00", None)
        remember_user(self.store, body["user"], PASSWORD)
        self.transport = FlaskTransport(server, body["device_token"])
        self.http = self.app.test_client()
        token = self.http.post("/api/login", json={"username": username, "password": PASSWORD}).get_json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def sync(self) -> dict[str, Any]:
        return run_sync(self.store, transport=self.transport)

    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = self.http.open(path, method=method, json=body, headers=self.headers)
        assert answer.status_code == expect, answer.get_data(as_text=True)
        return answer.get_json()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    server_clock = ManualClock(T0)
    app = server_app.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "server"), "ADMIN_PASSWORD": ADMIN_PASSWORD,
                                 "CLOCK": server_clock})
    with app.app_context():
        store = server_db.get_store()
    for name in ("zhang", "wang"):
        users.create_user(store, name, PASSWORD, "sales_manager")
    laptops: list[Laptop] = []
    yield {"server": app, "server_clock": server_clock, "http": app.test_client(), "tmp": tmp_path, "laptops": laptops}
    for laptop in laptops:
        client_db.close_store(laptop.app.config["DATA_DIR"])
    server_db.close_store(app.config["DATA_DIR"])


def _laptop(world: dict[str, Any], name: str, username: str, clock_ms: int) -> Laptop:
    laptop = Laptop(world["tmp"], name + uuid.uuid4().hex[:6], username, world["http"], ManualClock(clock_ms))
    world["laptops"].append(laptop)
    return laptop


def _advance(world: dict[str, Any], ms: int) -> None:
    world["server_clock"].advance(ms)
    for laptop in world["laptops"]:
        laptop.clock.advance(ms)


def test_client_clock_jumping_hours_ahead_does_not_win_every_conflict(world: dict[str, Any]) -> None:
    a = _laptop(world, "a", "zhang", T0)
    b = _laptop(world, "b", "wang", T0)
    customer = a.api("POST", "/api/customers", {"kind": "company", "name": "杭州明达机械有限公司", "phone": "0571-0"}, 201)
    a.sync()
    b.sync()
    a.clock.advance(3 * HOUR)  # A's clock jumps 3 hours ahead after it learned the server's time
    a.api("PATCH", f"/api/customers/{customer['id']}", {"phone": "A-ahead"})
    a.sync()
    _advance(world, 60_000)  # one real minute later B edits the same field
    b.api("PATCH", f"/api/customers/{customer['id']}", {"phone": "B-later"})
    b.sync()
    a.sync()
    for laptop in (a, b):
        seen = laptop.api("GET", f"/api/customers/{customer['id']}")
        assert seen["phone"] == "B-later"  # A's stamp was clamped to the server's receipt time
        assert [(c["field"], c["value"]) for c in seen["conflicts"]] == [("phone", "A-ahead")]


def test_server_and_clients_hours_apart_converge_and_order_by_server_time(world: dict[str, Any]) -> None:
    # The server's clock is 5 hours behind A's and 4 hours ahead of B's from the start.
    a = _laptop(world, "a", "zhang", T0 + 5 * HOUR)
    b = _laptop(world, "b", "wang", T0 - 4 * HOUR)
    a.sync()
    b.sync()  # both learn their offset to the server
    customer = a.api("POST", "/api/customers", {"kind": "company", "name": "苏州恒通电子有限公司", "phone": "0"}, 201)
    a.sync()
    b.sync()
    _advance(world, 60_000)
    a.api("PATCH", f"/api/customers/{customer['id']}", {"phone": "A-first"})
    _advance(world, 60_000)
    b.api("PATCH", f"/api/customers/{customer['id']}", {"phone": "B-second"})
    visit = b.api("POST", "/api/visits", {"customer_id": customer["id"], "method": "phone", "content": "电话沟通",
                                          "visited_at": "2026-01-01T17:00:00+08:00"}, 201)
    b.sync()
    a.sync()
    b.sync()
    seen = [laptop.api("GET", f"/api/customers/{customer['id']}") for laptop in (a, b)]
    assert seen[0] == seen[1]
    assert seen[0]["phone"] == "B-second"  # the later edit in server time wins despite B's slow clock
    assert [(c["field"], c["value"]) for c in seen[0]["conflicts"]] == [("phone", "A-first")]
    server_ms = world["server_clock"].now_ms()
    updated = seen[0]["updated_at"]
    assert updated is not None and updated.startswith("2026-01-01")  # in server time, not A's or B's
    assert [v["id"] for v in a.api("GET", f"/api/visits?customer_id={customer['id']}")["items"]] == [visit["id"]]
    assert server_ms - T0 == 120_000
