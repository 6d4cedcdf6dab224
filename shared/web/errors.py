"""The JSON error envelope: one exception hierarchy carrying its status, one handler per app.

Every error under ``/api/`` and ``/sync/`` is ``{"error": {"code", "message", "fields"}}`` with the
right status; never a stack trace. Every other path gets a localized HTML page with the same status,
rendered from the app's own ``error.html`` (config ``ERROR_TEMPLATE``), falling back to plain text
if even that fails.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
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


class DiskFull(ApiError):
    status = 507
    code = "disk_full"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


def envelope(status: int, code: str, message: str, fields: dict[str, Any] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/sync/"))


def _page_texts(status: int) -> tuple[str, str]:
    """The title and explanation of an error page, in the reader's language."""
    texts = {
        400: (_("Bad request"), _("The request could not be understood. Go back and try again.")),
        401: (_("Not logged in"), _("Log in to see this page.")),
        403: (_("Not allowed"), _("You may not open this page.")),
        404: (_("Page not found"), _("This page does not exist, or the record was deleted or is not yours to see.")),
        405: (_("Not allowed"), _("This page cannot be used this way.")),
        409: (_("Conflict"), _("This cannot be done in the current state.")),
        413: (_("Too large"), _("What you sent is too large. Send less at a time.")),
        422: (_("Invalid input"), _("Some fields are invalid. Go back and correct them.")),
    }
    if status in texts:
        return texts[status]
    if status >= 500:
        return _("Something went wrong"), _("Something went wrong on our side; nothing was written. Try again later.")
    return _("Error"), _("The request could not be completed.")


def error_page(status: int, detail: str | None = None) -> Any:
    """A localized HTML error page; plain text if rendering fails (e.g. the database is the problem)."""
    title, message = _page_texts(status)
    try:
        html = render_template(current_app.config.get("ERROR_TEMPLATE", "error.html"),
                               status=status, title=title, message=message, detail=detail)
    except Exception:
        log.exception("the error page for %s could not be rendered", status)
        return Response(f"{status} {title}\n{message}\n", status=status, mimetype="text/plain")
    return html, status


def _custom_description(exc: HTTPException) -> str | None:
    """A description given at ``abort(..., description)``, i.e. not werkzeug's English default."""
    default = type(exc).description
    return exc.description if exc.description and exc.description != default else None


def register_error_handlers(app: Flask) -> None:
    """Render every error on API paths as the envelope, and on other paths as an HTML page."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Any:
        if not _is_api():
            return error_page(exc.status, exc.message)
        return envelope(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(SyncError)
    def sync_error(exc: SyncError) -> Any:
        if not _is_api():
            return error_page(exc.status, exc.message)
        return envelope(exc.status, exc.code, exc.message, exc.fields)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not _is_api():
            if exc.code is None or exc.code < 400:  # redirects raised as exceptions (RoutingException)
                return exc
            return error_page(exc.code, _custom_description(exc))
        code = (exc.name or "error").lower().replace(" ", "_")
        return envelope(exc.code or 500, code, exc.description or exc.name or "Error")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return envelope(500, "internal_error", "Something went wrong on our side; nothing was written.")
        return error_page(500)
