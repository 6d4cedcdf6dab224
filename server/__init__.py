"""Fieldbook's central server: the Flask app factory.

``create_app(test_config=None)`` reads defaults, then ``FIELDBOOK_*`` environment variables, then
the test override; opens the store in ``DATA_DIR``; ensures the admin account; and registers the
sync endpoints, the REST API, the OpenAPI document and the admin pages. Serve it with
``server.cli.run_server`` (waitress).
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Mapping

from flask import Flask

from shared.web.security import secret_key
from shared.web import init_babel, register_static
from shared.web.api import create_api_blueprint
from shared.web.plans import create_plans_blueprint
from shared.web.errors import register_error_handlers
from sync.clock import DEFAULT_MAX_SKEW_MS

from . import admin_pages, auth, db, directory, openapi, pages, policy, policy_pages, rules, sales, sales_pages, sales_web, stock_pages, stock_web, sync_api, users

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": os.path.abspath("fieldbook-server-data"),
    "SECRET_KEY": None,  # persisted in DATA_DIR/secret_key on first start
    "ADMIN_PASSWORD": None,  # FIELDBOOK_ADMIN_PASSWORD; generated and printed once if unset
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    "MAX_SKEW_MS": DEFAULT_MAX_SKEW_MS,
    "PAGE_SIZE": 50,
    "CHILD_PAGE_SIZE": 20,  # contacts and visits on the customer page
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=7),
    "CLOCK": None,  # tests inject a sync.ManualClock
}


def _find_users(store: Any) -> Any:
    def find(username: str | None, page: int, per_page: int) -> dict[str, Any]:
        found, total = users.find_users(store, username, per_page, (page - 1) * per_page)
        keys = ("id", "username", "display_name", "role", "department")
        return {"items": [{k: u.get(k) for k in keys} for u in found], "total": total}

    return find


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the server app (flaskr style: defaults, then FIELDBOOK_* env, then test_config)."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FIELDBOOK")
    if test_config is not None:
        app.config.from_mapping(test_config)
    data_dir = os.path.abspath(str(app.config["DATA_DIR"]))
    app.config["DATA_DIR"] = data_dir
    os.makedirs(data_dir, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(data_dir)

    store = db.init_app(app)
    admin_password = app.config.get("ADMIN_PASSWORD")
    generated = users.ensure_admin(store, str(admin_password) if admin_password else None)
    app.config["GENERATED_ADMIN_PASSWORD"] = generated
    directory.refresh(store)  # backfills the replicated org directory of a database from before it
    sales.seed_stages(store)
    if generated:
        print(f"Fieldbook: created the admin account. Login: {users.ADMIN_USERNAME} / {generated}  (shown once)", flush=True)

    init_babel(app)
    register_static(app)
    register_error_handlers(app)
    auth.init_app(app)
    app.register_blueprint(sync_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin_pages.bp)
    app.register_blueprint(policy_pages.bp)
    app.register_blueprint(create_plans_blueprint(db.get_store, auth.current_user, policy_pages.server_now,
                                                  scope_sql=rules.scope_sql, permits=rules.permits))

    app.register_blueprint(create_api_blueprint(get_store=db.get_store, current_user=auth.current_user,
                                                scope_sql=rules.scope_sql, permits=rules.permits,
                                                owner_rule=policy.owner_rule(store), find_users=_find_users(store)))
    sales_web.init_app(app, store)
    stock_web.init_app(app)
    app.register_blueprint(stock_pages.bp)
    app.register_blueprint(sales_pages.bp)
    return app
