"""Helpers for the server tests: page login with CSRF, API tokens, an HTTP transport over the
Flask test client and enrolled device replicas.
"""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from shared.schemas import REGISTRY
from sync import ManualClock, ReplicaStore, SyncEngine

ADMIN_PASSWORD = "admin-secret"
PASSWORD = "pass1234"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class PageAuth:
    """Log in and out of the admin pages like a browser (CSRF token from the form)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": token})

    def csrf(self, path: str = "/customers") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))


def api_token(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["token"])


class HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class FlaskTransport:
    """``sync.Transport`` over the Flask test client: real HTTP framing, auth, gzip both ways."""

    def __init__(self, client: FlaskClient, token: str, compress: bool = False) -> None:
        self.client = client
        self.token = token
        self.compress = compress
        self.bytes_sent = 0
        self.bytes_received = 0
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def _post(self, path: str, message: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((path, message))
        body = json.dumps(message).encode()
        headers = {"Authorization": f"Device {self.token}", "Content-Type": "application/json", "Accept-Encoding": "gzip"}
        if self.compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.bytes_sent += len(body)
        response = self.client.post(path, data=body, headers=headers)
        data = response.get_data()
        self.bytes_received += len(data)
        if response.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        answer = json.loads(data)
        if response.status_code != 200:
            raise HttpError(response.status_code, answer)
        return answer  # type: ignore[no-any-return]

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/push", message)

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/pull", message)


class Device:
    """An enrolled replica: its store, its token, an engine over HTTP."""

    def __init__(self, client: FlaskClient, path: Path, clock: ManualClock, username: str, name: str, compress: bool) -> None:
        self.store = ReplicaStore.open(str(path), REGISTRY, clock)
        response = client.post("/api/devices/enroll", json={
            "username": username, "password": PASSWORD, "device_id": self.store.site_id, "name": name,
            "app_version": "0.1.0", "warehouse": None,
        })
        assert response.status_code == 201, response.get_json()
        enrolled = response.get_json()
        self.token = enrolled["device_token"]
        self.user = enrolled["user"]
        self.transport = FlaskTransport(client, self.token, compress)
        self.engine = SyncEngine(self.store, self.transport, clock, app_version="0.1.0")

    def sync(self) -> Any:
        return self.engine.run_once()


def log_size(store: Any) -> int:
    return int(store.db.execute("SELECT count(*) FROM sync_log").fetchone()[0])


def customer_values(name: str = "上海远航贸易有限公司", **extra: Any) -> dict[str, Any]:
    return {"kind": "company", "name": name, **extra}
