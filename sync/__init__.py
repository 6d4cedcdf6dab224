"""Fieldbook's sync engine: record documents, events, replica stores, merge, scopes, protocol.

No Flask and no HTTP server here (a test checks). See ``docs/sync.md`` for the model.
"""
from __future__ import annotations

from .authority import FieldChange, Principal, RecordDiff, Validator, Verdict, accept_all
from .clock import Clock, HybridLogicalClock, ManualClock, SystemClock
from .document import RecordDocument, Stamp
from .engine import SyncEngine, SyncReport
from .errors import Forbidden, IncompatibleVersion, InvalidMessage, SyncError, TransportUnavailable
from .protocol import SCHEMA_VERSION
from .scope import Everything, OwnerScope, Scope
from .server import ServerStore, SyncServer
from .store import RecordNotFound, ReplicaStore, new_id
from .transport import InMemoryTransport, Transport

__all__ = [
    "Clock", "Everything", "FieldChange", "Forbidden", "HybridLogicalClock", "InMemoryTransport",
    "IncompatibleVersion", "InvalidMessage", "ManualClock", "OwnerScope", "Principal", "RecordDiff",
    "RecordDocument", "RecordNotFound", "ReplicaStore", "SCHEMA_VERSION", "Scope", "ServerStore",
    "Stamp", "SyncEngine", "SyncError", "SyncReport", "SyncServer", "SystemClock", "Transport",
    "TransportUnavailable", "Validator", "Verdict", "accept_all", "new_id",
]
