"""Benchmark a busy day: many devices syncing at once against one real server; prints ONE JSON object.

Each simulated device is a thread with its own file-backed ``ReplicaStore`` (``client.db.open_store``),
enrolled over HTTP (``client.enrollment.register_device``, the same call ``fieldbook enroll`` makes) and
synced with ``client.worker.run_sync`` (``SyncEngine`` over a fresh ``HttpTransport``, closed after the
sync) -- the code path of a real client's "sync now" minus Flask. Devices belong to sales reps, ten devices per rep, so pulls carry the other devices' changes.
Each device records its changes offline first (creates + edits of its rep's customers), then all
devices sync at once (a barrier releases them together): one ``run_once`` each, timed.

Reported: p50/p95/p99 latency of those syncs, errors (printed in full if any), server CPU seconds
during the storm (``/proc/<pid>/stat``), and a baseline in the same run: one device alone doing the
same sync (``ratio_p50_vs_alone``). The devices' own CPU shares the machine with the server (threads
in this process), which inflates latency on a 2-core box; ``bench_process_cpu_seconds`` shows how much.

Usage: ``python -m scripts.bench.busy_day_bench [--devices 200] [--changes 50]``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from . import common

DEVICES_PER_REP = 10


def seed_users(data: Path, reps: int) -> None:
    from server import db, users

    store = db.open_store(str(data))
    users.ensure_admin(store, common.ADMIN_PASSWORD)
    for r in range(reps):
        users.create_user(store, f"rep{r}", f"rep-pass-{r}", "sales_rep")
    db.close_store(str(data))


class Device:
    """One simulated laptop: a replica store, an enrollment and an HTTP transport."""

    def __init__(self, root: Path, n: int, server_url: str) -> None:
        from client import db
        from client.enrollment import register_device

        self.n = n
        self.rep = n // DEVICES_PER_REP
        self.store = db.open_store(str(root / f"device{n}.db"))
        answer = register_device(self.store, server_url, f"rep{self.rep}", f"rep-pass-{self.rep}", name=f"bench-{n}")
        self.user_id = answer["user"]["id"]

    def work_offline(self, changes: int, rng: random.Random) -> None:
        """Record ``changes`` local changes: one customer per five changes, then edits of them."""
        creates = max(1, changes // 5)
        ids = [self.store.create("customer", common.customer_values(rng, self.n * 1000 + i, self.user_id), self.user_id)
               for i in range(creates)]
        for e in range(changes - creates):
            self.store.update("customer", ids[e % len(ids)], {"phone": f"0571-{self.n}-{e}", "level": "ABC"[e % 3]},
                              self.user_id)

    def sync(self) -> dict[str, Any]:
        from client.worker import run_sync

        return run_sync(self.store, timeout=300)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    reps = (args.devices + 1 + DEVICES_PER_REP - 1) // DEVICES_PER_REP
    result: dict[str, Any] = {"bench": "busy_day", **common.machine(), "devices": args.devices,
                              "changes_per_device": args.changes, "reps": reps}
    with tempfile.TemporaryDirectory(prefix="fb-busy-") as tmp:
        root = Path(tmp)
        seed_users(root / "server", reps)
        server = common.Process("server", root / "server", root / "server.log")
        server.start()
        try:
            started = time.perf_counter()
            devices = [Device(root, n, server.url) for n in range(args.devices + 1)]
            result["enroll_seconds"] = round(time.perf_counter() - started, 2)
            for device in devices:
                device.work_offline(args.changes, rng)
            alone, storm = devices[-1], devices[:-1]

            # Baseline: the same sync by one device with the server otherwise idle.
            began = time.perf_counter()
            alone_report = alone.sync()
            result["alone_ms"] = round((time.perf_counter() - began) * 1000, 1)
            result["alone_pushed"] = alone_report["pushed"]

            barrier = threading.Barrier(len(storm))
            latencies: list[float] = []
            errors: list[str] = []
            reports: list[dict[str, Any]] = []
            lock = threading.Lock()

            def run(device: Device) -> None:
                barrier.wait()
                t0 = time.perf_counter()
                try:
                    report = device.sync()
                except Exception:  # a benchmark reports every failure instead of dying on the first
                    with lock:
                        errors.append(f"device {device.n}: {traceback.format_exc(limit=3)}")
                    return
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    reports.append(report)

            cpu_before = common.cpu_seconds(server.pid)
            own_before = os.times()
            threads = [threading.Thread(target=run, args=(d,)) for d in storm]
            wall = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            result["storm_wall_seconds"] = round(time.perf_counter() - wall, 2)
            own_after = os.times()
            result["server_cpu_seconds"] = round(common.cpu_seconds(server.pid) - cpu_before, 2)
            result["bench_process_cpu_seconds"] = round(
                (own_after.user - own_before.user) + (own_after.system - own_before.system), 2)
            result["server_peak_rss_mb"] = round(common.peak_rss_kb(server.pid) / 1024, 1)
        finally:
            server.stop()
        result["errors"] = len(errors)
        if errors:
            result["error_details"] = errors[:20]
        if latencies:
            result.update(common.ms_stats(latencies))
            result["max_ms"] = round(max(latencies) * 1000, 1)
            result["ratio_p50_vs_alone"] = round(result["p50_ms"] / max(1e-3, result["alone_ms"]), 1)
            result["pushed_total"] = sum(r["pushed"] for r in reports)
            result["pulled_total"] = sum(r["pulled"] for r in reports)
            result["rejected_total"] = sum(r["rejected"] for r in reports)
            result["round_trips_mean"] = round(sum(r["round_trips"] for r in reports) / len(reports), 2)
            result["changes_per_s"] = round(result["pushed_total"] / result["storm_wall_seconds"])
    return result


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
