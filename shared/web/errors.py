"""The JSON error envelope: one exception hierarchy carrying its status, one handler per app.

Every error under ``/api/`` and ``/sync/`` is ``{"error": {"code", "message", "fields"}}`` with the
right status; never a stack trace. Pages keep Flask's HTML errors.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from sync.errors import SyncError

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class Invalid(ApiError):
    status = 422
    code = "invalid"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


def envelope(status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/sync/"))


def register_error_handlers(app: Flask) -> None:
    """Render every error on API paths as the envelope (pages keep HTML)."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Any:
        return envelope(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(SyncError)
    def sync_error(exc: SyncError) -> Any:
        return envelope(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not _is_api():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        return envelope(exc.code or 500, code, exc.description or exc.name or "Error")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return envelope(500, "internal_error", "Something went wrong on our side; nothing was written.")
        return "Internal error", 500
