"""Benchmark the sync of an up-to-date client; prints ONE JSON object.

A server is seeded directly (as in ``initial_sync_bench``), a real ``fieldbook enroll`` pulls it all,
then a real ``fieldbook client`` process syncs again and again through ``POST /api/sync`` with nothing
new on either side. Reported: the engine's round trips, pushes and pulled records per sync (expected:
1 round trip, 0 pushed, 0 pulled), its own ``duration_ms`` and the wall time of ``POST /api/sync``
seen from outside, p50/p95. Baseline in the same run: ``GET /api/sync/status`` on the same client
(``ratio_vs_status``). A second series measures one new customer on the server side of the change
(created on another device) arriving: 1 pull with 1 record.

Usage: ``python -m scripts.bench.incremental_sync_bench [--scale 0.2] [--syncs 50]`` (scale as in
``initial_sync_bench``: 1.0 = 5,000 customers, 20,000 contacts, 50,000 visits held by the client).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from . import common
from .initial_sync_bench import seed_server


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--syncs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    customers, contacts, visits = (max(1, int(n * args.scale)) for n in (5000, 20000, 50000))
    result: dict[str, Any] = {"bench": "incremental_sync", **common.machine(), "records_held": customers + contacts + visits,
                              "syncs": args.syncs}
    with tempfile.TemporaryDirectory(prefix="fb-incr-") as tmp:
        root = Path(tmp)
        seed_server(root / "server", customers, contacts, visits, random.Random(args.seed))
        server = common.Process("server", root / "server", root / "server.log").start()
        client = other = None
        try:
            for name in ("a", "b"):
                enrolled = common.run_measured(["enroll", "--data", str(root / name), "--server", server.url,
                                                "--username", "rep", "--password", "rep-bench-1", "--name", name])
                if enrolled["returncode"] != 0:
                    raise RuntimeError(enrolled["output"])
            client = common.Process("client", root / "a", root / "a.log").start()
            other = common.Process("client", root / "b", root / "b.log").start()
            apis = {}
            for name, proc in (("a", client), ("b", other)):
                session = requests.Session()
                token = session.post(proc.url + "/api/login", json={"username": "rep", "password": "rep-bench-1"},
                                     timeout=30).json()["token"]
                session.headers["Authorization"] = f"Bearer {token}"
                apis[name] = session
            api, api_b = apis["a"], apis["b"]
            api.post(client.url + "/api/sync", timeout=60).raise_for_status()  # settle (nothing expected)

            status, walls, engine_ms, reports = [], [], [], []
            for _ in range(args.syncs):
                t0 = time.perf_counter()
                api.get(client.url + "/api/sync/status", timeout=30).raise_for_status()
                status.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                answer = api.post(client.url + "/api/sync", timeout=60)
                walls.append(time.perf_counter() - t0)
                answer.raise_for_status()
                report = answer.json()
                reports.append(report)
                engine_ms.append(report["duration_ms"] / 1000)
            result["round_trips"] = sorted({r["round_trips"] for r in reports})
            result["pushed"] = sorted({r["pushed"] for r in reports})
            result["pulled"] = sorted({r["pulled"] for r in reports})
            result["bytes_per_sync"] = sorted({r["bytes"] for r in reports})
            result["engine"] = common.ms_stats(engine_ms)
            result["post_api_sync"] = common.ms_stats(walls)
            result["baseline_sync_status"] = common.ms_stats(status)
            result["ratio_vs_status"] = round(result["post_api_sync"]["p50_ms"] / result["baseline_sync_status"]["p50_ms"], 1)

            one_walls, one_reports = [], []
            for n in range(min(20, args.syncs)):
                api_b.post(other.url + "/api/customers", json={"kind": "company", "name": f"新客户{n}"},
                           timeout=30).raise_for_status()
                api_b.post(other.url + "/api/sync", timeout=60).raise_for_status()
                t0 = time.perf_counter()
                answer = api.post(client.url + "/api/sync", timeout=60)
                one_walls.append(time.perf_counter() - t0)
                one_reports.append(answer.json())
            result["one_new_record"] = {**common.ms_stats(one_walls),
                                        "round_trips": sorted({r["round_trips"] for r in one_reports}),
                                        "pulled": sorted({r["pulled"] for r in one_reports})}
            result["expectation_met"] = result["round_trips"] == [1] and result["pushed"] == [0] and result["pulled"] == [0]
        finally:
            for proc in (client, other):
                if proc is not None:
                    proc.stop()
            server.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
