"""Wires the shared sales API to the device: rights from the replicated ``user_rights`` record,
every local record in scope (the server sent only those), decisions recorded for the server."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from shared.web.sales_api import create_sales_blueprint
from shared.web.sales_service import SalesHooks
from sync import ReplicaStore

from . import auth, db


def rights_of(store: ReplicaStore, user_id: str) -> frozenset[str] | None:
    """The user's rights as the server last sent them (None before the first sync brought them)."""
    row = store.db.execute("SELECT rights FROM user_rights WHERE id = ? AND coalesce(deleted, 0) = 0", [user_id]).fetchone()
    return None if row is None else frozenset(r for r in (row[0] or "").split(",") if r)


def can(store: ReplicaStore, user: Mapping[str, Any], module: str, action: str) -> bool:
    """Offline rights check; before the rights arrive, anything but approving (the server judges all)."""
    rights = rights_of(store, str(user.get("id")))
    if rights is None:
        return action != "approve"
    return f"{module}.{action}" in rights


def today() -> date:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def hooks(store: ReplicaStore) -> SalesHooks:
    return SalesHooks(can=lambda user, module, action: can(store, user, module, action), today=today)


def init_app(app: Flask) -> None:
    app.register_blueprint(create_sales_blueprint(db.get_store, auth.current_user, lambda: hooks(db.get_store())))
