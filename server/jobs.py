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

from . import recycling, sales

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


def run_reminders(store: Any, now: datetime | None = None) -> int:
    """Notify owners of receivables that became overdue (or older); logged, never raising."""
    moment = now or datetime.fromtimestamp(store.now_ms() / 1000, tz=sales.TIMEZONE)
    try:
        sent = sales.remind_overdue(store, moment.date())
    except Exception:
        log.exception("overdue receivable reminders failed")
        return 0
    log.info("overdue receivable reminders: %d sent", sent)
    return sent


def start(store: Any, at: str = "02:00", remind_at: str = "08:00") -> threading.Event:
    """Run recycling daily at ``at`` and reminders at ``remind_at`` (local time) in a daemon thread;
    set the event to stop."""
    scheduler = schedule.Scheduler()
    scheduler.every().day.at(at).do(run_recycling, store)
    scheduler.every().day.at(remind_at).do(run_reminders, store)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(30):
            scheduler.run_pending()

    threading.Thread(target=loop, name="fieldbook-jobs", daemon=True).start()
    return stop
