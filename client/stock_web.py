"""Wires the shared warehouse API to a device: rights from the replicated record, the kiosk's own
warehouse (``fieldbook enroll --warehouse CODE``), and the ledger computed from the moves it holds."""
from __future__ import annotations

from flask import Flask

from shared.web.stock_api import create_stock_blueprint
from shared.web.stock_service import StockHooks
from sync import ReplicaStore

from . import auth, db, sales_web


def kiosk_warehouse(store: ReplicaStore) -> str | None:
    """The id of this kiosk's warehouse (None: not a kiosk, or the warehouse has not synced yet)."""
    device = db.get_device(store)
    code = device.get("warehouse") if device else None
    if not code:
        return None
    row = store.db.execute("SELECT id FROM warehouses WHERE code = ? AND coalesce(deleted, 0) = 0", [code]).fetchone()
    return None if row is None else str(row[0])


def hooks(store: ReplicaStore) -> StockHooks:
    return StockHooks(can=lambda user, module, action: sales_web.can(store, user, module, action),
                      warehouse_id=lambda: kiosk_warehouse(store))


def init_app(app: Flask) -> None:
    app.register_blueprint(create_stock_blueprint(db.get_store, auth.current_user, lambda: hooks(db.get_store())))
