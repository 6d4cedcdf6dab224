"""What the server does after it stores a record, whoever wrote it (a device's push through
``SyncServer``'s effects hook, or the server's own API and pages): number sales documents, apply
approval decisions, post stock moves to the ledger."""
from __future__ import annotations

from typing import Callable

from sync import Principal, ServerStore

from . import sales, stock


def after_write(store: ServerStore, entity: str, record_id: str) -> None:
    sales.after_write(store, entity, record_id)
    stock.after_write(store, entity, record_id)


def hook(store: ServerStore) -> Callable[[Principal, str, str], None]:
    """``SyncServer(effects=...)``: run ``after_write`` for each stored push item."""

    def run(principal: Principal, entity: str, record_id: str) -> None:
        after_write(store, entity, record_id)

    return run
