"""Sync from the client: offline is a normal state, conflicts are resolved on the page, sync issues."""
from __future__ import annotations

import re

import sqlite_utils

from client import worker as worker_mod
from client.worker import backoff_delay, run_sync
from shared.schemas import REGISTRY
from sync import InMemoryTransport, Principal, ReplicaStore, ServerStore, SyncEngine, SyncServer


def test_sync_status_while_offline(app, pages, store, enrolled):
    store.create("customer", {"kind": "company", "name": "离线客户"}, enrolled["id"])
    api = app.test_client()
    token = api.post("/api/login", json={"username": "lina", "password": "s3cret-pw"}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    response = api.post("/api/sync", headers=auth)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "offline"
    status = api.get("/api/sync/status", headers=auth).get_json()
    assert status["online"] is False and status["pending"] == store.pending_count() > 0 and status["last_success_at"] is None
    assert status["last_attempt_at"] and status["last_error"] and status["rejections"] == 0
    for path in ("/customers", "/due", "/sync-issues", "/syncbar"):
        page = pages.get(path)
        assert page.status_code == 200
        assert 'class="badge offline"' in page.get_data(as_text=True)
    bar = pages.post("/syncbar/sync", headers={"HX-Request": "true"})
    assert bar.status_code == 200 and 'id="syncbar"' in bar.get_data(as_text=True)
    assert "Traceback" not in bar.get_data(as_text=True)


def test_sync_now_from_the_page_with_csrf_header(pages):
    response = pages.client.post("/api/sync", headers={"X-CSRF-Token": pages.token})
    assert response.status_code == 503  # session-authenticated, offline
    refused = pages.client.post("/api/sync")
    assert refused.status_code == 403


def test_backoff_doubles_to_five_minutes():
    assert [backoff_delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]


def test_worker_backs_off_while_offline_and_resets(app, store, enrolled, monkeypatch):
    worker = app.extensions["fieldbook_worker"]
    worker._job()
    worker._job()
    assert worker.failures == 2
    assert worker.scheduler.jobs[0].interval == 10
    monkeypatch.setattr(worker_mod, "run_sync", lambda store, timeout=30.0: {"pushed": 0, "pulled": 0, "rejected": 0})
    worker._job()
    assert worker.failures == 0
    assert worker.scheduler.jobs[0].interval == 30


class Hub:
    """An in-process server with the client's store and a second replica attached."""

    def __init__(self, clock):
        self.server = SyncServer(ServerStore(sqlite_utils.Database(memory=True), REGISTRY, clock))
        self.clock = clock

    def transport(self, user, store):
        return InMemoryTransport(self.server, Principal(user, store.site_id))


def test_sync_through_run_sync_records_success(app, pages, store, enrolled, clock):
    hub = Hub(clock)
    store.create("customer", {"kind": "company", "name": "同步客户"}, enrolled["id"])
    report = run_sync(store, transport=hub.transport(enrolled["id"], store))
    assert report["pushed"] >= 1 and store.pending_count() == 0
    html = pages.get("/customers").get_data(as_text=True)
    assert 'class="badge online"' in html and 'data-pending="0"' in html


def test_conflict_restore_and_dismiss_on_the_page(pages, store, enrolled, clock):
    hub = Hub(clock)
    other = ReplicaStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
    mine = SyncEngine(store, hub.transport(enrolled["id"], store), clock)
    theirs = SyncEngine(other, hub.transport("u-wang", other), clock)
    cid = store.create("customer", {"kind": "company", "name": "冲突客户", "phone": "0", "mobile": "0"}, enrolled["id"])
    mine.run_once()
    theirs.run_once()
    clock.advance(1000)
    store.update("customer", cid, {"phone": "111", "mobile": "m-mine"}, enrolled["id"])
    clock.advance(1000)
    other.update("customer", cid, {"phone": "222", "mobile": "m-theirs"}, "u-wang")
    mine.run_once()
    theirs.run_once()
    mine.run_once()
    row = store.get("customer", cid)
    assert row["phone"] == "222"
    kept = {c["field"]: c for c in row["conflicts"]}
    assert kept["phone"]["value"] == "111" and kept["mobile"]["value"] == "m-mine"
    html = pages.get(f"/customers/{cid}").get_data(as_text=True)
    assert f"/conflicts/{kept['phone']['id']}/restore" in html and "李娜" in html
    assert pages.post(f"/customers/{cid}/conflicts/{kept['phone']['id']}/restore").status_code == 302
    assert pages.post(f"/customers/{cid}/conflicts/{kept['mobile']['id']}/dismiss").status_code == 302
    row = store.get("customer", cid)
    assert row["phone"] == "111" and row["mobile"] == "m-theirs" and row["conflicts"] == []
    assert store.pending_for("customer", cid) > 0
    html = pages.get(f"/customers/{cid}").get_data(as_text=True)
    assert "/conflicts/" not in html


def test_sync_issues_page_lists_and_dismisses(pages, store):
    with store.write():
        store.add_rejection({"id": "rej-1", "entity": "customer", "record_id": "c-1", "field": "owner_id",
                             "kind": "field", "reason": "not_allowed", "created_at": "2026-01-01T08:00:00+00:00"})
    html = pages.get("/sync-issues").get_data(as_text=True)
    assert "not_allowed" in html and "/sync-issues/rej-1/dismiss" in html
    assert 'class="issues"' in pages.get("/customers").get_data(as_text=True)
    assert pages.post("/sync-issues/rej-1/dismiss").status_code == 302
    assert store.rejections() == []
    assert "/sync-issues/rej-1/dismiss" not in pages.get("/sync-issues").get_data(as_text=True)


def test_record_sync_badge_refreshes_after_sync_now(live_server, app):
    url, server_store = live_server
    from client import db
    from client.enrollment import enroll

    store = db.store_for(app.config["DATA_DIR"])
    enroll(store, url, "lina", "rep-pw")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "lina", "password": "rep-pw", "csrf_token": token})
    user_id = db.get_device(store)["user"]["id"]
    cid = store.create("customer", {"kind": "company", "name": "待同步客户"}, user_id)
    page = client.get(f"/customers/{cid}").get_data(as_text=True)
    badge = re.search(r'<span id="record-sync"[^>]*>', page).group(0)
    assert f'hx-get="/customers/{cid}/sync-state"' in badge and "fb:synced from:body" in badge
    assert 'data-pending="0"' not in badge
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    synced = client.post("/syncbar/sync", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert synced.status_code == 200 and synced.headers["HX-Trigger"] == "fb:synced"
    assert store.pending_count() == 0 and "待同步客户" in [r["name"] for r in server_store.rows("customer")]
    fragment = client.get(f"/customers/{cid}/sync-state", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<span id="record-sync"') and 'data-pending="0"' in fragment
    assert "<html" not in fragment
    assert client.get("/customers/no-such-id/sync-state").status_code == 404
