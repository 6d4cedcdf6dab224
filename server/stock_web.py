"""Wires the shared warehouse API to the server: its rights, its ledger table, its effects."""
from __future__ import annotations

from flask import Flask

from shared.web.stock_api import create_stock_blueprint
from shared.web.stock_service import StockHooks
from sync import ServerStore

from . import auth, db, effects, rules, stock

LEDGER_LIMIT = 5000


def hooks(store: ServerStore) -> StockHooks:
    return StockHooks(
        can=rules.permits,
        ledger_rows=lambda warehouse_id, product_id: stock.ledger_rows(store, warehouse_id, product_id, LEDGER_LIMIT)[0],
        after_write=lambda entity, record_id: effects.after_write(store, entity, record_id),
        server=True,
        may_see=lambda user, entity: stock.visible(user, entity, {}) is not False,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(create_stock_blueprint(db.get_store, auth.current_user, lambda: hooks(db.get_store())))
