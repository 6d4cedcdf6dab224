"""``fieldbook demo``: a server, a rep's laptop and a warehouse kiosk as three processes.

Creates the users, enrolls both clients, seeds realistic customers, contacts and visits through
the rep client's own REST API (so the data syncs like a rep's real work), prints URLs and logins,
and stops all three processes on Ctrl-C.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from scripts import demo_data

ADMIN_PASSWORD = "admin-demo"
USERS = (
    ("lina", "lina-demo", "sales_rep", "李娜", "华东销售部"),
    ("zhangwei", "zhangwei-demo", "sales_manager", "张伟", "华东销售部"),
    ("wanggang", "wanggang-demo", "warehouse", "王刚", "仓储部"),
    ("boss", "boss-demo", "boss", "陈总", None),
)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "scripts.cli", *args]


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers (any status) or raise ``TimeoutError``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up within {timeout:.0f}s")


def seed(client_url: str, username: str, password: str, n: int) -> int:
    """Create ``n`` customers with contacts and visits through a client's REST API."""
    s = requests.Session()
    token = s.post(f"{client_url}/api/login", json={"username": username, "password": password}, timeout=10).json()["token"]
    s.headers["Authorization"] = f"Bearer {token}"
    rng = random.Random(20261122)
    now = datetime.now(timezone.utc)
    for i, customer in enumerate(demo_data.customers(n, rng), 1):
        created = s.post(f"{client_url}/api/customers", json=customer, timeout=10)
        created.raise_for_status()
        customer_id = created.json()["id"]
        for contact in demo_data.contacts(customer, rng.randint(1, 3), rng):
            s.post(f"{client_url}/api/contacts", json={**contact, "customer_id": customer_id}, timeout=10).raise_for_status()
        for visit in demo_data.visits(customer, rng.randint(0, 4), rng, now):
            s.post(f"{client_url}/api/visits", json={**visit, "customer_id": customer_id}, timeout=10).raise_for_status()
        if i % 20 == 0 or i == n:
            print(f"  seeded {i}/{n} customers", flush=True)
    report = s.post(f"{client_url}/api/sync", timeout=120)
    print(f"  synced to the server: {report.json()}", flush=True)
    return n


def run_demo(data: str, port: int, customers: int) -> int:
    root = Path(data).resolve()
    fresh = not (root / "server").exists()
    server_url, rep_url, kiosk_url = (f"http://127.0.0.1:{p}" for p in (port, port + 1, port + 2))
    env = {**os.environ, "FIELDBOOK_ADMIN_PASSWORD": ADMIN_PASSWORD, "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    try:
        print(f"Fieldbook demo in {root}", flush=True)
        procs.append(subprocess.Popen(_cli("server", "--data", str(root / "server"), "--port", str(port)), env=env))
        wait_until_up(f"{server_url}/api/openapi.json")
        if fresh:
            for username, password, role, display, department in USERS:
                args = ["user", "add", "--data", str(root / "server"), "--username", username, "--password", password,
                        "--role", role, "--display-name", display]
                if department:
                    args += ["--department", department]
                subprocess.run(_cli(*args), env=env, check=True)
            subprocess.run(_cli("enroll", "--data", str(root / "rep"), "--server", server_url, "--username", "lina",
                                "--password", "lina-demo", "--name", "李娜的笔记本"), env=env, check=True)
            subprocess.run(_cli("enroll", "--data", str(root / "kiosk"), "--server", server_url, "--username", "wanggang",
                                "--password", "wanggang-demo", "--name", "一号仓库终端", "--warehouse", "WH01"), env=env, check=True)
        procs.append(subprocess.Popen(_cli("client", "--data", str(root / "rep"), "--port", str(port + 1)), env=env))
        procs.append(subprocess.Popen(_cli("client", "--data", str(root / "kiosk"), "--port", str(port + 2)), env=env))
        wait_until_up(f"{rep_url}/api/sync/status")
        wait_until_up(f"{kiosk_url}/api/sync/status")
        if fresh:
            print("Seeding demo data through the rep's laptop ...", flush=True)
            seed(rep_url, "lina", "lina-demo", customers)
        print(
            "\nFieldbook demo is running (Ctrl-C stops all three):\n"
            f"  server (admin pages)  {server_url}/   admin / {ADMIN_PASSWORD}, boss / boss-demo, zhangwei / zhangwei-demo\n"
            f"  rep laptop            {rep_url}/   lina / lina-demo\n"
            f"  warehouse kiosk       {kiosk_url}/   wanggang / wanggang-demo\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("a demo process exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stop()
