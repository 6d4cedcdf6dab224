"""The client's sync worker: one sync at a time, on a ``schedule`` timer, with backoff while offline.

``run_sync(store)`` is the single place a sync runs (the worker, "sync now", enrollment): it takes
the store's sync lock, so two syncs never overlap, and records the outcome in ``sync_status``.
Being offline is a normal state: it is logged in one line and retried, never raised to a page.
"""
from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

import schedule

from sync import ReplicaStore, SyncEngine
from sync.clock import iso_from_ms
from sync.errors import SyncError, TransportUnavailable

from . import db
from .enrollment import NotEnrolled
from .transport import HttpTransport

log = logging.getLogger(__name__)

BACKOFF_START = 5
BACKOFF_MAX = 300

_locks: weakref.WeakKeyDictionary[ReplicaStore, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def sync_lock(store: ReplicaStore) -> threading.Lock:
    """The lock that keeps two syncs of one replica from overlapping."""
    with _locks_guard:
        lock = _locks.get(store)
        if lock is None:
            lock = _locks[store] = threading.Lock()
        return lock


def backoff_delay(failures: int) -> int:
    """Seconds to wait after ``failures`` consecutive unreachable attempts: 5, 10, 20 ... 300."""
    if failures <= 0:
        return 0
    return int(min(BACKOFF_START * 2 ** (failures - 1), BACKOFF_MAX))


def run_sync(store: ReplicaStore, timeout: float = 30.0, transport: Any = None) -> dict[str, Any]:
    """Sync once now and return the report; record the outcome. Raises what the sync raised."""
    with sync_lock(store):
        device = db.get_device(store)
        if device is None:
            raise NotEnrolled("this client is not enrolled")
        db.update_sync_status(store, last_attempt_at=iso_from_ms(store.now_ms()))
        own = transport is None
        transport = transport or HttpTransport(device["server_url"], device["device_token"], timeout)
        try:
            report = SyncEngine(store, transport, store.clock).run_once().as_dict()
        except TransportUnavailable as exc:
            db.update_sync_status(store, online=False, last_error=str(exc))
            raise
        except SyncError as exc:
            db.update_sync_status(store, online=True, last_error=f"{exc.code}: {exc.message}")
            raise
        finally:
            if own:
                transport.close()
        db.update_sync_status(
            store, online=True, last_error=None, last_success_at=iso_from_ms(store.now_ms()), last_report=report
        )
        return report


class SyncWorker:
    """Sync every ``interval`` seconds while online; back off exponentially while not."""

    def __init__(self, store: ReplicaStore, interval: float = 30, timeout: float = 30.0) -> None:
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self.failures = 0
        self.scheduler = schedule.Scheduler()
        self._sched_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- running a sync ---------------------------------------------------------------------
    def sync_now(self) -> dict[str, Any]:
        """Sync immediately (waits for a running sync); raises ``TransportUnavailable`` when offline."""
        try:
            report = run_sync(self.store, self.timeout)
        except TransportUnavailable:
            self.failures += 1
            raise
        if self.failures:
            self.failures = 0
            self._schedule(self.interval)
        return report

    def _job(self) -> Any:
        delay: float = self.interval
        try:
            report = self.sync_now()
            moved = report.get("pushed") or report.get("pulled") or report.get("rejected")
            log.log(logging.INFO if moved else logging.DEBUG,
                    "synced: pushed %s, pulled %s, rejected %s", report.get("pushed"), report.get("pulled"), report.get("rejected"))
        except NotEnrolled:
            pass
        except TransportUnavailable as exc:
            delay = backoff_delay(self.failures)
            log.info("offline (%s); next try in %ss", exc, delay)
        except SyncError as exc:
            log.warning("sync refused by the server: %s %s", exc.code, exc.message)
        except Exception:  # a background thread has nobody to raise to: log it and keep going
            log.exception("sync failed")
        self._schedule(delay)
        return schedule.CancelJob

    def _schedule(self, seconds: float) -> None:
        with self._sched_lock:
            self.scheduler.clear()
            self.scheduler.every(max(1, int(seconds))).seconds.do(self._job)

    # ---- thread -----------------------------------------------------------------------------
    def start(self, first_delay: float = 1) -> None:
        """Start the daemon thread; the first sync runs after ``first_delay`` seconds."""
        if self._thread is not None:
            return
        self._schedule(first_delay)
        self._thread = threading.Thread(target=self._loop, name="fieldbook-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            with self._sched_lock:
                jobs = [j for j in self.scheduler.jobs if j.should_run]
            for job in jobs:
                if job.job_func is not None and job.job_func() is schedule.CancelJob:
                    with self._sched_lock:
                        if job in self.scheduler.jobs:
                            self.scheduler.cancel_job(job)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
