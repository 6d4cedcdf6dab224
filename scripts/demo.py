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
    ("zhaomin", "zhaomin-demo", "finance", "赵敏", "财务部"),
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


def _session(url: str, username: str, password: str) -> requests.Session:
    s = requests.Session()
    token = s.post(f"{url}/api/login", json={"username": username, "password": password}, timeout=10).json()["token"]
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def _ok(response: requests.Response) -> dict:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}


def seed_sales(server_url: str, rep_url: str) -> None:
    """Products on the server; opportunities, quotes and orders on the rep's laptop; decisions,
    a receipt in part and a target on the server; synced both ways like real work."""
    rng = random.Random(5)
    boss = _session(server_url, "boss", "boss-demo")
    categories = {name: _ok(boss.post(f"{server_url}/api/product_categories", json={"name": name}, timeout=10))["id"]
                  for name in demo_data.CATEGORIES}
    products = []
    for code, name, spec, unit, price, barcode, category in demo_data.PRODUCTS:
        made = _ok(boss.post(f"{server_url}/api/products", json={
            "code": code, "name": name, "spec": spec, "unit": unit, "price": price, "barcode": barcode,
            "category_id": categories[category]}, timeout=10))
        products.append((made["id"], price))
    rep = _session(rep_url, "lina", "lina-demo")
    _ok(rep.post(f"{rep_url}/api/sync", timeout=120))  # the catalogue reaches the laptop
    customers = _ok(rep.get(f"{rep_url}/api/customers", params={"per_page": 12}, timeout=10))["items"]
    stages = [s["code"] for s in _ok(rep.get(f"{rep_url}/api/opportunity_stages", timeout=10))["items"]]
    orders = []
    for i, customer in enumerate(customers):
        _ok(rep.post(f"{rep_url}/api/opportunities", json={
            "customer_id": customer["id"], "name": f"{customer['name'][:12]} 管网改造", "stage": stages[i % len(stages)],
            "amount": float(rng.choice((8000, 25000, 60000, 120000))), "expected_date": f"2026-12-{10 + i:02d}"}, timeout=10))
        if i < 8:
            quote = _ok(rep.post(f"{rep_url}/api/quotes", json={
                "customer_id": customer["id"], "lines": demo_data.order_lines(products, rng)}, timeout=10))
            if i < 6:
                order = _ok(rep.post(f"{rep_url}/api/quotes/{quote['id']}/convert", timeout=10))
                _ok(rep.patch(f"{rep_url}/api/orders/{order['id']}", json={
                    "delivery_date": f"2026-11-{10 + i:02d}", "outbound_requested": True}, timeout=10))
                if i < 5:
                    _ok(rep.post(f"{rep_url}/api/orders/{order['id']}/submit", timeout=10))
                orders.append(order["id"])
    _ok(rep.post(f"{rep_url}/api/sync", timeout=120))
    for n, order_id in enumerate(orders[:4]):
        if n == 3:
            _ok(boss.post(f"{server_url}/api/orders/{order_id}/reject", json={"reason": "折扣超出权限，请调整后重新提交"}, timeout=10))
        else:
            _ok(boss.post(f"{server_url}/api/orders/{order_id}/approve", timeout=10))
    _ok(rep.post(f"{rep_url}/api/sync", timeout=120))
    receipt = _ok(rep.post(f"{rep_url}/api/orders/{orders[0]}/receive", json={"amount": 1000, "method": "bank_transfer",
                                                                             "submit": True}, timeout=10))
    _ok(rep.post(f"{rep_url}/api/sync", timeout=120))
    finance = _session(server_url, "zhaomin", "zhaomin-demo")
    _ok(finance.post(f"{server_url}/api/receipts/{receipt['id']}/approve", timeout=10))
    manager = _session(server_url, "zhangwei", "zhangwei-demo")
    lina = _ok(manager.get(f"{server_url}/api/users", params={"username": "lina"}, timeout=10))["items"][0]
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    _ok(manager.post(f"{server_url}/api/sales_targets", json={"user_id": lina["id"], "month": month, "amount": 50000}, timeout=10))
    _ok(rep.post(f"{rep_url}/api/sync", timeout=120))
    print(f"  sales: {len(products)} products, {len(customers)} opportunities, 8 quotes, {len(orders)} orders, 1 receipt", flush=True)


WAREHOUSES = (("WH01", "一号仓库", "宁波市北仑区物流园 1 号"), ("WH02", "二号仓库", "杭州市萧山区经济开发区 8 号"))


def seed_warehouses(server_url: str) -> dict[str, str]:
    """The warehouses (the boss on the server's API), before the kiosk enrolls for WH01."""
    boss = _session(server_url, "boss", "boss-demo")
    return {code: _ok(boss.post(f"{server_url}/api/warehouses", json={"code": code, "name": name, "address": address},
                                timeout=10))["id"] for code, name, address in WAREHOUSES}


def seed_stock(server_url: str, kiosk_url: str) -> None:
    """Opening stock as ``in`` moves on the server (WH01 and WH02), then the kiosk syncs: it holds
    WH01's moves and the outbound requests of the approved orders that asked for one."""
    rng = random.Random(6)
    boss = _session(server_url, "boss", "boss-demo")
    warehouses = {w["code"]: w["id"] for w in _ok(boss.get(f"{server_url}/api/warehouses", timeout=10))["items"]}
    products = _ok(boss.get(f"{server_url}/api/products", params={"per_page": 200}, timeout=10))["items"]
    moved_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    moves = 0
    for n, product in enumerate(products):
        for code, share in (("WH01", 1.0), ("WH02", 0.5)):
            if code == "WH02" and n % 2:
                continue
            _ok(boss.post(f"{server_url}/api/stock_moves", json={
                "kind": "in", "warehouse_id": warehouses[code], "product_id": product["id"],
                "quantity": max(1, int(rng.randint(8, 60) * share)), "unit_cost": round(float(product["price"]) * 0.62, 2),
                "reason": "期初库存", "ref_type": "other", "moved_at": moved_at}, timeout=10))
            moves += 1
    kiosk = _session(kiosk_url, "wanggang", "wanggang-demo")
    _ok(kiosk.post(f"{kiosk_url}/api/sync", timeout=120))
    pending = _ok(kiosk.get(f"{kiosk_url}/api/outbound_requests", params={"status": "pending"}, timeout=10))["total"]
    print(f"  stock: {len(warehouses)} warehouses, {moves} opening moves, {pending} pending outbound on the kiosk", flush=True)


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
            for role in ("sales_approval", "receipt_approval"):
                subprocess.run(_cli("role", "grant", "--data", str(root / "server"), "--role", role, "--username", "zhangwei"),
                               env=env, check=True)
            subprocess.run(_cli("role", "grant", "--data", str(root / "server"), "--role", "receipt_approval",
                                "--username", "zhaomin"), env=env, check=True)
            subprocess.run(_cli("enroll", "--data", str(root / "rep"), "--server", server_url, "--username", "lina",
                                "--password", "lina-demo", "--name", "李娜的笔记本"), env=env, check=True)
            seed_warehouses(server_url)  # the kiosk enrolls for WH01: it must exist first
            subprocess.run(_cli("enroll", "--data", str(root / "kiosk"), "--server", server_url, "--username", "wanggang",
                                "--password", "wanggang-demo", "--name", "一号仓库终端", "--warehouse", "WH01"), env=env, check=True)
        procs.append(subprocess.Popen(_cli("client", "--data", str(root / "rep"), "--port", str(port + 1)), env=env))
        procs.append(subprocess.Popen(_cli("client", "--data", str(root / "kiosk"), "--port", str(port + 2)), env=env))
        wait_until_up(f"{rep_url}/api/sync/status")
        wait_until_up(f"{kiosk_url}/api/sync/status")
        if fresh:
            print("Seeding demo data through the rep's laptop ...", flush=True)
            seed(rep_url, "lina", "lina-demo", customers)
            seed_sales(server_url, rep_url)  # approved orders with outbound_requested open WH01's outbound requests
            seed_stock(server_url, kiosk_url)
        print(
            "\nFieldbook demo is running (Ctrl-C stops all three):\n"
            f"  server (admin pages)  {server_url}/   admin / {ADMIN_PASSWORD}, boss / boss-demo, zhangwei / zhangwei-demo,"
            " zhaomin / zhaomin-demo (finance)\n"
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
