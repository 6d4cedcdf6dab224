"""``GET /api/openapi.json``: the server's OpenAPI 3 document.

The entity paths and login come from ``shared.web.api.openapi_spec``; this module adds what only
the server has: device enrollment and the sync endpoints (device-token auth, sync messages).
"""
from __future__ import annotations

from typing import Any

from apispec.ext.marshmallow import OpenAPIConverter
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from shared.web.api import openapi_spec
from shared.web.sales_api import openapi_paths as sales_openapi_paths
from sync.protocol import PullRequestSchema, PullResponseSchema, PushRequestSchema, PushResponseSchema

from .sync_api import EnrollSchema

bp = Blueprint("openapi", __name__)
VERSION = "0.1.0"


def _schema(schema: Any) -> dict[str, Any]:
    converter = OpenAPIConverter(openapi_version="3.0.3", schema_name_resolver=lambda s: None, spec=None)  # type: ignore[arg-type]
    return converter.schema2jsonschema(schema)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def server_paths() -> dict[str, Any]:
    """Path items of the server-only endpoints."""
    device_auth = {"in": "header", "name": "Authorization", "required": True,
                   "description": "Device <device_token> (from POST /api/devices/enroll)", "schema": {"type": "string"}}
    gzip_header = {"in": "header", "name": "Content-Encoding", "required": False,
                   "description": "gzip to send a compressed body", "schema": {"type": "string", "enum": ["gzip", "identity"]}}
    sync_errors = {
        "400": _error("Malformed JSON"), "401": _error("Unknown or revoked device token"),
        "403": _error("The message names another device"), "413": _error("Body larger than 32 MiB"),
        "422": _error("Invalid sync message"), "426": _error("Incompatible schema version: update Fieldbook"),
    }

    def sync_op(summary: str, request: Any, response: Any) -> dict[str, Any]:
        return {"post": {
            "summary": summary, "tags": ["sync"], "parameters": [device_auth, gzip_header],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _schema(request)}}},
            "responses": {"200": {"description": "Answer (gzip when accepted)",
                                  "content": {"application/json": {"schema": _schema(response)}}}, **sync_errors},
        }}

    enroll_answer = {"type": "object", "properties": {
        "device_id": {"type": "string"}, "device_token": {"type": "string"},
        "user": {"type": "object", "properties": {k: {"type": "string"} for k in ("id", "username", "display_name", "role", "department")}},
        "server_time": {"type": "string", "format": "date-time"},
    }}
    return {
        "/api/devices/enroll": {"post": {
            "summary": "Register this device (its replica site id) and get a device token", "tags": ["sync"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _schema(EnrollSchema)}}},
            "responses": {"201": {"description": "Enrolled", "content": {"application/json": {"schema": enroll_answer}}},
                          "401": _error("Wrong username or password"), "409": _error("Device enrolled to another user"),
                          "422": _error("Invalid request")},
        }},
        "/sync/v1/push": sync_op("Push the device's outbox (idempotent)", PushRequestSchema, PushResponseSchema),
        "/sync/v1/pull": sync_op("Pull changes, records and evictions after a cursor", PullRequestSchema, PullResponseSchema),
    }


@bp.get("/api/openapi.json")
def openapi_json() -> ResponseReturnValue:
    spec = current_app.extensions.get("fieldbook_openapi")
    if spec is None:
        spec = current_app.extensions["fieldbook_openapi"] = openapi_spec("Fieldbook server", VERSION, {**server_paths(), **sales_openapi_paths()})
    return jsonify(spec)
