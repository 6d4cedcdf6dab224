"""Wires the shared sales API to the server: its rights, scopes, numbering and decisions."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from flask import Flask

from shared.web.sales_api import create_sales_blueprint
from shared.web.sales_service import SalesHooks
from sync import ServerStore

from . import auth, db, effects, rules, sales


def server_today(store: ServerStore) -> date:
    return datetime.fromtimestamp(store.now_ms() / 1000, sales.TIMEZONE).date()


def hooks(store: ServerStore) -> SalesHooks:
    """The server's side: role rights, customer scopes, numbers and decisions applied at once."""

    def refusal(user: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
        return sales.decision_refusal(store, user, lambda m, a: rules.can(user, m, a), event)

    return SalesHooks(
        can=rules.permits,
        customer_where=lambda user: rules.customer_scope_sql(user, "c"),
        in_team=lambda user, user_id: rules.owner_in_scope(user, user_id),
        after_write=lambda entity, record_id: effects.after_write(store, entity, record_id),
        decision_refusal=refusal,
        today=lambda: server_today(store),
    )


def init_app(app: Flask, store: ServerStore) -> None:
    app.register_blueprint(create_sales_blueprint(db.get_store, auth.current_user, lambda: hooks(db.get_store())))
