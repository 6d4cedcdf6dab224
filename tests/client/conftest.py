"""Fixtures for the client tests: a temp DATA_DIR per test, an enrolled device, a logged-in page client."""
from __future__ import annotations

import importlib
import re
import socket
import threading
from typing import Any, Iterator

import pytest

from client import create_app, db
from client.enrollment import remember_user
from sync import ManualClock

USER = {"id": "u-li", "username": "lina", "display_name": "李娜", "role": "sales_rep"}
PASSWORD = "s3cret-pw"


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_767_258_000_000)  # 2026-01-01T09:00:00Z = 17:00 in Shanghai


@pytest.fixture
def app(tmp_path: Any, clock: ManualClock) -> Iterator[Any]:
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "START_WORKER": False,
                      "CLOCK": clock, "SYNC_TIMEOUT": 2.0})
    yield app
    db.close_store(app.config["DATA_DIR"])


@pytest.fixture
def store(app: Any) -> Any:
    return db.store_for(app.config["DATA_DIR"])


@pytest.fixture
def enrolled(store: Any) -> dict[str, Any]:
    """A device row pointing at a closed port, and the cached user (as enrollment leaves them)."""
    db.save_device(store, closed_port_url(), "device-token", USER, "2026-01-01T00:00:00+00:00", None)
    remember_user(store, USER, PASSWORD)
    return USER


@pytest.fixture
def api_headers(app: Any, enrolled: dict[str, Any]) -> dict[str, str]:
    """Bearer headers for the enrolled user (tests must not import conftest: the name is ambiguous)."""
    body = app.test_client().post("/api/login", json={"username": enrolled["username"], "password": PASSWORD}).get_json()
    return {"Authorization": f"Bearer {body['token']}"}


class Pages:
    """A test client logged in to the pages, with the CSRF token at hand."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.token = ""

    def csrf(self, path: str = "/customers") -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get(path).get_data(as_text=True))
        assert found, f"no CSRF token on {path}"
        self.token = found.group(1)
        return self.token

    def login(self, username: str = USER["username"], password: str = PASSWORD) -> Any:
        return self.client.post("/login", data={"username": username, "password": password, "csrf_token": self.csrf("/login")})

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.token or self.csrf(), **(data or {})}, **kw)


@pytest.fixture
def pages(app: Any, enrolled: dict[str, Any]) -> Pages:
    p = Pages(app.test_client())
    response = p.login()
    assert response.status_code == 302
    p.csrf()
    return p


def _server_app_factory():
    try:
        module = importlib.import_module("server")
    except ImportError:
        return None
    return getattr(module, "create_app", None)


@pytest.fixture
def live_server(tmp_path):
    """The real server app on a loopback port (werkzeug, threaded) with a sales rep ``lina``."""
    factory = _server_app_factory()
    if factory is None:
        pytest.skip("server.create_app does not exist yet")
    from werkzeug.serving import make_server

    server_db = importlib.import_module("server.db")
    users = importlib.import_module("server.users")
    data_dir = str(tmp_path / "server")
    app = factory({"TESTING": True, "DATA_DIR": data_dir, "ADMIN_PASSWORD": "admin-pw"})
    with app.app_context():
        store = server_db.get_store()
    users.create_user(store, "lina", "rep-pw", "sales_rep", display_name="李娜")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", store
    httpd.shutdown()
    httpd.server_close()
    thread.join()
    server_db.close_store(data_dir)
