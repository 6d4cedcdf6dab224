"""Hostile input on the sync endpoints: every case answers a clear 4xx envelope and writes nothing."""
from __future__ import annotations

import copy
import gzip
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sync.protocol import SCHEMA_VERSION

from .conftest import DeviceReplica, assert_envelope, b64, server_counts

CUSTOMER = {"kind": "company", "name": "杭州明达机械有限公司", "phone": "0571-1"}


def _pull(device: DeviceReplica) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "device_id": device.device_id, "cursor": ""}


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b"null", "application/json"),
    (b"", "application/json"),
    (b'{"schema_version": "1"', "text/plain"),
])
@pytest.mark.parametrize("path", ["/sync/v1/push", "/sync/v1/pull"])
def test_malformed_bodies(server: Flask, device: DeviceReplica, path: str, body: bytes, content_type: str) -> None:
    before = server_counts(server)
    answer = device.http.post(path, data=body, content_type=content_type, headers={"Authorization": f"Device {device.token}"})
    assert_envelope(answer, (400, 422))
    assert server_counts(server) == before


@pytest.mark.parametrize("mutate", [
    lambda m: m.update(items="not a list"),
    lambda m: m.update(items=[{"entity": 1, "record_id": [], "outbox": "x", "changes": None}]),
    lambda m: m.update(schema_version=7),
    lambda m: m.update(device_id=None),
    lambda m: m.update(extra_field=True),
    lambda m: m["items"][0].update(surprise="field"),
    lambda m: m["items"][0].update(outbox=[True]),
    lambda m: m["items"][0].update(changes=["not base64 !!!"]),
    lambda m: m["items"][0].update(changes=[b64(b"\x85o\x4a\x83 definitely not automerge")]),
    lambda m: m["items"][0].update(changes=[b64(b"")]),
    lambda m: m["items"][0].update(entity="invoice"),
    lambda m: m["items"][0].update(entity="../../etc/passwd"),
    lambda m: m["items"][0].update(changes=None, event={"id": m["items"][0]["record_id"]}),
], ids=["items-not-list", "item-wrong-types", "version-int", "device-null", "unknown-top-field", "unknown-item-field",
        "outbox-bool", "changes-not-base64", "changes-not-automerge", "changes-empty", "unknown-entity",
        "entity-path", "document-as-event"])
def test_bad_push_messages_are_refused_whole(server: Flask, device: DeviceReplica, mutate: Any) -> None:
    device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    device.store.create("customer", {**CUSTOMER, "name": "第二个客户", "owner_id": device.user["id"]}, device.user["id"])
    message = device.message()
    mutate(message)
    before = server_counts(server)
    assert_envelope(device.push(message), (400, 422, 426))
    assert server_counts(server) == before


def test_unknown_entity_event_is_refused(server: Flask, device: DeviceReplica) -> None:
    device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    message = device.message()
    item = message["items"][0]
    message["items"].append({"entity": "stock_move", "record_id": "0190e0c0-0000-7000-8000-000000000001",
                             "outbox": [99], "event": {"id": "0190e0c0-0000-7000-8000-000000000001", "hlc": "1.0.x"}})
    assert item["entity"] == "customer"
    before = server_counts(server)
    assert_envelope(device.push(message), 422)
    assert server_counts(server) == before


def test_push_naming_another_device_is_forbidden(server: Flask, device: DeviceReplica, other_device: DeviceReplica) -> None:
    device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    message = device.message()
    before = server_counts(server)
    forged = {**message, "device_id": other_device.device_id}
    assert_envelope(device.push(forged), 403)  # A's token, B's id
    assert_envelope(other_device.push(message), 403)  # B's token, A's id
    pull = _pull(device)
    assert_envelope(other_device.pull(pull), 403)
    assert server_counts(server) == before


@pytest.mark.parametrize("header", ["Device not-a-token", "Device ", "Bearer whatever", "", "Device " + "x" * 5000])
def test_push_with_a_bad_token_is_unauthorized(server: Flask, device: DeviceReplica, header: str) -> None:
    device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    before = server_counts(server)
    answer = device.http.post("/sync/v1/push", json=device.message(), headers={"Authorization": header} if header else {})
    assert_envelope(answer, 401)
    assert server_counts(server) == before


def test_replayed_push_is_acked_and_writes_nothing(server: Flask, device: DeviceReplica) -> None:
    device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    message = device.message()
    first = device.push(message)
    assert first.status_code == 200, first.get_data(as_text=True)
    after_first = server_counts(server)
    for _ in range(3):
        again = device.push(copy.deepcopy(message))
        assert again.status_code == 200
        assert again.get_json()["acked"] == first.get_json()["acked"]
        assert server_counts(server) == after_first


def test_reordered_push_is_not_acked_and_writes_nothing_until_its_dependency_arrives(server: Flask, device: DeviceReplica,
                                                           http: FlaskClient, server_token: dict[str, str]) -> None:
    record_id = device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    device.store.update("customer", record_id, {"phone": "0571-2"}, device.user["id"])
    rows = device.store.outbox_batch(200, 10_000_000)
    create, edit = device.message(rows[:1]), device.message(rows[1:])
    before = server_counts(server)
    answer = device.push(edit)  # the edit's dependency is not on the server yet
    assert answer.status_code == 200
    assert answer.get_json()["acked"] == [] and answer.get_json()["rejections"] == []  # stays in the outbox
    after = server_counts(server)
    assert after["customers"] == before["customers"] and after["sync_docs"] == before["sync_docs"]
    assert device.push(create).status_code == 200
    assert device.push(edit).status_code == 200
    assert device.push(create).status_code == 200  # a late duplicate of the first is harmless
    seen = http.get(f"/api/customers/{record_id}", headers=server_token).get_json()
    assert seen["phone"] == "0571-2"


def test_reordered_delivery_through_the_engine_loses_no_edit(server: Flask, device: DeviceReplica,
                                                            http: FlaskClient, server_token: dict[str, str]) -> None:
    record_id = device.store.create("customer", {**CUSTOMER, "owner_id": device.user["id"]}, device.user["id"])
    device.store.update("customer", record_id, {"phone": "0571-2"}, device.user["id"])
    rows = device.store.outbox_batch(200, 10_000_000)
    for message in (device.message(rows[1:]), device.message(rows[:1])):  # the network reordered them
        answer = device.push(message).get_json()
        with device.store.write():
            device.store.ack(answer["acked"])  # what SyncEngine._push does with every answer
    seen = http.get(f"/api/customers/{record_id}", headers=server_token).get_json()
    assert device.store.pending_count() > 0 or seen["phone"] == "0571-2"


def test_fifty_megabyte_bodies_get_413(server: Flask, device: DeviceReplica, http: FlaskClient,
                                       server_token: dict[str, str]) -> None:
    big = b'{"items": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    before = server_counts(server)
    for path, headers in (("/sync/v1/push", {"Authorization": f"Device {device.token}"}),
                          ("/api/customers", server_token), ("/api/devices/enroll", {})):
        assert_envelope(http.post(path, data=big, content_type="application/json", headers=headers), 413)
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")  # 50 MB once inflated, ~50 kB on the wire
    answer = http.post("/sync/v1/push", data=bomb, content_type="application/json",
                       headers={"Authorization": f"Device {device.token}", "Content-Encoding": "gzip"})
    assert_envelope(answer, 413)
    assert server_counts(server) == before
