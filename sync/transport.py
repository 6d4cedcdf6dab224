"""Transports carry protocol messages between a device and the server.

``InMemoryTransport`` calls a ``SyncServer`` in-process through a JSON round trip (so tests
exercise the wire format) and can be switched offline. The HTTP transport lives in ``client/``.
"""
from __future__ import annotations

import json
from typing import Any, Protocol

from .authority import Principal
from .errors import TransportUnavailable
from .server import SyncServer


class Transport(Protocol):
    """Send one message and return the server's answer; raise ``TransportUnavailable`` if unreachable."""

    bytes_sent: int
    bytes_received: int

    def push(self, message: dict[str, Any]) -> dict[str, Any]: ...

    def pull(self, message: dict[str, Any]) -> dict[str, Any]: ...


class InMemoryTransport:
    """A loopback to a server object, with an ``online`` switch."""

    def __init__(self, server: SyncServer, principal: Principal) -> None:
        self.server = server
        self.principal = principal
        self.online = True
        self.bytes_sent = 0
        self.bytes_received = 0

    def _round_trip(self, handler: Any, message: dict[str, Any]) -> dict[str, Any]:
        if not self.online:
            raise TransportUnavailable("server offline")
        body = json.dumps(message)
        self.bytes_sent += len(body)
        answer = json.dumps(handler(self.principal, json.loads(body)))
        self.bytes_received += len(answer)
        return json.loads(answer)

    def push(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._round_trip(self.server.handle_push, message)

    def pull(self, message: dict[str, Any]) -> dict[str, Any]:
        return self._round_trip(self.server.handle_pull, message)
