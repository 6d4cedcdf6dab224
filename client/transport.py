"""The HTTP transport: the sync ``Transport`` protocol over ``requests`` to the server's ``/sync/v1/``.

Owns the wire details (JSON, gzip, ``Authorization: Device``) and wraps every failure at this
boundary: unreachable server, timeouts and 5xx become ``TransportUnavailable`` (a normal, retried
state); 4xx error envelopes become the matching ``sync.errors`` class with the server's message.
It knows nothing of Flask or of the pages.
"""
from __future__ import annotations

import gzip
import json
from typing import Any

import requests
import urllib3

from sync.errors import Forbidden, IncompatibleVersion, InvalidMessage, SyncError, TransportUnavailable

DEFAULT_TIMEOUT = 30.0


def error_from_response(response: requests.Response) -> Exception:
    """Turn an error answer into the sync error the engine and pages understand."""
    status = response.status_code
    if status >= 500:
        return TransportUnavailable(f"server error {status}")
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or f"HTTP {status}")
    fields = error.get("fields") if isinstance(error.get("fields"), dict) else None
    cls: type[SyncError]
    if code == IncompatibleVersion.code or status == 426:
        cls = IncompatibleVersion
    elif status in (401, 403):
        cls = Forbidden
    elif status == 422 or code == InvalidMessage.code:
        cls = InvalidMessage
    else:
        cls = SyncError
    exc = cls(message, fields)
    if code and cls is SyncError:
        exc.code = code
        exc.status = status
    return exc


def post_json(session: requests.Session, url: str, payload: dict[str, Any], timeout: float,
              headers: dict[str, str] | None = None) -> tuple[dict[str, Any], int, int]:
    """POST gzip-compressed JSON; return (answer, bytes sent, bytes received) or raise mapped errors."""
    body = gzip.compress(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    all_headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Accept": "application/json",
        "Accept-Encoding": "gzip",
        **(headers or {}),
    }
    try:
        response = session.post(url, data=body, headers=all_headers, timeout=timeout, stream=True)
        try:
            raw = response.raw.read(decode_content=False)
        finally:
            response.close()
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise TransportUnavailable(f"cannot reach {url}: {exc.__class__.__name__}", original=exc) from exc
    except OSError as exc:
        raise TransportUnavailable(f"cannot reach {url}: {exc}", original=exc) from exc
    received = len(raw)
    if response.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise TransportUnavailable("garbled answer from the server", original=exc) from exc
    response._content = raw  # let requests' .json() read the decoded body
    if response.status_code >= 400:
        raise error_from_response(response)
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise TransportUnavailable("the server answered with something that is not JSON", original=exc) from exc
    if not isinstance(answer, dict):
        raise InvalidMessage("The server's answer is not a JSON object.")
    return answer, len(body), received


class HttpTransport:
    """Push and pull over HTTP to a Fieldbook server, authenticated by the device token."""

    def __init__(self, server_url: str, device_token: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server_url = server_url.rstrip("/")
        self.device_token = device_token
        self.timeout = timeout
        self.bytes_sent = 0
        self.bytes_received = 0
        self.session = requests.Session()

    def _post(self, path: str, message: dict[str, Any]) -> dict[str, Any]:
        answer, sent, received = post_json(
            self.session, f"{self.server_url}{path}", message, self.timeout,
            {"Authorization": f"Device {self.device_token}"},
        )
        self.bytes_sent += sent
        self.bytes_received += received
        return answer

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/push", message)

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._post("/sync/v1/pull", message)

    def close(self) -> None:
        self.session.close()
