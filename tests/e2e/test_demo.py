"""``fieldbook demo`` as a user runs it: three processes come up, the demo data (customers, products,
orders, a receipt, a target, warehouses WH01/WH02 with opening stock; the kiosk holds WH01's moves
and the approved orders' pending outbound) is seeded and synced, the URLs and logins are printed, Ctrl-C stops all."""
from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

from scripts.processes import fieldbook_cmd, process_env


def _three_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 60000:
            continue
        free = True
        for port in (base + 1, base + 2):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    free = False
        if free:
            return base
    raise RuntimeError("no three consecutive free ports")


def _login(url: str, username: str, password: str) -> dict[str, str]:
    token = requests.post(f"{url}/api/login", json={"username": username, "password": password}, timeout=10).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_demo_runs_seeds_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _three_free_ports()
    proc = subprocess.Popen(fieldbook_cmd("demo", "--data", str(tmp_path / "demo"), "--port", str(port), "--customers", "12"),
                            env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()  # keeps draining the pipe, so the three processes never block on their logs
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("warehouse kiosk" in line for line in list(lines)):
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        text = "".join(lines)
        assert "Fieldbook demo is running" in text, text[-3000:]
        server, rep = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        assert f"{server}/" in text and "lina / lina-demo" in text and "wanggang / wanggang-demo" in text
        boss = _login(server, "boss", "boss-demo")
        assert requests.get(f"{server}/api/customers", headers=boss, timeout=10).json()["total"] == 12
        orders = requests.get(f"{server}/api/orders", headers=boss, timeout=10).json()
        assert orders["total"] == 6 and all(o["number_is_final"] for o in orders["items"])
        assert {o["status"] for o in orders["items"]} == {"approved", "rejected", "submitted", "draft"}
        ledger = requests.get(f"{server}/api/receivables", headers=boss, timeout=10).json()
        assert ledger["summary"]["outstanding"] > 0 and any(i["received"] == 1000 for i in ledger["items"])
        lina = _login(rep, "lina", "lina-demo")
        local = requests.get(f"{rep}/api/receivables", headers=lina, timeout=10).json()
        assert local["summary"]["outstanding"] == ledger["summary"]["outstanding"]
        assert requests.get(f"{rep}/api/workbench", headers=lina, timeout=10).json()["target"]["amount"] == 50000
        # the warehouse kiosk (enrolled with --warehouse WH01, created first): WH01's moves and a pending outbound
        kiosk = f"http://127.0.0.1:{port + 2}"
        warehouses = {w["code"]: w for w in requests.get(f"{server}/api/warehouses", headers=boss, timeout=10).json()["items"]}
        assert warehouses["WH01"]["name"] == "一号仓库" and "WH02" in warehouses
        wh01, wh02 = warehouses["WH01"]["id"], warehouses["WH02"]["id"]
        on_server = requests.get(f"{server}/api/stock_moves", params={"warehouse_id": wh01, "per_page": 200}, headers=boss,
                                 timeout=10).json()
        assert on_server["total"] > 0 and all(m["kind"] == "in" for m in on_server["items"])
        assert requests.get(f"{server}/api/stock_moves", params={"warehouse_id": wh02}, headers=boss, timeout=10).json()["total"] > 0
        clerk = _login(kiosk, "wanggang", "wanggang-demo")
        held = requests.get(f"{kiosk}/api/stock_moves", params={"per_page": 200}, headers=clerk, timeout=10).json()
        assert {m["id"] for m in held["items"]} == {m["id"] for m in on_server["items"]}  # WH01's, none of WH02's
        pending = requests.get(f"{kiosk}/api/outbound_requests", params={"status": "pending"}, headers=clerk, timeout=10).json()
        approved = {o["id"] for o in orders["items"] if o["status"] == "approved"}
        assert pending["total"] >= 1 and {r["order_id"] for r in pending["items"]} <= approved
        assert all(r["warehouse_id"] == wh01 and r["lines"] for r in pending["items"])
        levels = requests.get(f"{kiosk}/api/stock", params={"warehouse_id": wh01}, headers=clerk, timeout=10).json()
        assert levels["total"] > 0 and all(l["quantity"] > 0 for l in levels["items"])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            reader.join(timeout=10)
            proc.stdout.close()
    assert proc.returncode == 0
    for p in (port, port + 1, port + 2):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still answers after Ctrl-C"
