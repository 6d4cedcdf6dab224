"""What the end-to-end benchmarks share: real ``fieldbook`` processes on loopback, /proc readings,
percentiles and bulk seeding of a server store.

Benchmarks print one JSON object each; this module prints nothing. It must not be imported by the
product (only ``scripts/bench/*``).
"""
from __future__ import annotations

import os
import platform
import random
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence


from scripts.processes import Proc, fieldbook_cmd, free_port, process_env

ADMIN_PASSWORD = "admin-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")

COMPANY_PARTS = ("明达", "恒通", "华信", "远东", "金桥", "鼎盛", "新华", "宏达", "东方", "海天", "天成", "瑞丰")
CITIES = ("杭州", "苏州", "上海", "南京", "宁波", "无锡", "合肥", "温州")
TRADES = ("机械", "电子", "贸易", "科技", "化工", "物流", "建材", "食品")


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count()}


def env(**extra: str) -> dict[str, str]:
    return process_env(FIELDBOOK_ADMIN_PASSWORD=ADMIN_PASSWORD, **extra)


def Process(kind: str, data: Path, log: Path, port: int | None = None, **extra_env: str) -> Proc:  # noqa: N802
    """A fieldbook process for a benchmark (the admin password is the benchmark's)."""
    return Proc(kind, data, port or free_port(), log, env={"FIELDBOOK_ADMIN_PASSWORD": ADMIN_PASSWORD, **extra_env})


def peak_rss_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a running process, in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def run_measured(args: Sequence[str], timeout: float = 600) -> dict[str, Any]:
    """Run a fieldbook command to completion; wall seconds, exit code, output and peak RSS (wait4)."""
    started = time.perf_counter()
    popen = subprocess.Popen(fieldbook_cmd(*args), env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert popen.stdout is not None
    out = popen.stdout.read()  # the command prints little; reading to EOF cannot dead-lock
    _pid, status, usage = os.wait4(popen.pid, 0)
    popen.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": time.perf_counter() - started, "returncode": popen.returncode,
            "output": out.decode(errors="replace"), "peak_rss_kb": int(usage.ru_maxrss),
            "cpu_seconds": usage.ru_utime + usage.ru_stime}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(p / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def ms_stats(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95 (and p99 when enough samples) of durations given in seconds, as ms."""
    out = {"p50_ms": round(percentile(samples, 50) * 1000, 2), "p95_ms": round(percentile(samples, 95) * 1000, 2)}
    if len(samples) >= 100:
        out["p99_ms"] = round(percentile(samples, 99) * 1000, 2)
    return out


def company_name(rng: random.Random, n: int) -> str:
    return f"{rng.choice(CITIES)}{rng.choice(COMPANY_PARTS)}{rng.choice(TRADES)}有限公司{n}"


def customer_values(rng: random.Random, n: int, owner_id: str | None) -> dict[str, Any]:
    return {"kind": "company", "name": company_name(rng, n), "phone": f"0571-{rng.randrange(10**7, 10**8)}",
            "mobile": f"138{rng.randrange(10**7, 10**8)}", "city": rng.choice(CITIES), "level": rng.choice("ABC"),
            "address": f"{rng.choice(CITIES)}市工业路{rng.randrange(1, 999)}号", "owner_id": owner_id,
            "remark": "老客户，年度框架协议。" if n % 3 == 0 else "", "is_hot": n % 7 == 0}


def visit_values(rng: random.Random, customer_id: str, n: int) -> dict[str, Any]:
    day = 1 + n % 28
    return {"customer_id": customer_id, "method": rng.choice(("phone", "onsite", "im", "email")),
            "content": f"第{n}次拜访：讨论二期采购与交付计划。", "visited_at": f"2026-10-{day:02d}T10:00:00+08:00",
            "next_contact_at": None}
