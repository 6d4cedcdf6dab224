"""Re-seeding a device after its server was restored from a backup.

A restored server has lost every change it acknowledged after the backup, and the device's outbox
no longer holds them; its pull cursor also points past the restored log. ``reseed`` queues every
change of every document this replica holds and every event its user authored (the server treats
known ones as no-ops, so only what the restore lost is applied), resets the cursor so the next
pull starts from the beginning, and can point the device at a new server URL. The next ordinary
sync pushes before it pulls, so nothing the device holds is evicted by the scope repair first.
It must not know about HTTP: the running client's next sync does the sending.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.schemas import REGISTRY
from sync import ReplicaStore

from . import db


@dataclass
class ReseedReport:
    documents: int = 0
    changes: int = 0
    events: int = 0


def reseed(store: ReplicaStore, server_url: str | None = None) -> ReseedReport:
    """Queue everything this device holds for the next push and restart pulling from the start."""
    device = db.get_device(store)
    if device is None:
        raise ValueError("this client is not enrolled")
    user_id = device["user"].get("id")
    report = ReseedReport()
    with store.write():
        if server_url:
            store.db.execute("UPDATE device SET server_url = ? WHERE id = 1", [server_url.rstrip("/")])
        queued = {(e, r, k) for e, r, k in store.db.execute("SELECT entity, record_id, item_key FROM sync_outbox")}
        for entity in REGISTRY:
            if entity.kind == "document":
                ids = [r for (r,) in store.db.execute("SELECT id FROM sync_docs WHERE entity = ? ORDER BY id", [entity.name])]
                for record_id in ids:
                    changes = [c for c in store.document(entity.name, record_id).changes_since([])
                               if (entity.name, record_id, c.hash) not in queued]
                    if changes:
                        # the store's own outbox hook, so the rows are exactly what a local write queues
                        store._record_local_changes(entity, record_id, changes)
                    report.documents += 1
                    report.changes += len(changes)
            else:
                for row in store.db.query(f"SELECT * FROM [{entity.table}] WHERE author_id = ? ORDER BY hlc", [user_id]):
                    if (entity.name, row["id"], row["id"]) not in queued:
                        store._record_local_event(entity, row)
                        report.events += 1
        store.set_cursor("")
    return report
