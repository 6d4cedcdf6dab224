"""A pull page that carries the same whole record twice (found by the fault proxy, seed 424242)."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.schemas import REGISTRY
from sync import ManualClock, ReplicaStore


def test_the_same_whole_record_twice_in_one_page_is_stored_once(tmp_path: Path) -> None:
    source = ReplicaStore.open(str(tmp_path / "a.db"), REGISTRY, ManualClock())
    record_id = source.create("customer", {"kind": "company", "name": "杭州明达机械有限公司"}, "u1")
    doc = source.document("customer", record_id)
    whole = {"entity": "customer", "record_id": record_id, "document": doc.save(), "heads": doc.heads(),
             "row": source.get("customer", record_id)}
    target = ReplicaStore.open(str(tmp_path / "b.db"), REGISTRY, ManualClock())
    with target.write():
        target.receive_documents([whole, dict(whole)])
    assert target.get("customer", record_id)["name"] == "杭州明达机械有限公司"
    source.close()
    target.close()
