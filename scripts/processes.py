"""Real fieldbook processes on loopback: start, wait until they answer, stop, kill -9.

Used by the benchmarks (``scripts/bench``) and the end-to-end tests, which must drive the same
commands a user runs.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

DEFAULT_ADMIN_PASSWORD = "admin-e2e"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fieldbook_cmd(*args: str) -> list[str]:
    """The installed ``fieldbook`` command beside this interpreter, else ``python -m scripts.cli``."""
    script = Path(sys.executable).parent / "fieldbook"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "scripts.cli", *args]


def process_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: a known admin password, no timed syncs, unbuffered output."""
    return {
        **os.environ,
        "FIELDBOOK_ADMIN_PASSWORD": DEFAULT_ADMIN_PASSWORD,
        "FIELDBOOK_SYNC_INTERVAL": "3600",  # callers sync explicitly through POST /api/sync
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


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

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self, timeout: float = 60) -> Proc:
        """Start and wait until it answers HTTP; raise with the end of its log if it does not."""
        args = [self.kind, "--data", str(self.data), "--port", str(self.port), *self.extra]
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(fieldbook_cmd(*args), env=process_env(**self.env), stdout=log, stderr=subprocess.STDOUT)
        probe = "/api/openapi.json" if self.kind == "server" else "/api/sync/status"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.popen.returncode}:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                requests.get(self.url + probe, timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.kind} on {self.url} did not come up:\n{self.log.read_text(errors='replace')[-3000:]}")

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
