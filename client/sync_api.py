"""``POST /api/sync`` (sync now) and ``GET /api/sync/status``: the client's sync state as JSON.

Also ``sync_state(store)``, the numbers the sync bar shows on every page. Offline is an
answer (503 ``offline``), never a stack trace.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app
from flask_babel import gettext as _

from shared.web.errors import Conflict, DiskFull, Unavailable
from sync import ReplicaStore
from sync.errors import TransportUnavailable

from . import db
from .auth import current_user
from .enrollment import NotEnrolled
from .worker import LocalStorageFull, SyncWorker

bp = Blueprint("sync_api", __name__)
log = logging.getLogger(__name__)


def sync_state(store: ReplicaStore) -> dict[str, Any]:
    """Online flag, pending changes, last success/attempt/error and open rejections."""
    status = db.get_sync_status(store)
    rejections = int(store.db.execute("SELECT count(*) FROM sync_rejections WHERE dismissed = 0").fetchone()[0])
    return {
        "enrolled": db.get_device(store) is not None,
        "online": status["online"],
        "pending": store.pending_count(),
        "last_success_at": status["last_success_at"],
        "last_attempt_at": status["last_attempt_at"],
        "last_error": status["last_error"],
        "rejections": rejections,
    }


def worker() -> SyncWorker:
    return current_app.extensions["fieldbook_worker"]


def sync_now() -> dict[str, Any]:
    """Run a sync now for a view; offline and not-enrolled become API errors."""
    try:
        return worker().sync_now()
    except TransportUnavailable as exc:
        log.info("sync now: offline (%s)", exc)
        raise Unavailable(_("The server cannot be reached; your changes are kept and will sync later."),
                          code="offline") from exc
    except NotEnrolled as exc:
        raise Conflict(_("This client is not enrolled yet."), code="not_enrolled") from exc
    except LocalStorageFull as exc:
        raise DiskFull(_("This device's disk is full: free some space, then sync again. Nothing was lost."),
                       code="disk_full") from exc


@bp.post("/api/sync")
def api_sync() -> Any:
    current_user()
    report = sync_now()
    keys = ("pushed", "pulled", "rejected", "conflicts", "evicted", "repaired", "bytes", "round_trips", "duration_ms")
    return {k: report.get(k) for k in keys}


@bp.get("/api/sync/status")
def api_sync_status() -> Any:
    current_user()
    state = sync_state(db.get_store())
    state.pop("enrolled")
    return state


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
