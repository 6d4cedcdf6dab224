"""``GET /api/openapi.json``: the client's OpenAPI 3 document.

The entity paths and login come from ``shared.web.api.openapi_spec`` (the same as the server's);
this module adds what only the client has: sync now and the sync status.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from shared.web.api import openapi_spec
from shared.web.sales_api import openapi_paths as sales_openapi_paths

bp = Blueprint("openapi", __name__)
VERSION = "0.1.0"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def client_paths() -> dict[str, Any]:
    """Path items of the client-only endpoints."""
    counts = ("pushed", "pulled", "rejected", "conflicts", "evicted", "repaired", "bytes", "round_trips")
    report = {"type": "object", "properties": {**{k: {"type": "integer"} for k in counts}, "duration_ms": {"type": "number"}}}
    return {
        "/api/sync": {"post": {
            "summary": "Sync now: push the outbox, pull until caught up", "tags": ["sync"],
            "responses": {"200": {"description": "What moved", "content": {"application/json": {"schema": report}}},
                          "401": _error("Not logged in"), "409": _error("Not enrolled yet"),
                          "503": _error("The server cannot be reached (offline)")},
        }},
        "/api/sync/status": {"get": {
            "summary": "Online or not, pending changes, last sync, unresolved sync issues", "tags": ["sync"],
            "responses": {"200": {"description": "Sync state", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "401": _error("Not logged in")},
        }},
    }


@bp.get("/api/openapi.json")
def openapi_json() -> ResponseReturnValue:
    spec = current_app.extensions.get("fieldbook_openapi")
    if spec is None:
        spec = current_app.extensions["fieldbook_openapi"] = openapi_spec("Fieldbook client", VERSION, {**client_paths(), **sales_openapi_paths()})
    return jsonify(spec)
