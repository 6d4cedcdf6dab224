"""HttpTransport: gzip JSON over HTTP, and every failure mapped to the sync errors."""
from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client.transport import HttpTransport
from sync.errors import Forbidden, IncompatibleVersion, InvalidMessage, SyncError, TransportUnavailable


def closed_url():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_closed_port_is_transport_unavailable():
    transport = HttpTransport(closed_url(), "tok", timeout=2)
    with pytest.raises(TransportUnavailable) as info:
        transport.push({"items": []})
    assert info.value.original is not None
    assert info.value.__cause__ is info.value.original
    transport.close()


class FakeServer:
    """A loopback HTTP server answering with a configured status and body, recording requests."""

    def __init__(self):
        self.status, self.body, self.requests = 200, {"ok": True}, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers), raw))
                data = gzip.compress(json.dumps(outer.body).encode())
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.close()


def test_push_sends_gzip_json_with_device_token(fake):
    transport = HttpTransport(fake.url, "tok-1")
    assert transport.push({"schema_version": "1", "items": ["中文"]}) == {"ok": True}
    path, headers, raw = fake.requests[0]
    assert path == "/sync/v1/push"
    assert headers["Authorization"] == "Device tok-1" and headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw)) == {"schema_version": "1", "items": ["中文"]}
    transport.pull({"cursor": ""})
    assert fake.requests[1][0] == "/sync/v1/pull"
    assert transport.bytes_sent == sum(len(r[2]) for r in fake.requests) and transport.bytes_received > 0
    transport.close()


@pytest.mark.parametrize("status,code,expected", [
    (426, "incompatible_version", IncompatibleVersion),
    (400, "incompatible_version", IncompatibleVersion),
    (401, "unauthorized", Forbidden),
    (403, "forbidden", Forbidden),
    (422, "invalid_message", InvalidMessage),
    (409, "conflict", SyncError),
])
def test_error_envelopes_map_to_sync_errors(fake, status, code, expected):
    fake.status, fake.body = status, {"error": {"code": code, "message": "server says no", "fields": {}}}
    transport = HttpTransport(fake.url, "tok")
    with pytest.raises(expected) as info:
        transport.push({})
    assert type(info.value) is expected and info.value.message == "server says no"
    transport.close()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transport_unavailable(fake, status):
    fake.status, fake.body = status, {"error": {"code": "internal_error", "message": "boom", "fields": {}}}
    transport = HttpTransport(fake.url, "tok")
    with pytest.raises(TransportUnavailable):
        transport.pull({})
    transport.close()
