"""A full disk on the device during a sync: a clear 507 envelope, the error recorded, nothing lost."""
from __future__ import annotations

from client import db
from client.enrollment import enroll


def test_sync_now_on_a_full_disk_is_a_507_and_recovers(live_server, app, store):
    url, server_store = live_server
    enroll(store, url, "lina", "rep-pw", "laptop")
    with server_store.write():
        for n in range(400):  # several pull pages' worth, owned by lina so they reach her device
            server_store.create("customer", {"kind": "company", "name": f"满盘客户{n:03d}", "remark": "备注" * 200,
                                             "owner_id": db.get_device(store)["user"]["id"]}, "admin")
    client = app.test_client()
    token = client.post("/api/login", json={"username": "lina", "password": "rep-pw"}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 20}")  # room for a page or two, not for all
    answer = client.post("/api/sync", headers=auth)
    assert answer.status_code == 507, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "disk_full"
    assert (db.get_sync_status(store)["last_error"] or "").startswith("disk_full")
    assert store.digest() == store.recompute_digest()  # what was rolled back is not counted
    store.db.execute("PRAGMA max_page_count = 1073741823")
    assert client.post("/api/sync", headers=auth).status_code == 200
    names = {r["name"] for r in store.rows("customer")}
    assert {f"满盘客户{n:03d}" for n in range(400)} <= names
