"""Benchmark a rep's first sync over loopback HTTP; prints ONE JSON object.

The server store is seeded directly (``server.db.open_store`` + ``store.create``/``add_event`` in
batches inside ``store.write()``) with customers, contacts and visits owned by one sales rep; then a
real ``fieldbook server`` process runs and a real ``fieldbook enroll`` process enrolls the rep's
device and pulls everything. Reported: enroll wall seconds (process start included) and the engine's
own sync duration, bytes on the wire, round trips, peak RSS of client (wait4 ``ru_maxrss``) and
server (``VmHWM``), server CPU seconds. Baseline in the same run: copying the server's database file
(the floor for moving this much data on this disk).

Usage: ``python -m scripts.bench.initial_sync_bench [--scale 1.0]`` (1.0 = 5,000 customers, 20,000
contacts, 50,000 visits).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from . import common

BATCH = 2000


def seed_server(data: Path, customers: int, contacts: int, visits: int, rng: random.Random) -> dict[str, Any]:
    """Seed the server's store directly; return the rep's user and seeding seconds."""
    from server import db, users

    started = time.perf_counter()
    store = db.open_store(str(data))
    users.ensure_admin(store, common.ADMIN_PASSWORD)
    rep = users.create_user(store, "rep", "rep-bench-1", "sales_rep", display_name="李娜")
    ids: list[str] = []
    for start in range(0, customers, BATCH):
        with store.write():
            for n in range(start, min(customers, start + BATCH)):
                ids.append(store.create("customer", common.customer_values(rng, n, rep["id"]), rep["id"]))
    for start in range(0, contacts, BATCH):
        with store.write():
            for n in range(start, min(contacts, start + BATCH)):
                store.create("contact", {"customer_id": ids[n % len(ids)], "name": f"联系人{n}", "title": "采购经理",
                                         "phone": f"139{n:08d}"}, rep["id"])
    for start in range(0, visits, BATCH):
        with store.write():
            for n in range(start, min(visits, start + BATCH)):
                store.add_event("visit", common.visit_values(rng, ids[n % len(ids)], n), rep["id"])
    seconds = time.perf_counter() - started
    db.close_store(str(data))
    return {"rep": rep, "seed_seconds": round(seconds, 2)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    customers, contacts, visits = (max(1, int(n * args.scale)) for n in (5000, 20000, 50000))
    rng = random.Random(args.seed)
    result: dict[str, Any] = {"bench": "initial_sync", "scale": args.scale, **common.machine(),
                              "customers": customers, "contacts": contacts, "visits": visits}
    with tempfile.TemporaryDirectory(prefix="fb-initial-") as tmp:
        root = Path(tmp)
        seeded = seed_server(root / "server", customers, contacts, visits, rng)
        result["seed_seconds"] = seeded["seed_seconds"]
        db_file = root / "server" / "server.db"
        result["server_db_bytes"] = db_file.stat().st_size

        started = time.perf_counter()
        shutil.copyfile(db_file, root / "copy.db")
        result["baseline_copy_seconds"] = round(time.perf_counter() - started, 3)

        server = common.Process("server", root / "server", root / "server.log").start()
        try:
            rss_before = common.peak_rss_kb(server.pid)
            cpu_before = common.cpu_seconds(server.pid)
            enrolled = common.run_measured(["enroll", "--data", str(root / "client"), "--server", server.url,
                                            "--username", "rep", "--password", "rep-bench-1", "--name", "bench-laptop"])
            result["server_cpu_seconds"] = round(common.cpu_seconds(server.pid) - cpu_before, 2)
            result["server_peak_rss_mb_idle"] = round(rss_before / 1024, 1)
            result["server_peak_rss_mb"] = round(common.peak_rss_kb(server.pid) / 1024, 1)
        finally:
            server.stop()
        if enrolled["returncode"] != 0:
            result["error"] = enrolled["output"][-2000:]
            return result
        report = dict(kv.split("=", 1) for kv in enrolled["output"].split("first sync: ", 1)[1].strip().split(", "))
        result.update({
            "enroll_seconds": round(enrolled["seconds"], 2),
            "sync_seconds": round(float(report["duration_ms"]) / 1000, 2),
            "records_pulled": int(report["pulled"]),
            "records_per_s": round(int(report["pulled"]) / (float(report["duration_ms"]) / 1000)),
            "bytes": int(report["bytes"]),
            "bytes_per_record": round(int(report["bytes"]) / max(1, int(report["pulled"]))),
            "round_trips": int(report["round_trips"]),
            "client_peak_rss_mb": round(enrolled["peak_rss_kb"] / 1024, 1),
            "client_cpu_seconds": round(enrolled["cpu_seconds"], 2),
            "client_db_bytes": (root / "client" / "client.db").stat().st_size,
        })
        result["ratio_sync_vs_file_copy"] = round(result["sync_seconds"] / max(1e-6, result["baseline_copy_seconds"]), 1)
        expected = customers + contacts + visits
        result["complete"] = result["records_pulled"] == expected
    return result


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
