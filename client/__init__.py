"""Fieldbook's local client: a Flask app on the rep's laptop or a kiosk, working offline.

``create_app(test_config=None)`` builds it: defaults, then ``FIELDBOOK_*`` environment variables,
then the test override. It owns the pages, the local REST API and the sync worker; it never
imports ``server`` (shared code lives in ``sync`` and ``shared``).
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Mapping

from flask import Flask

from shared.web.security import secret_key
from shared.web import init_babel, register_static
from shared.web.api import create_api_blueprint
from shared.web.errors import register_error_handlers

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "fieldbook-client-data",
    "SYNC_INTERVAL": 30,
    "SYNC_TIMEOUT": 30.0,
    "START_WORKER": True,
    "TIMEZONE": "Asia/Shanghai",
    "PER_PAGE": 50,
    "CHILD_PER_PAGE": 20,  # contacts and visits on the customer page
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
}



def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the client app (see the module docstring for the configuration order)."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FIELDBOOK")
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    data_dir = os.path.abspath(str(app.config["DATA_DIR"]))
    app.config["DATA_DIR"] = data_dir
    os.makedirs(data_dir, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(data_dir)

    from . import auth, db, pages, plans, sync_api
    from .worker import SyncWorker

    db.init_app(app)
    init_babel(app)
    register_static(app)
    register_error_handlers(app)
    auth.init_app(app)
    pages.init_app(app)
    plans.init_app(app)
    sync_api.init_app(app)

    from . import directory, transfer_pages

    transfer_pages.init_app(app)
    app.register_blueprint(create_api_blueprint(get_store=db.get_store, current_user=auth.current_user,
                                                find_users=lambda *args: directory.find(db.get_store(), *args)))
    from . import sales_pages, sales_web, stock_web

    sales_web.init_app(app)
    stock_web.init_app(app)
    from . import kiosk_pages

    kiosk_pages.init_app(app)
    sales_pages.init_app(app)
    from .openapi import bp as openapi_bp

    app.register_blueprint(openapi_bp)

    worker = SyncWorker(
        db.store_for(data_dir, app.config.get("CLOCK")),
        interval=float(app.config["SYNC_INTERVAL"]),
        timeout=float(app.config["SYNC_TIMEOUT"]),
    )
    app.extensions["fieldbook_worker"] = worker
    if app.config["START_WORKER"]:
        worker.start()
    return app
