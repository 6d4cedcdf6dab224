"""The client's sync worker: one sync at a time, on a ``schedule`` timer, with backoff while offline.

``run_sync(store)`` is the single place a sync runs (the worker, "sync now", enrollment): it takes
the store's sync lock, so two syncs never overlap, and records the outcome in ``sync_status``.
Being offline is a normal state: it is logged in one line and retried, never raised to a page.
The first sync after enrolling from the page runs on its own thread (``start_first_sync``); the page
polls ``first_sync_progress`` for the number of records received so far.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
import sqlite3
import threading
import weakref
from typing import Any

import schedule

from shared.schemas import REGISTRY
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


class LocalStorageFull(Exception):
    """The device's disk is full: the sync page was rolled back whole; nothing is lost."""


def engine_options() -> dict[str, Any]:
    """Batch sizes (``FIELDBOOK_SYNC_BATCH``, ``FIELDBOOK_SYNC_PULL_LIMIT``) and this app's version."""
    try:
        version = importlib.metadata.version("fieldbook")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    return {
        "max_items": int(os.environ.get("FIELDBOOK_SYNC_BATCH", "200")),
        "pull_limit": int(os.environ.get("FIELDBOOK_SYNC_PULL_LIMIT", "500")),
        "app_version": version,
    }


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
            engine = SyncEngine(store, transport, store.clock, user_id=(device.get("user") or {}).get("id"), **engine_options())
            report = engine.run_once().as_dict()
        except sqlite3.OperationalError as exc:
            if "full" not in str(exc):
                raise
            try:  # recording it may fail too while the disk is full
                db.update_sync_status(store, last_error=f"disk_full: {exc}")
            except sqlite3.Error:
                log.warning("sync: disk full, and the error could not be recorded")
            raise LocalStorageFull(str(exc)) from exc
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


def records_held(store: ReplicaStore) -> int:
    """How many records (documents and events, deleted ones included) this replica holds."""
    tables = [entity.table for entity in REGISTRY]
    sql = " + ".join(f"(SELECT count(*) FROM [{t}])" for t in tables)
    return int(store.db.execute(f"SELECT {sql}").fetchone()[0])


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
        self._first: threading.Thread | None = None
        self._first_state: dict[str, Any] = {}

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

    # ---- the first sync after enrollment, in the background ---------------------------------
    def start_first_sync(self) -> threading.Thread:
        """Run one sync on its own thread now (a running one is reused); the page polls its progress."""
        with self._sched_lock:
            if self._first is not None and self._first.is_alive():
                return self._first
            self._first_state = {"running": True, "baseline": records_held(self.store), "report": None, "error": None}
            self._first = threading.Thread(target=self._first_sync, name="fieldbook-first-sync", daemon=True)
            self._first.start()
            return self._first

    def _first_sync(self) -> None:
        state = self._first_state
        try:
            state["report"] = self.sync_now()
        except TransportUnavailable as exc:
            log.info("first sync: offline (%s); the worker retries it", exc)
            state["error"] = "offline"
        except SyncError as exc:
            log.warning("first sync refused by the server: %s %s", exc.code, exc.message)
            state["error"] = f"{exc.code}: {exc.message}"
        except NotEnrolled:
            state["error"] = "not_enrolled"
        except Exception:  # nobody to raise to on this thread: log it, the page shows "failed"
            log.exception("first sync failed")
            state["error"] = "internal_error"
        finally:
            state["running"] = False

    def first_sync_progress(self) -> dict[str, Any]:
        """``{"state": "running"|"done"|"failed", "received": N, "error": str|None}``.

        Without a first sync started by this process (e.g. after a restart), the state comes from
        the recorded sync status: done once a sync succeeded, else still waiting for the worker.
        """
        state = dict(self._first_state)
        if not state:
            status = db.get_sync_status(self.store)
            report = status["last_report"] or {}
            if status["last_success_at"]:
                return {"state": "done", "received": int(report.get("pulled") or 0), "error": None}
            return {"state": "failed" if status["last_error"] else "running", "received": records_held(self.store),
                    "error": status["last_error"]}
        if state["running"]:
            return {"state": "running", "received": max(0, records_held(self.store) - state["baseline"]), "error": None}
        if state["report"] is not None:
            return {"state": "done", "received": int(state["report"].get("pulled") or 0), "error": None}
        return {"state": "failed", "received": max(0, records_held(self.store) - state["baseline"]), "error": state["error"]}

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
