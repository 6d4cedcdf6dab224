"""End-to-end helpers: a logged-in API client and a cluster of real processes (see scripts/processes.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import requests

from scripts.processes import DEFAULT_ADMIN_PASSWORD, Proc, fieldbook_cmd, free_port, process_env

__all__ = ["ADMIN_PASSWORD", "Api", "Cluster", "Proc", "fieldbook_cmd", "free_port", "process_env", "run"]

ADMIN_PASSWORD = DEFAULT_ADMIN_PASSWORD


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(fieldbook_cmd(*args), env=process_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"fieldbook {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


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
