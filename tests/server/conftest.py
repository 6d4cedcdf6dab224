"""Fixtures for the server tests (flaskr style): a temp DATA_DIR per test, the app, its test
client, users of each kind, page login and enrolled device replicas (helpers in server_testkit).
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app, db, users
from server_testkit import ADMIN_PASSWORD, PASSWORD, Device, PageAuth
from sync import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    data_dir = str(tmp_path / "server")
    app = create_app({"TESTING": True, "DATA_DIR": data_dir, "ADMIN_PASSWORD": ADMIN_PASSWORD, "CLOCK": clock})
    yield app
    db.close_store(data_dir)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def store(app: Flask) -> Any:
    with app.app_context():
        return db.get_store()


@pytest.fixture
def people(store: Any) -> dict[str, dict[str, Any]]:
    """Two sales reps, a boss and a warehouse clerk (password ``PASSWORD``)."""
    return {
        name: users.create_user(store, name, PASSWORD, role, display_name=display)
        for name, role, display in (
            ("rep1", "sales_rep", "Li Na"), ("rep2", "sales_rep", "Wang Wei"),
            ("boss", "boss", "Zhang Boss"), ("clerk", "warehouse", "Zhao Clerk"),
        )
    }


@pytest.fixture
def auth(client: FlaskClient) -> PageAuth:
    return PageAuth(client)


@pytest.fixture
def devices(client: FlaskClient, tmp_path: Path, clock: ManualClock, people: Any) -> Iterator[Any]:
    """A factory of enrolled devices: ``devices("rep1", "Li Na's laptop")``."""
    made: list[Device] = []

    def make(username: str, name: str | None = None, compress: bool = False) -> Device:
        device = Device(client, tmp_path / f"{uuid.uuid4().hex}.db", clock, username, name or f"{username} laptop", compress)
        made.append(device)
        return device

    yield make
    for device in made:
        device.store.db.conn.close()
