"""Enrollment against the real server app (``live_server`` in conftest)."""
from __future__ import annotations

import pytest

from client import db
from client.enrollment import enroll, register_device
from client.worker import sync_lock
from sync.errors import TransportUnavailable


def test_enroll_with_unreachable_server_saves_nothing(store):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(TransportUnavailable):
        register_device(store, url, "lina", "pw", timeout=2)
    assert db.get_device(store) is None
    assert store.db.execute("SELECT count(*) FROM local_users").fetchone()[0] == 0


def test_enroll_page_reports_unreachable_server(app):
    client = app.test_client()
    html = client.get("/enroll").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/enroll", data={"server_url": "http://127.0.0.1:9", "username": "lina", "password": "pw", "csrf_token": token})
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/customers").location.endswith("/enroll")


def test_enroll_against_real_server(live_server, app, store):
    url, server_store = live_server
    report = enroll(store, url, "lina", "rep-pw", name="laptop")
    assert set(report) >= {"pushed", "pulled", "rejected", "conflicts", "evicted", "bytes", "duration_ms"}
    device = db.get_device(store)
    assert device["server_url"] == url and device["user"]["username"] == "lina" and device["device_token"]
    assert db.get_sync_status(store)["online"] is True
    # the cached hash lets the user log in with the server gone
    client = app.test_client()
    token = client.post("/api/login", json={"username": "lina", "password": "rep-pw"}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/customers", json={"kind": "company", "name": "客户端新建客户"}, headers=auth)
    synced = client.post("/api/sync", headers=auth)
    assert synced.status_code == 200 and synced.get_json()["pushed"] >= 1
    names = [r["name"] for r in server_store.rows("customer")]
    assert "客户端新建客户" in names
    assert client.get("/api/sync/status", headers=auth).get_json()["pending"] == 0


def _enroll_form(client, url, password):
    client.get("/lang/en")
    token = client.get("/enroll").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/enroll", data={"server_url": url, "username": "lina", "password": password, "csrf_token": token})


def test_enroll_page_against_real_server(live_server, app, store):
    url, server_store = live_server
    for n in range(3):
        server_store.create("customer", {"kind": "company", "name": f"公海客户{n}"}, "admin")
    client = app.test_client()
    refused = _enroll_form(client, url, "wrong")
    assert refused.status_code == 400 and db.get_device(store) is None
    response = _enroll_form(client, url, "rep-pw")
    assert response.status_code == 302 and response.location.endswith("/enroll/progress")
    # HEAD's store shares one connection between threads: touch it only once the first sync is over.
    app.extensions["fieldbook_worker"]._first.join(timeout=30)
    assert db.get_device(store) is not None
    page = client.get("/enroll/progress").get_data(as_text=True)
    directory = server_store.db.execute("SELECT count(*) FROM directory_users").fetchone()[0]  # the org directory
    stages = server_store.db.execute("SELECT count(*) FROM opportunity_stages").fetchone()[0]  # the funnel's stages
    reference = directory + stages + 1  # + the rep's own user_rights record
    assert stages == 6 and 'data-state="done"' in page and f"{3 + reference} records received" in page and "hx-trigger" not in page.split('id="first-sync"')[1]
    assert client.get("/customers").status_code == 200  # logged in by the enrollment
    assert "公海客户0" in client.get("/customers").get_data(as_text=True)


def test_enroll_page_shows_first_sync_progress_while_it_runs(live_server, app, store):
    url, _server_store = live_server
    client = app.test_client()
    worker = app.extensions["fieldbook_worker"]
    lock = sync_lock(store)
    with lock:  # the background first sync waits here, as if the download were slow
        response = _enroll_form(client, url, "rep-pw")
        assert response.status_code == 302 and response.location.endswith("/enroll/progress")
        page = client.get("/enroll/progress").get_data(as_text=True)
        assert 'data-state="running"' in page and 'hx-get="/enroll/status"' in page and "0 records received" in page
        for n in range(2):  # records arriving are counted while the sync runs
            store.create("customer", {"kind": "company", "name": f"到达的客户{n}"}, "u-x")
        status = client.get("/enroll/status", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert status.lstrip().startswith('<div id="first-sync"') and "2 records received" in status
        assert 'hx-trigger="every 1s"' in status
    worker._first.join(timeout=30)
    done = client.get("/enroll/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-state="done"' in done and "hx-trigger" not in done


def test_first_sync_failure_is_shown_and_left_to_the_worker(app, enrolled):
    client = app.test_client()
    client.post("/login", data={"username": "lina", "password": "s3cret-pw",
                                "csrf_token": client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]})
    worker = app.extensions["fieldbook_worker"]
    worker.start_first_sync().join(timeout=30)  # the device points at a closed port
    page = client.get("/enroll/progress").get_data(as_text=True)
    assert 'data-state="failed"' in page and "Traceback" not in page
    assert worker.failures == 1
