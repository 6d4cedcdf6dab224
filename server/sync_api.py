"""The sync endpoints over HTTP: device enrollment, push and pull (docs/contracts.md).

Devices authenticate with ``Authorization: Device <token>``. Bodies may arrive gzip-compressed
(``Content-Encoding: gzip``); answers are gzipped when the device accepts it. This module only
translates HTTP to ``SyncServer`` calls and back: every rule lives in ``sync`` and ``server.rules``.
"""
from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from sync import Principal, SyncServer
from sync.errors import Forbidden, SyncError
from sync.protocol import PullRequestSchema, check_version, load
from sync.clock import iso_from_ms

from . import effects, oplog, org, policy, rules, sales, stock, users
from .auth import public_user
from .db import get_store
from shared.web.errors import ApiError, Conflict, Invalid, PayloadTooLarge, Unauthorized

bp = Blueprint("sync_api", __name__)
_GZIP_MIN = 512  # smaller answers are not worth compressing


class EnrollSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True)
    password = fields.String(required=True)
    device_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9A-Za-z-]{8,64}$"))
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    app_version = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    warehouse = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


def sync_server() -> SyncServer:
    """The app's ``SyncServer`` (one per app, over the process-wide store)."""
    server = current_app.extensions.get("fieldbook_sync")
    if server is None:
        server = SyncServer(get_store(), policy.PolicyRules(get_store()), rules.RoleScope(),
                            max_skew_ms=current_app.config["MAX_SKEW_MS"], effects=effects.hook(get_store()))
        current_app.extensions["fieldbook_sync"] = server
    return server


def _body() -> bytes:
    """The raw request body, un-gzipped (bounded by MAX_CONTENT_LENGTH both ways)."""
    raw = request.get_data(cache=False)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise ApiError(f"Unsupported Content-Encoding {encoding!r}; send gzip or identity.")
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ApiError("The gzip body is corrupt.") from exc
    if len(body) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge("The request body is too large once decompressed.")
    return body


def _json_body() -> Any:
    try:
        return json.loads(_body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError("The request body is not valid JSON.") from exc


def _reply(payload: Any, status: int = 200) -> Response:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(data, status=status, mimetype="application/json")
    response.vary.add("Accept-Encoding")
    if len(data) >= _GZIP_MIN and "gzip" in request.accept_encodings:
        response.set_data(gzip.compress(data, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
    return response


def _principal() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "device" or not token.strip():
        _refused("no_device_token")
        raise Unauthorized("Sync needs Authorization: Device <token> from enrollment.")
    found = users.verify_device_token(get_store(), token.strip())
    if found is None:
        _refused("bad_device_token")
        raise Unauthorized("This device is not enrolled or was revoked; enroll it again.")
    device, user = found
    g.device = device
    info = {**org.enrich(get_store(), user), "device_warehouse": stock.device_warehouse(get_store(), device["id"])}
    return Principal(user["id"], device["id"], info=info)


def _refused(reason: str, principal: Principal | None = None) -> None:
    """Write a refused sync attempt to the operation log (who, from where, why)."""
    oplog.record(get_store(), principal.user_id if principal else None, "sync_refused", request.path,
                 {"reason": reason, "device": principal.device_id if principal else None, "ip": request.remote_addr})


def _handle(principal: Principal, handler: Any, payload: Any) -> Any:
    try:
        return handler(principal, payload)
    except Forbidden:
        _refused("device_mismatch", principal)  # a token of one device, a message naming another
        raise


@bp.post("/api/devices/enroll")
def enroll() -> Response:
    payload = _json_body()
    if not isinstance(payload, dict):
        raise Invalid("Send a JSON object.")
    try:
        msg = EnrollSchema().load(payload)
    except ValidationError as exc:
        raise Invalid("The enrollment request is invalid.", fields=exc.normalized_messages()) from exc
    store = get_store()
    if msg["warehouse"] and store.db.execute("SELECT 1 FROM warehouses WHERE code = ? AND coalesce(deleted, 0) = 0",
                                             [msg["warehouse"]]).fetchone() is None:
        raise Invalid(f"No warehouse has the code {msg['warehouse']!r}; create it on the server first.",
                      fields={"warehouse": ["No such warehouse."]}, code="unknown_warehouse")
    try:
        token, user = users.enroll_device(
            store, msg["username"], msg["password"], msg["device_id"], msg["name"], msg["app_version"], msg["warehouse"]
        )
    except users.BadCredentials as exc:
        raise Unauthorized(str(exc)) from exc
    except users.UserError as exc:
        raise Conflict(str(exc)) from exc
    return _reply(
        {"device_id": msg["device_id"], "device_token": token, "user": public_user(user),
         "server_time": iso_from_ms(store.now_ms())},
        201,
    )


@bp.post("/sync/v1/push")
def push() -> Response:
    principal = _principal()
    payload = _json_body()
    answer = _handle(principal, sync_server().handle_push, payload)
    answer["rejections"] += rules.explain_refusals(get_store(), principal, answer["rejections"], payload)
    return _reply(answer)


@bp.post("/sync/v1/pull")
def pull() -> Response:
    principal = _principal()
    payload = _json_body()
    if _well_formed_pull(principal, payload):
        sales.refresh_rights(get_store(), principal.info)  # the device learns what its user may approve
    return _reply(_handle(principal, sync_server().handle_pull, payload))


def _well_formed_pull(principal: Principal, payload: Any) -> bool:
    """Whether a pull will be served (a refused one must write nothing, not even the rights record)."""
    try:
        msg = load(PullRequestSchema(), payload)
        check_version(msg["schema_version"])
    except SyncError:
        return False
    return bool(msg["device_id"] == principal.device_id)
