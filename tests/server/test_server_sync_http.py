"""Enrollment and push/pull over HTTP: real replicas and engines, a transport over the test client."""
from __future__ import annotations

import gzip
import json
import uuid

import pytest

from server import users
from server_testkit import PASSWORD, HttpError, api_token, customer_values, log_size
from sync import SCHEMA_VERSION


def envelope(response):
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


# ---- enrollment ------------------------------------------------------------------------------
def enroll(client, username="rep1", password=PASSWORD, device_id=None, **extra):
    payload = {"username": username, "password": password, "device_id": device_id or str(uuid.uuid4()),
               "name": "ThinkPad", "app_version": "0.1.0", "warehouse": None, **extra}
    return client.post("/api/devices/enroll", json=payload)


def test_enroll_returns_a_device_token_and_the_user(client, store, people):
    device_id = str(uuid.uuid4())
    response = enroll(client, device_id=device_id)
    assert response.status_code == 201
    body = response.get_json()
    assert body["device_id"] == device_id and body["device_token"]
    assert body["user"] == {"id": people["rep1"]["id"], "username": "rep1", "display_name": "Li Na",
                            "role": "sales_rep", "department": None}
    assert body["server_time"].endswith("+00:00")
    assert users.verify_device_token(store, body["device_token"])[0]["id"] == device_id


@pytest.mark.parametrize("username,password", [("rep1", "wrong"), ("ghost", PASSWORD)])
def test_enroll_refuses_bad_credentials(client, store, people, username, password):
    response = enroll(client, username, password)
    assert response.status_code == 401
    assert envelope(response)["code"] == "unauthorized"
    assert store.db.execute("SELECT count(*) FROM devices").fetchone()[0] == 0


@pytest.mark.parametrize("extra", [{"device_id": "x"}, {"colour": "red"}, {"name": 5}])
def test_enroll_validates_the_request(client, people, extra):
    response = enroll(client, **extra)
    assert response.status_code == 422
    assert envelope(response)["fields"]


def test_enroll_device_of_another_user_conflicts(client, people):
    device_id = str(uuid.uuid4())
    first = enroll(client, device_id=device_id).get_json()["device_token"]
    assert enroll(client, "rep2", device_id=device_id).status_code == 409
    again = enroll(client, device_id=device_id)  # the same user re-enrolls: token rotates
    assert again.status_code == 201 and again.get_json()["device_token"] != first


# ---- push and pull ---------------------------------------------------------------------------
def test_offline_work_reaches_the_server_and_another_device(devices, store, people, clock):
    laptop = devices("rep1", compress=True)
    boss = devices("boss")
    customer_id = laptop.store.create("customer", customer_values(owner_id=people["rep1"]["id"], phone="021-5555"), people["rep1"]["id"])
    laptop.store.add_event("visit", {"customer_id": customer_id, "method": "onsite", "content": "首次拜访",
                                     "visited_at": "2026-01-01T09:00:00+08:00"}, people["rep1"]["id"])
    report = laptop.sync()
    assert report.pushed >= 2 and report.rejected == 0
    assert laptop.store.pending_count() == 0
    assert store.get("customer", customer_id)["phone"] == "021-5555"
    assert store.event_row("visit", laptop.store.rows("visit")[0]["id"])["content"] == "首次拜访"
    boss.sync()
    assert boss.store.get("customer", customer_id)["name"] == "上海远航贸易有限公司"
    assert len(boss.store.rows("visit")) == 1
    assert boss.store.digest() == boss.store.recompute_digest()


def test_answers_are_gzipped_when_accepted(client, devices, people):
    laptop = devices("rep1")
    for n in range(5):
        laptop.store.create("customer", customer_values(f"客户{n}", owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    laptop.sync()
    boss, other_boss = devices("boss"), devices("boss")
    zipped = client.post("/sync/v1/pull", headers={"Authorization": f"Device {boss.token}", "Accept-Encoding": "gzip"},
                         json={"schema_version": SCHEMA_VERSION, "device_id": boss.store.site_id, "cursor": ""})
    assert zipped.headers["Content-Encoding"] == "gzip"
    plain = client.post("/sync/v1/pull", headers={"Authorization": f"Device {other_boss.token}"},
                        json={"schema_version": SCHEMA_VERSION, "device_id": other_boss.store.site_id, "cursor": ""})
    assert "Content-Encoding" not in plain.headers
    unzipped = json.loads(gzip.decompress(zipped.get_data()))["records"]
    assert len([r for r in unzipped if r["entity"] == "customer"]) == 5 and unzipped == plain.get_json()["records"]


def test_forged_device_id_is_forbidden_and_writes_nothing(client, devices, store, people):
    laptop_a = devices("rep1")
    laptop_b = devices("rep2")
    laptop_a.store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    before = log_size(store)
    forged = laptop_a.engine  # push A's outbox but name device B in the message
    laptop_a.engine.device_id = laptop_b.store.site_id
    with pytest.raises(HttpError) as caught:
        forged.run_once()
    assert caught.value.status == 403 and caught.value.body["error"]["code"] == "forbidden"
    assert log_size(store) == before
    assert store.rows("customer") == []
    response = client.post("/sync/v1/pull", headers={"Authorization": f"Device {laptop_a.token}"},
                           json={"schema_version": SCHEMA_VERSION, "device_id": laptop_b.store.site_id, "cursor": ""})
    assert response.status_code == 403


def test_replayed_push_changes_nothing(client, devices, store, people):
    laptop = devices("rep1")
    customer_id = laptop.store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    laptop.store.add_event("visit", {"customer_id": customer_id, "method": "phone", "content": "电话",
                                     "visited_at": "2026-01-01T09:00:00+08:00"}, people["rep1"]["id"])
    laptop.sync()
    pushed = [m for path, m in laptop.transport.sent if path.endswith("/push")]
    state = (log_size(store), store.rows("customer"), store.rows("visit"))
    for message in pushed:
        answer = laptop.transport.push(message)
        assert answer["rejections"] == [] and answer["acked"]
    assert (log_size(store), store.rows("customer"), store.rows("visit")) == state


@pytest.mark.parametrize("body,status,code", [
    (b'{"schema_version": "1.0", ', 400, "bad_request"),
    (b"\xff\xfe", 400, "bad_request"),
    (b'[1, 2]', 422, "invalid_message"),
    (b'{"schema_version": "1.0", "device_id": "DEVICE", "items": [], "surprise": 1}', 422, "invalid_message"),
    (b'{"schema_version": "9.0", "device_id": "DEVICE", "items": []}', 426, "incompatible_version"),
])
def test_bad_push_bodies_get_an_envelope_and_write_nothing(client, devices, store, people, body, status, code):
    laptop = devices("rep1")
    before = log_size(store)
    response = client.post("/sync/v1/push", data=body.replace(b"DEVICE", laptop.store.site_id.encode()),
                           headers={"Authorization": f"Device {laptop.token}", "Content-Type": "application/json"})
    assert response.status_code == status
    assert envelope(response)["code"] == code
    assert log_size(store) == before


def test_unknown_item_fields_are_refused_whole(client, devices, store, people):
    laptop = devices("rep1")
    laptop.store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    batch = laptop.store.outbox_batch(10, 10**6)
    import base64
    message = {"schema_version": SCHEMA_VERSION, "device_id": laptop.store.site_id, "items": [{
        "entity": "customer", "record_id": batch[0]["record_id"], "outbox": [batch[0]["seq"]],
        "changes": [base64.b64encode(batch[0]["payload"]).decode()], "colour": "red"}]}
    with pytest.raises(HttpError) as caught:
        laptop.transport.push(message)
    assert caught.value.status == 422 and "items" in caught.value.body["error"]["fields"]
    assert store.rows("customer") == []


def test_oversized_body_is_413_and_writes_nothing(client, devices, store, people):
    laptop = devices("rep1")
    before = log_size(store)
    body = b'{"pad": "' + b"x" * (40 * 1024 * 1024) + b'"}'
    response = client.post("/sync/v1/push", data=body,
                           headers={"Authorization": f"Device {laptop.token}", "Content-Type": "application/json"})
    assert response.status_code == 413
    assert envelope(response)["code"]
    assert log_size(store) == before


def test_gzip_bomb_is_refused(client, devices, store, people):
    laptop = devices("rep1")
    body = gzip.compress(b'{"pad": "' + b"x" * (40 * 1024 * 1024) + b'"}')
    assert len(body) < 32 * 1024 * 1024
    response = client.post("/sync/v1/push", data=body, headers={
        "Authorization": f"Device {laptop.token}", "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 413
    assert envelope(response)["code"] == "payload_too_large"


def test_corrupt_gzip_is_400(client, devices, people):
    laptop = devices("rep1")
    response = client.post("/sync/v1/push", data=b"not gzip at all", headers={
        "Authorization": f"Device {laptop.token}", "Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert envelope(response)["code"] == "bad_request"


@pytest.mark.parametrize("header", [None, "Device ", "Device not-a-token", "Bearer abc"])
def test_sync_needs_a_device_token(client, people, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/sync/v1/pull", json={}, headers=headers)
    assert response.status_code == 401
    assert envelope(response)["code"] == "unauthorized"


def test_api_bearer_token_is_not_a_device_token(client, people):
    token = api_token(client, "rep1")
    response = client.post("/sync/v1/pull", json={}, headers={"Authorization": f"Device {token}"})
    assert response.status_code == 401


def test_revoked_device_gets_401(devices, store, people):
    laptop = devices("rep1")
    laptop.sync()
    users.revoke_device(store, laptop.store.site_id)
    with pytest.raises(HttpError) as caught:
        laptop.sync()
    assert caught.value.status == 401


# ---- scope and rules -------------------------------------------------------------------------
def test_rep_never_sees_another_reps_customer(client, devices, store, people):
    rep1, rep2, boss = devices("rep1"), devices("rep2"), devices("boss")
    own = rep1.store.create("customer", customer_values("李娜的客户", owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    rep1.store.add_event("visit", {"customer_id": own, "method": "phone", "content": "秘密",
                                   "visited_at": "2026-01-01T09:00:00+08:00"}, people["rep1"]["id"])
    pool = store.create("customer", customer_values("公海客户", owner_id=None), people["boss"]["id"])
    rep1.sync()
    rep2.sync()
    boss.sync()
    assert {c["name"] for c in rep2.store.rows("customer")} == {"公海客户"}
    assert rep2.store.rows("visit") == []
    assert {c["name"] for c in rep1.store.rows("customer")} == {"李娜的客户", "公海客户"}
    assert {c["id"] for c in boss.store.rows("customer")} == {own, pool}
    token = api_token(client, "rep2")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/customers/{own}", headers=headers).status_code == 404
    assert client.get(f"/api/customers/{pool}", headers=headers).status_code == 200
    assert [c["id"] for c in client.get("/api/customers", headers=headers).get_json()["items"]] == [pool]
    assert client.get("/api/visits", headers=headers).get_json()["total"] == 0
    boss_headers = {"Authorization": f"Bearer {api_token(client, 'boss')}"}
    assert client.get(f"/api/customers/{own}", headers=boss_headers).status_code == 200


def test_warehouse_sees_no_customers(devices, store, people):
    store.create("customer", customer_values(owner_id=None), people["boss"]["id"])
    clerk = devices("clerk")
    clerk.sync()
    assert clerk.store.rows("customer") == []


def test_transfer_moves_the_customer_between_reps(devices, store, people):
    rep1, rep2 = devices("rep1"), devices("rep2")
    customer_id = store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["boss"]["id"])
    rep1.sync()
    rep2.sync()
    assert rep2.store.rows("customer") == []
    store.update("customer", customer_id, {"owner_id": people["rep2"]["id"]}, people["boss"]["id"])
    rep1.sync()
    rep2.sync()
    assert rep1.store.rows("customer") == []
    assert rep2.store.get("customer", customer_id)["owner_id"] == people["rep2"]["id"]


def test_rep_may_not_give_a_customer_away(devices, store, people):
    rep1 = devices("rep1")
    customer_id = rep1.store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    rep1.sync()
    rep1.store.update("customer", customer_id, {"owner_id": people["rep2"]["id"], "phone": "138"}, people["rep1"]["id"])
    assert rep1.sync().rejected >= 1
    row = store.get("customer", customer_id)
    assert row["owner_id"] == people["rep1"]["id"] and row["phone"] == "138"
    assert rep1.store.get("customer", customer_id)["owner_id"] == people["rep1"]["id"]  # compensated
    [rejection] = rep1.store.rejections()
    assert (rejection["field"], rejection["reason"]) == ("owner_id", "owner_not_allowed")


def test_rep_may_not_create_a_customer_for_someone_else(devices, store, people):
    rep1 = devices("rep1")
    customer_id = rep1.store.create("customer", customer_values(owner_id=people["rep2"]["id"]), people["rep1"]["id"])
    assert rep1.sync().rejected >= 1
    assert store.rows("customer") == []
    assert rep1.store.rows("customer") == []  # dropped on the device, listed as a sync issue
    [rejection] = rep1.store.rejections()  # kept once, however often it was delivered
    assert rejection["record_id"] == customer_id and rejection["kind"] == "record"


def test_rep_may_take_and_release_pool_customers(devices, store, people):
    rep1 = devices("rep1")
    customer_id = store.create("customer", customer_values(owner_id=None), people["boss"]["id"])
    rep1.sync()
    rep1.store.update("customer", customer_id, {"owner_id": people["rep1"]["id"]}, people["rep1"]["id"])
    assert rep1.sync().rejected == 0
    assert store.get("customer", customer_id)["owner_id"] == people["rep1"]["id"]
    rep1.store.update("customer", customer_id, {"owner_id": None}, people["rep1"]["id"])
    assert rep1.sync().rejected == 0
    assert store.get("customer", customer_id)["owner_id"] is None


def test_manager_may_assign_customers(devices, store, people):
    manager = users.create_user(store, "mgr", PASSWORD, "sales_manager")
    laptop = devices("mgr")
    customer_id = laptop.store.create("customer", customer_values(owner_id=people["rep2"]["id"]), manager["id"])
    assert laptop.sync().rejected == 0
    assert store.get("customer", customer_id)["owner_id"] == people["rep2"]["id"]
