"""Local login works offline against the cached password hash; pages wait for enrollment and login."""
from __future__ import annotations

import pytest
from werkzeug.security import check_password_hash

from client.auth import authenticate

PASSWORD = "s3cret-pw"


@pytest.mark.parametrize("path", ["/", "/customers", "/customers/new", "/due", "/sync-issues", "/login"])
def test_pages_redirect_to_enroll_until_enrolled(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.location.endswith("/enroll")


def test_enroll_page_is_shown_when_not_enrolled(app):
    response = app.test_client().get("/enroll", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    assert 'name="server_url"' in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/customers", "/due", "/sync-issues", "/customers/new"])
def test_pages_need_login_after_enrollment(app, enrolled, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert "/login" in response.location


def test_password_hash_is_cached_locally(store, enrolled):
    row = store.db.execute("SELECT password_hash FROM local_users WHERE username = ?", [enrolled["username"]]).fetchone()
    assert row[0] != PASSWORD and check_password_hash(row[0], PASSWORD)
    assert authenticate(store, enrolled["username"], PASSWORD)["id"] == enrolled["id"]
    assert authenticate(store, enrolled["username"], "wrong") is None


def test_api_login_offline_gives_a_bearer_token(app, enrolled):
    # the device's server URL is a closed port: login must not need it
    client = app.test_client()
    response = client.post("/api/login", json={"username": enrolled["username"], "password": PASSWORD})
    assert response.status_code == 200
    token = response.get_json()["token"]
    status = client.get("/api/sync/status", headers={"Authorization": f"Bearer {token}"})
    assert status.status_code == 200
    assert status.get_json()["online"] is False


def test_token_is_stored_as_a_hash(app, store, enrolled):
    token = app.test_client().post("/api/login", json={"username": enrolled["username"], "password": PASSWORD}).get_json()["token"]
    hashes = [r[0] for r in store.db.execute("SELECT token_hash FROM local_tokens")]
    assert len(hashes) == 1 and token not in hashes


@pytest.mark.parametrize("body,status,code", [
    ({"username": "lina", "password": "nope"}, 401, "unauthorized"),
    ({"username": "nobody", "password": PASSWORD}, 401, "unauthorized"),
    ({"username": "lina"}, 422, "invalid"),
])
def test_api_login_errors_use_the_envelope(app, enrolled, body, status, code):
    response = app.test_client().post("/api/login", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_api_needs_a_token(app, enrolled):
    response = app.test_client().get("/api/sync/status", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_page_login_and_logout(pages):
    assert pages.get("/customers").status_code == 200
    response = pages.post("/logout")
    assert response.status_code == 302
    assert pages.get("/customers").status_code == 302


def test_page_login_wrong_password(app, enrolled):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": "lina", "password": "bad", "csrf_token": token})
    assert response.status_code == 401
    assert client.get("/customers").status_code == 302


def test_forms_without_csrf_token_are_refused(pages):
    response = pages.client.post("/customers/new", data={"kind": "company", "name": "X"})
    assert response.status_code == 400
