"""Fixtures for hostile-input tests: a server app and a client app (Flask test clients), users,
enrolled device replicas that build real push messages, and "nothing was written" probes."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

import client as client_app
import server as server_app
from client import db as client_db
from client.enrollment import remember_user
from server import db as server_db
from server import users
from shared.schemas import REGISTRY
from sync import ManualClock, ReplicaStore
from sync.protocol import SCHEMA_VERSION, PushItems

ADMIN_PASSWORD = "admin-bad-input"
PASSWORD = "bad-input-pw"


def assert_envelope(answer: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    """The answer has the expected 4xx status and the JSON error envelope; return the error."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert answer.status_code in statuses, f"{answer.status_code}: {answer.get_data(as_text=True)[:500]}"
    body = answer.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, answer.get_data(as_text=True)[:500]
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return dict(error)


def server_counts(app: Flask) -> dict[str, int]:
    """Row counts of every table that a write could touch (sync log, records, devices)."""
    with app.app_context():
        db = server_db.get_store().db
        tables = ["sync_log", "sync_docs", "api_tokens", "devices", *(e.table for e in REGISTRY)]
        return {t: int(db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]) for t in tables}


class DeviceReplica:
    """An enrolled device's replica store that writes locally and builds push messages as the engine does."""

    def __init__(self, path: Path, http: FlaskClient, username: str, clock: ManualClock) -> None:
        self.store = ReplicaStore.open(str(path), REGISTRY, clock)
        answer = http.post("/api/devices/enroll", json={"username": username, "password": PASSWORD,
                                                         "device_id": self.store.site_id, "name": path.stem})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        self.token = answer.get_json()["device_token"]
        self.user = answer.get_json()["user"]
        self.http = http

    @property
    def device_id(self) -> str:
        return self.store.site_id

    def message(self, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A push message of the given outbox rows (default: the whole outbox), grouped per record."""
        rows = rows if rows is not None else self.store.outbox_batch(200, 10_000_000)
        items: list[dict[str, Any]] = []
        by_record: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            if row["kind"] == "event":
                items.append({"entity": row["entity"], "record_id": row["record_id"], "outbox": [row["seq"]],
                              "event": json.loads(row["payload"])})
                continue
            key = (row["entity"], row["record_id"])
            if key not in by_record:
                by_record[key] = {"entity": row["entity"], "record_id": row["record_id"], "outbox": [], "changes": []}
                items.append(by_record[key])
            by_record[key]["outbox"].append(row["seq"])
            by_record[key]["changes"].append(row["payload"])
        return {"schema_version": SCHEMA_VERSION, "device_id": self.device_id,
                "items": PushItems()._serialize(items, None, None)}

    def push(self, message: Any, token: str | None = None, **kw: Any) -> Any:
        return self.http.post("/sync/v1/push", json=message, headers={"Authorization": f"Device {token or self.token}"}, **kw)

    def pull(self, message: Any, token: str | None = None) -> Any:
        return self.http.post("/sync/v1/pull", json=message, headers={"Authorization": f"Device {token or self.token}"})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = server_app.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "server"), "ADMIN_PASSWORD": ADMIN_PASSWORD,
                                 "CLOCK": clock})
    with app.app_context():
        store = server_db.get_store()
    for name, role in (("lina", "sales_rep"), ("wang", "sales_rep"), ("zhang", "sales_manager")):
        users.create_user(store, name, PASSWORD, role)
    yield app
    server_db.close_store(app.config["DATA_DIR"])


@pytest.fixture
def http(server: Flask) -> FlaskClient:
    return server.test_client()


@pytest.fixture
def device(tmp_path: Path, http: FlaskClient, clock: ManualClock) -> Iterator[DeviceReplica]:
    d = DeviceReplica(tmp_path / "lina-laptop.db", http, "lina", clock)
    yield d
    d.store.close()


@pytest.fixture
def other_device(tmp_path: Path, http: FlaskClient, clock: ManualClock) -> Iterator[DeviceReplica]:
    d = DeviceReplica(tmp_path / "wang-laptop.db", http, "wang", clock)
    yield d
    d.store.close()


@pytest.fixture
def server_token(http: FlaskClient) -> dict[str, str]:
    token = http.post("/api/login", json={"username": "zhang", "password": PASSWORD}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client_app_(tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = client_app.create_app({"DATA_DIR": str(tmp_path / "client"), "TESTING": True, "START_WORKER": False,
                                 "CLOCK": clock})
    store = client_db.store_for(app.config["DATA_DIR"])
    user = {"id": "u-lina", "username": "lina", "display_name": "李娜", "role": "sales_rep"}
    client_db.save_device(store, "http://127.0.0.1:9", "device-token", user, "2026-01-01T00:00:00+00:00", None)
    remember_user(store, user, PASSWORD)
    yield app
    client_db.close_store(app.config["DATA_DIR"])


@pytest.fixture
def client_http(client_app_: Flask) -> FlaskClient:
    return client_app_.test_client()


@pytest.fixture
def client_token(client_http: FlaskClient) -> dict[str, str]:
    token = client_http.post("/api/login", json={"username": "lina", "password": PASSWORD}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


def client_counts(app: Flask) -> dict[str, int]:
    db = client_db.store_for(app.config["DATA_DIR"]).db
    tables = ["sync_outbox", "sync_docs", *(e.table for e in REGISTRY)]
    return {t: int(db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]) for t in tables}
