"""Run every benchmark in ``scripts/bench/``, each in its own process; prints ONE JSON object.

Each benchmark prints one JSON object; this collects them under their names with the wall seconds
each took, plus ``total_seconds``. A benchmark that fails is reported with its exit code and the tail
of its output instead of stopping the rest. Full size (the issue's numbers) fits in 10 minutes on
2 cores; ``--quick`` runs everything at about a tenth of the size (a smoke test, ~1 minute).

Usage: ``python -m scripts.bench.run_all [--quick] [--only NAME ...]``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

FULL: dict[str, list[str]] = {
    "sync_bench": ["--n", "100000"],
    "initial_sync_bench": ["--scale", "1.0"],
    "busy_day_bench": ["--devices", "200", "--changes", "50"],
    "page_speed_bench": ["--customers", "100000", "--visits", "1000000", "--requests", "50"],
    "incremental_sync_bench": ["--scale", "0.2", "--syncs", "50"],
}
QUICK: dict[str, list[str]] = {
    "sync_bench": ["--n", "5000"],
    "initial_sync_bench": ["--scale", "0.1"],
    "busy_day_bench": ["--devices", "20", "--changes", "50"],
    "page_speed_bench": ["--customers", "10000", "--visits", "100000", "--requests", "20"],
    "incremental_sync_bench": ["--scale", "0.05", "--syncs", "20"],
}


def run(name: str, args: list[str], timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", f"scripts.bench.{name}", *args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "args": args}
    seconds = round(time.perf_counter() - started, 1)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}", "args": args, "seconds": seconds,
                "output": (done.stdout + done.stderr)[-3000:]}
    return {"args": args, "seconds": seconds, "result": json.loads(lines[-1])}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a tenth of the size")
    parser.add_argument("--only", nargs="*", choices=sorted(FULL), help="run only these benchmarks")
    parser.add_argument("--timeout", type=float, default=400, help="seconds per benchmark")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    out: dict[str, Any] = {"mode": "quick" if args.quick else "full", "benchmarks": {}}
    for name, bench_args in plan.items():
        if args.only and name not in args.only:
            continue
        out["benchmarks"][name] = run(name, bench_args, args.timeout)
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
