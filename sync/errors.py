"""Errors of the sync layer; each carries the HTTP-ish status and code the transport reports."""
from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of every sync failure that is the caller's fault or a protocol state."""

    status = 400
    code = "sync_error"

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidMessage(SyncError):
    status = 422
    code = "invalid_message"


class IncompatibleVersion(SyncError):
    status = 426
    code = "incompatible_version"


class Forbidden(SyncError):
    status = 403
    code = "forbidden"


class TransportUnavailable(Exception):
    """The other side cannot be reached; a normal state the sync worker retries with backoff."""

    def __init__(self, message: str = "server unreachable", original: BaseException | None = None):
        super().__init__(message)
        self.original = original
