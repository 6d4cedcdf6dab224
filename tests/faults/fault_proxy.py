"""A small threaded HTTP proxy on loopback that injects network faults between a client and a server.

Per request under ``/sync/`` (when enabled) it draws one fault from a seeded generator: drop the
request, duplicate it, delay it, truncate its body, drop the response, truncate the response, or
answer with the previous response for the same path (a stale, duplicated answer). Everything else
is forwarded as is. Upstream down → 502, as a real reverse proxy answers. Test code only.
"""
from __future__ import annotations

import http.client
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("drop_request", "duplicate_request", "delay", "truncate_request", "drop_response",
          "truncate_response", "stale_response")
_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "proxy-connection"}


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream_port``, with faults at ``rate`` once ``enabled``."""

    def __init__(self, upstream_port: int, seed: int, rate: float = 0.35) -> None:
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.rate = rate
        self.enabled = False
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._last: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: a dropped one cannot poison the next

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _draw(self, path: str) -> tuple[str | None, float, float]:
        with self._lock:
            if not self.enabled or not path.startswith("/sync/") or self.rng.random() >= self.rate:
                return None, 0.0, 0.0
            fault = self.rng.choice(FAULTS)
            self.counts[fault] += 1
            return fault, self.rng.uniform(0.05, 0.6), self.rng.random()

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            answer = conn.getresponse()
            data = answer.read()
            return answer.status, [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP], data
        finally:
            conn.close()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = [(k, v) for k, v in req.headers.items() if k.lower() not in _HOP]
        fault, delay, cut = self._draw(req.path)
        if fault == "drop_request":
            req.close_connection = True
            return  # closed without an answer; the server never saw it
        if fault == "delay":
            time.sleep(delay)
        if fault == "truncate_request" and body:
            body = body[: int(len(body) * cut)]
        try:
            if fault == "duplicate_request":
                self._forward(req.command, req.path, headers, body)
            status, out_headers, data = self._forward(req.command, req.path, headers, body)
        except OSError:
            status, out_headers, data = 502, [("Content-Type", "text/plain")], b"upstream unavailable"
        if fault == "drop_response":
            req.close_connection = True
            return  # the server committed; the client never hears of it
        if fault == "stale_response" and req.path in self._last:
            status, out_headers, data = self._last[req.path]
        elif status < 500:
            self._last[req.path] = (status, out_headers, data)
        declared = len(data)
        if fault == "truncate_response":
            data = data[: int(len(data) * cut)]
            if cut < 0.5:
                declared = len(data)  # half the time the length matches the cut body: the bytes are garbage
        req.send_response(status)
        for k, v in out_headers:
            req.send_header(k, v)
        req.send_header("Content-Length", str(declared))
        req.send_header("Connection", "close")
        req.end_headers()
        try:
            req.wfile.write(data)
        except OSError:
            pass
