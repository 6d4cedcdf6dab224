"""Benchmark local page speed on a big client through HTTP; prints ONE JSON object.

A client data dir is seeded directly (``client.db.store_for(dir)``, large ``store.write()``
transactions) with customers and visits, as an enrolled device that has synced them all (the
device row and cached user written by the functions enrollment uses; the outbox acknowledged). Visits go
through ``store.add_event`` until the seeding time box is spent; the rest are plain SQL inserts
into the materialized ``visits`` table (``visits_seeded_via`` says which). Then a real
``fieldbook client`` process serves it (its server address is a closed port: offline, as a rep on
the road) and each request is timed from this process over loopback HTTP:

- API (bearer token from ``POST /api/login``): customer list page 1, Chinese substring search
  (``q=明达``), customer view (``/api/customers/<id>`` + ``/api/visits?customer_id=``);
- HTML with a session cookie: ``/customers`` and ``/customers/<id>``.

Baseline in the same run: ``GET /api/sync/status`` (a request that touches no customer data), so
``ratio_vs_status`` is what the data costs beyond Flask, auth and the loopback round trip.

Usage: ``python -m scripts.bench.page_speed_bench [--customers 100000] [--visits 1000000]
[--requests 50] [--seed-budget 90]``.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import requests

from . import common

BATCH = 5000
PASSWORD = "rep-bench-1"


def seed_client(data: Path, customers: int, visits: int, budget_s: float, rng: random.Random) -> dict[str, Any]:
    from client import db
    from client.enrollment import remember_user
    from sync.clock import Hlc
    from sync.store import new_id

    out: dict[str, Any] = {}
    store = db.store_for(str(data))
    user = {"id": new_id(), "username": "rep", "display_name": "李娜", "role": "sales_rep", "department": None}
    db.save_device(store, f"http://127.0.0.1:{common.free_port()}", "not-a-token", user, "2026-11-01T00:00:00+00:00", None)
    remember_user(store, user, PASSWORD)

    started = time.perf_counter()
    ids: list[str] = []
    for start in range(0, customers, BATCH):
        with store.write():
            for n in range(start, min(customers, start + BATCH)):
                ids.append(store.create("customer", common.customer_values(rng, n, user["id"]), user["id"]))
    out["seed_customers_seconds"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    via_store = 0
    deadline = started + budget_s
    while via_store < visits and time.perf_counter() < deadline:
        with store.write():
            for n in range(via_store, min(visits, via_store + BATCH)):
                store.add_event("visit", common.visit_values(rng, ids[n % len(ids)], n), user["id"])
            via_store = min(visits, via_store + BATCH)
    out["visits_via_store"] = via_store
    out["visits_via_store_per_s"] = round(via_store / max(1e-6, time.perf_counter() - started))
    if via_store < visits:
        # Plain SQL into the materialized table: same columns, ids and HLC readings as add_event writes.
        site = store.site_id
        base_ms = store.now_ms()
        for start in range(via_store, visits, 50_000):
            rows = []
            for n in range(start, min(visits, start + 50_000)):
                v = common.visit_values(rng, ids[n % len(ids)], n)
                rows.append((new_id(), v["customer_id"], None, v["method"], v["content"], v["visited_at"], None,
                             user["id"], Hlc(base_ms + n, 0, site).encode()))
            with store.write():
                store.db.conn.executemany(
                    "INSERT INTO visits (id, customer_id, contact_id, method, content, visited_at, next_contact_at,"
                    " author_id, hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        out["visits_seeded_via"] = "sql" if via_store == 0 else f"store for the first {via_store}, sql for the rest"
    else:
        out["visits_seeded_via"] = "store"
    out["seed_visits_seconds"] = round(time.perf_counter() - started, 1)
    # As if every change had been pushed: a synced device has an empty outbox.
    seqs = [r[0] for r in store.db.execute("SELECT seq FROM sync_outbox").fetchall()]
    store.ack(seqs)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out["hot_customer_id"] = ids[0]  # customer n=0 carries visits 0, customers, 2*customers, ...
    db.close_store(str(data))
    return out


def timed(fn: Callable[[], requests.Response], n: int) -> dict[str, Any]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        answer = fn()
        samples.append(time.perf_counter() - t0)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text[:300]}")
    return common.ms_stats(samples)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--seed-budget", type=float, default=90, help="seconds of add_event before SQL takes over")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    result: dict[str, Any] = {"bench": "page_speed", **common.machine(), "customers": args.customers,
                              "visits": args.visits, "requests_per_page": args.requests}
    with tempfile.TemporaryDirectory(prefix="fb-pages-") as tmp:
        root = Path(tmp)
        seeded = seed_client(root / "client", args.customers, args.visits, args.seed_budget, rng)
        hot = seeded.pop("hot_customer_id")
        result.update(seeded)
        result["client_db_bytes"] = (root / "client" / "client.db").stat().st_size
        client = common.Process("client", root / "client", root / "client.log").start()
        try:
            api = requests.Session()
            token = api.post(client.url + "/api/login", json={"username": "rep", "password": PASSWORD}, timeout=30).json()["token"]
            api.headers["Authorization"] = f"Bearer {token}"
            page = requests.Session()
            login_html = page.get(client.url + "/login", timeout=30).text
            csrf = re.search(r'name="csrf_token"\s+value="([^"]+)"', login_html)
            answer = page.post(client.url + "/login", data={"username": "rep", "password": PASSWORD,
                                                          **({"csrf_token": csrf.group(1)} if csrf else {})}, timeout=30)
            if answer.status_code != 200 or "/login" in answer.url:
                raise RuntimeError(f"page login failed: {answer.status_code} {answer.url}")
            u = client.url
            found = api.get(u + "/api/customers", params={"q": "明达"}, timeout=30).json()
            result["search_hits"] = found["total"]
            result["hot_customer_visits"] = api.get(u + "/api/visits", params={"customer_id": hot}, timeout=30).json()["total"]
            n = args.requests
            pages: dict[str, dict[str, Any]] = {
                "baseline_sync_status": timed(lambda: api.get(u + "/api/sync/status", timeout=30), n),
                "api_customer_list": timed(lambda: api.get(u + "/api/customers", timeout=30), n),
                "api_search_mingda": timed(lambda: api.get(u + "/api/customers", params={"q": "明达"}, timeout=30), n),
                "api_search_mingda_page_50": timed(
                    lambda: api.get(u + "/api/customers", params={"q": "明达", "page": 50}, timeout=30), n),
                "api_customer_view": timed(lambda: (api.get(f"{u}/api/customers/{hot}", timeout=30),
                                                    api.get(u + "/api/visits", params={"customer_id": hot}, timeout=30))[1], n),
                "html_customers": timed(lambda: page.get(u + "/customers", timeout=30), n),
                "html_customers_search": timed(lambda: page.get(u + "/customers", params={"q": "明达"}, timeout=30), n),
                "html_customer_view": timed(lambda: page.get(f"{u}/customers/{hot}", timeout=30), n),
            }
            result["client_peak_rss_mb"] = round(common.peak_rss_kb(client.pid) / 1024, 1)
        finally:
            client.stop()
    base = pages["baseline_sync_status"]["p50_ms"]
    for name, stats in pages.items():
        if name != "baseline_sync_status":
            stats["ratio_vs_status"] = round(stats["p50_ms"] / max(1e-3, base), 1)
    result["pages"] = pages
    return result


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
