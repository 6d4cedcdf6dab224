"""Background jobs of a running server (``fieldbook server``), on a ``schedule`` scheduler.

Only ``server.cli.run_server`` starts them; tests and the app factory never do (jobs are plain
functions taking ``now``, tested directly). Today: idle customer recycling once a day.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any

import schedule

from . import recycling

log = logging.getLogger(__name__)


def run_recycling(store: Any, now: datetime | None = None) -> list[dict[str, Any]]:
    """One recycling run at ``now`` (default: the store's clock); logged, never raising."""
    moment = now or datetime.fromtimestamp(store.now_ms() / 1000, tz=timezone.utc).astimezone()
    try:
        moved = recycling.recycle_idle(store, moment)
    except Exception:  # a failed run must not stop the server; the next day tries again
        log.exception("idle customer recycling failed")
        return []
    log.info("idle customer recycling: %d customers back in the pool", len(moved))
    return moved


def start(store: Any, at: str = "02:00") -> threading.Event:
    """Run recycling daily at ``at`` (local time) in a daemon thread; set the event to stop."""
    scheduler = schedule.Scheduler()
    scheduler.every().day.at(at).do(run_recycling, store)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(30):
            scheduler.run_pending()

    threading.Thread(target=loop, name="fieldbook-jobs", daemon=True).start()
    return stop
