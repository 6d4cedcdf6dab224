"""Real Fieldbook processes on loopback for end-to-end tests: start, stop, kill -9, restart."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ADMIN_PASSWORD = "admin-e2e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fieldbook_cmd(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "fieldbook"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "scripts.cli", *args]


def process_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **extra,
        "FIELDBOOK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "FIELDBOOK_SYNC_INTERVAL": "3600",  # tests sync explicitly through POST /api/sync
        "PYTHONUNBUFFERED": "1",
    }


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(fieldbook_cmd(*args), env=process_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"fieldbook {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class Proc:
    """One long-running fieldbook process (server or client) with its own data dir and port."""

    kind: str
    data: Path
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Proc:
        args = [self.kind, "--data", str(self.data), "--port", str(self.port), *self.extra]
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(fieldbook_cmd(*args), env=process_env(**self.env), stdout=log, stderr=subprocess.STDOUT)
        probe = "/api/openapi.json" if self.kind == "server" else "/api/sync/status"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.kind} exited with {self.popen.returncode}:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                requests.get(self.url + probe, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError(f"{self.kind} on {self.url} did not come up:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), as going offline does for the server."""
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def kill9(self) -> None:
        """Crash: SIGKILL, no cleanup."""
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


class Api:
    """A logged-in JSON client for a server's or client's REST API."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.http = requests.Session()
        answer = self.http.post(f"{base}/api/login", json={"username": username, "password": password}, timeout=10)
        assert answer.status_code == 200, answer.text
        self.http.headers["Authorization"] = f"Bearer {answer.json()['token']}"

    def get(self, path: str, **kw: Any) -> Any:
        answer = self.http.get(self.base + path, timeout=30, **kw)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def post(self, path: str, body: Any = None, expect: int = 201) -> Any:
        answer = self.http.post(self.base + path, json=body, timeout=120)
        assert answer.status_code == expect, f"POST {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def patch(self, path: str, body: Any) -> Any:
        answer = self.http.patch(self.base + path, json=body, timeout=30)
        assert answer.status_code == 200, f"PATCH {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def sync(self) -> dict[str, Any]:
        return self.post("/api/sync", expect=200)  # type: ignore[no-any-return]


class Cluster:
    """A server plus enrolled clients, each a real process with its own data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = Proc("server", root / "server", free_port(), root / "server.log")
        self.clients: dict[str, Proc] = {}
        self.server.start()

    def add_user(self, username: str, password: str, role: str) -> None:
        run("user", "add", "--data", str(self.server.data), "--username", username, "--password", password, "--role", role)

    def enroll(self, name: str, username: str, password: str) -> Proc:
        data = self.root / name
        run("enroll", "--data", str(data), "--server", self.server.url, "--username", username, "--password", password,
            "--name", name)
        proc = Proc("client", data, free_port(), self.root / f"{name}.log")
        self.clients[name] = proc
        return proc.start()

    def close(self) -> None:
        for proc in [*self.clients.values(), self.server]:
            proc.stop()
