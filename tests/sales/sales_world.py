"""A server-side sales world for the property tests: an in-memory ``ServerStore`` with the server's
migrations, real users (a rep, a boss, a finance clerk holding receipt approval), products and
customers, and ``SalesService`` bound to the server's own hooks (``server.sales_web.hooks``).
"""
from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

from server import org, sales, sales_web, users
from server.db import migrations
from shared.schemas import REGISTRY
from shared.web.sales_service import SalesService
from sync import ManualClock, ServerStore

PASSWORD = "pass1234"


class SalesWorld:
    """One server store with people, products and customers (everything through the real code).

    The first world of a shape is built for real; later ones start from a copy of its database
    (hashing the users' passwords dominates the cost otherwise).
    """

    _templates: dict[tuple[int, int], tuple[sqlite3.Connection, dict[str, Any]]] = {}

    def __init__(self, clock: ManualClock | None = None, customers: int = 2, products: int = 3) -> None:
        self.clock = clock or ManualClock()
        template = self._templates.get((customers, products))
        if template is not None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            template[0].backup(conn)
            self.store = ServerStore(sqlite_utils.Database(conn), REGISTRY, self.clock)
            self.__dict__.update(template[1])
            return
        self.store = ServerStore(sqlite_utils.Database(memory=True), REGISTRY, self.clock)
        with self.store.write():
            migrations.apply(self.store.db)
            org.seed(self.store)
        sales.seed_stages(self.store)
        self.rep = users.create_user(self.store, "rep", PASSWORD, "sales_rep")
        self.boss = users.create_user(self.store, "boss", PASSWORD, "boss")
        self.finance = users.create_user(self.store, "cashier", PASSWORD, "finance")
        org.set_user_role(self.store, self.finance["id"], "receipt_approval", True)
        self.products = [self.service("boss").create_product({"code": f"P{i}", "name": f"产品{i}", "price": 10 + i})["id"]
                         for i in range(products)]
        self.customers = [self.store.create("customer", {"kind": "company", "name": f"客户{i}", "owner_id": self.rep["id"]},
                                            self.rep["id"]) for i in range(customers)]
        if self.clock.now_ms() == ManualClock().now_ms():
            copy = sqlite3.connect(":memory:", check_same_thread=False)
            self.store.db.conn.backup(copy)
            self._templates[(customers, products)] = (copy, {k: self.__dict__[k] for k in (
                "rep", "boss", "finance", "products", "customers")})

    def user(self, who: str) -> dict[str, Any]:
        return org.enrich(self.store, dict({"rep": self.rep, "boss": self.boss, "finance": self.finance}[who]))

    def service(self, who: str) -> SalesService:
        """The user's service with the server's hooks, as the server's API and pages build it."""
        return SalesService(self.store, self.user(who), sales_web.hooks(self.store))


class FlaskTransport:
    """``sync.Transport`` over the Flask test client (the real sync endpoints, auth and rules)."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.token = token
        self.bytes_sent = self.bytes_received = 0

    def _post(self, path: str, message: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=message, headers={"Authorization": f"Device {self.token}"})
        assert response.status_code == 200, (path, response.status_code, response.get_json())
        return response.get_json()  # type: ignore[no-any-return]

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/push", message)

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/pull", message)


class SyncedDevice:
    """An enrolled device replica with the device's own sales hooks (rights from ``user_rights``)."""

    def __init__(self, client: Any, path: str, clock: ManualClock, username: str) -> None:
        from client import sales_web as device_web
        from sync import ReplicaStore, SyncEngine

        self.store = ReplicaStore.open(path, REGISTRY, clock)
        response = client.post("/api/devices/enroll", json={
            "username": username, "password": PASSWORD, "device_id": self.store.site_id, "name": f"{username} device",
            "app_version": "0.1.0", "warehouse": None})
        assert response.status_code == 201, response.get_json()
        self.user = response.get_json()["user"]
        self.engine = SyncEngine(self.store, FlaskTransport(client, response.get_json()["device_token"]), clock,
                                 app_version="0.1.0")
        self.service = SalesService(self.store, self.user, device_web.hooks(self.store))

    def sync(self) -> Any:
        return self.engine.run_once()
