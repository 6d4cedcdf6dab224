"""A warehouse world for the stock property tests: the real server app (``create_app``) with a boss
and warehouse clerks, warehouses and products, and kiosks (client replicas opened with the client's
own migrations, enrolled over the Flask test client with ``warehouse`` = the warehouse code, and the
client's stock hooks ``client.stock_web.hooks``). The transport can deliver a push twice, lose the
answer of a delivered push, and replay an old push later (duplicated deliveries).
"""
from __future__ import annotations

from typing import Any

from client import db as client_db
from client import stock_web as client_stock_web
from server import create_app, db, org, sales_web, stock_web, users
from shared.web.sales_service import SalesService
from shared.web.stock_service import StockService
from sync import ManualClock, SyncEngine
from sync.clock import iso_from_ms
from sync.errors import TransportUnavailable

PASSWORD = "pass1234"
WAREHOUSES = (("WH01", "一号仓"), ("WH02", "二号仓"), ("WH03", "三号仓"))


class DuplicatingTransport:
    """``sync.Transport`` over the Flask test client (the real sync endpoints, auth and rules) that
    can deliver a push twice (``twice``), deliver it and lose the answer (``lose_answer``), and keeps
    every push sent so an old one can be delivered again later (``replay``)."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.token = token
        self.bytes_sent = self.bytes_received = 0
        self.twice = False
        self.lose_answer = False
        self.sent: list[dict[str, Any]] = []

    def _post(self, path: str, message: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=message, headers={"Authorization": f"Device {self.token}"})
        assert response.status_code == 200, (path, response.status_code, response.get_json())
        return response.get_json()  # type: ignore[no-any-return]

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(message)
        answer = self._post("/sync/v1/push", message)
        if self.twice:
            answer = self._post("/sync/v1/push", message)  # the second delivery's answer is the one the device reads
        if self.lose_answer:
            raise TransportUnavailable("the answer was lost on the way back")
        return answer

    def replay(self, index: int) -> None:
        if self.sent:
            self._post("/sync/v1/push", self.sent[index % len(self.sent)])

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/pull", message)


class Kiosk:
    """A warehouse clerk's kiosk: a client replica enrolled for one warehouse, with the client's hooks."""

    def __init__(self, client: Any, path: str, clock: ManualClock, username: str, code: str) -> None:
        self.code = code
        self.store = client_db.open_store(path, clock)
        response = client.post("/api/devices/enroll", json={
            "username": username, "password": PASSWORD, "device_id": self.store.site_id, "name": f"{code} kiosk {username}",
            "app_version": "0.1.0", "warehouse": code})
        assert response.status_code == 201, response.get_json()
        enrolled = response.get_json()
        self.user = enrolled["user"]
        client_db.save_device(self.store, "http://server.test", enrolled["device_token"], self.user,
                              iso_from_ms(clock.now_ms()), code)
        self.transport = DuplicatingTransport(client, enrolled["device_token"])
        self.engine = SyncEngine(self.store, self.transport, clock, app_version="0.1.0")
        self.service = StockService(self.store, self.user, client_stock_web.hooks(self.store))

    @property
    def warehouse_id(self) -> str | None:
        return client_stock_web.kiosk_warehouse(self.store)

    def sync(self, twice: bool = False, lose_answer: bool = False) -> bool:
        """One sync; False when the push's answer was lost (the device will send it again)."""
        self.transport.twice, self.transport.lose_answer = twice, lose_answer
        try:
            self.engine.run_once()
            return True
        except TransportUnavailable:
            return False
        finally:
            self.transport.twice = self.transport.lose_answer = False


class StockWorld:
    """The server app with a boss, three warehouse clerks, three warehouses, two products, and
    kiosks: two clerks at WH01, one at WH02 (``kiosks[i]``)."""

    def __init__(self, root: str, kiosks: tuple[tuple[str, str], ...] = (("clerk0", "WH01"), ("clerk1", "WH01"),
                                                                            ("clerk2", "WH02"))) -> None:
        self.root = root
        self.clock = ManualClock()
        self.app = create_app({"TESTING": True, "DATA_DIR": f"{root}/server", "ADMIN_PASSWORD": "admin-secret",
                               "CLOCK": self.clock})
        self.client = self.app.test_client()
        with self.app.app_context():
            self.store = db.get_store()
        boss = users.create_user(self.store, "boss", PASSWORD, "boss")
        for username in dict.fromkeys(u for u, _ in kiosks):
            users.create_user(self.store, username, PASSWORD, "warehouse")
        self.boss_user = org.enrich(self.store, boss)
        self.boss = StockService(self.store, self.boss_user, stock_web.hooks(self.store))
        self.warehouses = {code: self.boss.save_warehouse({"code": code, "name": name})["id"] for code, name in WAREHOUSES}
        sales = SalesService(self.store, self.boss_user, sales_web.hooks(self.store))
        self.products = [sales.create_product({"code": f"P{i}", "name": f"阀门{i}", "price": 100 + i})["id"] for i in range(2)]
        self.kiosks = [Kiosk(self.client, f"{root}/kiosk{i}.db", self.clock, username, code)
                       for i, (username, code) in enumerate(kiosks)]
        for kiosk in self.kiosks:
            kiosk.sync()
            assert kiosk.warehouse_id == self.warehouses[kiosk.code]

    def close(self) -> None:
        for kiosk in self.kiosks:
            kiosk.store.close()
        db.close_store(f"{self.root}/server")
