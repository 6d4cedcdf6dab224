"""Users, API login and bearer tokens, page sessions, CSRF, the app factory's first start."""
from __future__ import annotations

import os

import pytest

from server import cli, create_app, db, users
from server_testkit import ADMIN_PASSWORD, PASSWORD, api_token


def test_api_login_returns_a_token_that_authenticates(client, people):
    token = api_token(client, "rep1")
    response = client.get("/api/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "total": 0}


@pytest.mark.parametrize("payload", [
    {"username": "rep1", "password": "wrong"},
    {"username": "nobody", "password": PASSWORD},
])
def test_api_login_refuses_bad_credentials(client, people, payload):
    response = client.post("/api/login", json=payload)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("body", ['{"username": "rep1"', '[]', '{"username": "rep1", "password": "x", "extra": 1}'])
def test_api_login_malformed_is_an_envelope(client, people, body):
    response = client.post("/api/login", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Device abc"])
def test_api_needs_a_valid_bearer_token(client, people, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/customers", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_inactive_user_token_stops_working(client, store, people):
    token = api_token(client, "rep1")
    with store.write():
        store.db.execute("UPDATE users SET active = 0 WHERE username = 'rep1'")
    assert client.get("/api/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_are_stored_hashed(client, store, people):
    token = api_token(client, "rep1")
    stored = [r[0] for r in store.db.execute("SELECT token_hash FROM api_tokens")]
    assert token not in stored and len(stored) == 1


@pytest.mark.parametrize("path", ["/customers", "/devices", "/sync-issues", "/customers/x"])
def test_pages_require_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_page_login_and_logout(client, auth):
    assert auth.login(password="wrong").status_code == 401
    response = auth.login()
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/customers").status_code == 200
    response = client.post("/logout", data={"csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert client.get("/customers").status_code == 302


def test_login_redirects_to_next_but_never_off_site(client, auth):
    token = auth.csrf("/login")
    response = client.post("/login?next=/devices", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.location == "/devices"
    client.post("/logout", data={"csrf_token": auth.csrf()})
    token = auth.csrf("/login")
    response = client.post("/login?next=//evil.example/x", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.location == "/"


@pytest.mark.parametrize("token", [None, "forged"])
def test_page_posts_need_the_csrf_token(client, auth, token):
    auth.login()
    data = {"csrf_token": token} if token else {}
    assert client.post("/logout", data=data).status_code == 400
    assert client.get("/customers").status_code == 200  # still logged in


def test_login_form_needs_the_csrf_token(client):
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 400


def test_rep_may_not_open_admin_pages(client, auth, people):
    auth.login("rep1", PASSWORD)
    assert client.get("/devices").status_code == 403
    assert client.get("/sync-issues").status_code == 403


def test_first_start_generates_and_prints_admin_password_once(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FIELDBOOK_ADMIN_PASSWORD", raising=False)
    data_dir = str(tmp_path / "fresh")
    app = create_app({"TESTING": True, "DATA_DIR": data_dir})
    generated = app.config["GENERATED_ADMIN_PASSWORD"]
    assert generated and generated in capsys.readouterr().out
    store = db.open_store(data_dir)
    assert users.authenticate(store, "admin", generated)["role"] == "admin"
    again = create_app({"TESTING": True, "DATA_DIR": data_dir})
    assert again.config["GENERATED_ADMIN_PASSWORD"] is None
    assert generated not in capsys.readouterr().out
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]  # persisted, sessions survive restarts
    assert oct(os.stat(os.path.join(data_dir, "secret_key")).st_mode & 0o777) == "0o600"
    db.close_store(data_dir)


def test_admin_password_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDBOOK_ADMIN_PASSWORD", "from-env-pw")
    data_dir = str(tmp_path / "env")
    app = create_app({"TESTING": True, "DATA_DIR": data_dir})
    assert app.config["GENERATED_ADMIN_PASSWORD"] is None
    assert users.authenticate(db.open_store(data_dir), "admin", "from-env-pw") is not None
    assert app.config["MAX_CONTENT_LENGTH"] == 32 * 1024 * 1024
    db.close_store(data_dir)


def test_cli_add_user(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDBOOK_ADMIN_PASSWORD", "x-admin-pw")
    data_dir = str(tmp_path / "cli")
    user = cli.add_user(data_dir, "lina", "pw123456", "sales_rep", department="East", display_name="Li Na")
    assert user["role"] == "sales_rep" and user["department"] == "East"
    with pytest.raises(ValueError, match="already exists"):
        cli.add_user(data_dir, "LiNa", "pw123456", "boss")
    with pytest.raises(ValueError, match="Unknown role 'king'"):
        cli.add_user(data_dir, "other", "pw123456", "king")
    with pytest.raises(ValueError, match="Unknown role"):
        cli.add_user(data_dir, "other", "pw123456", "admin")
    store = db.open_store(data_dir)
    assert users.authenticate(store, "lina", "pw123456")["display_name"] == "Li Na"
    assert users.authenticate(store, "admin", "x-admin-pw") is not None
    db.close_store(data_dir)


def test_every_role_code_can_be_created(store):
    for role in users.ROLES:
        assert users.create_user(store, f"u_{role}", PASSWORD, role)["role"] == role


def test_openapi_document_covers_entities_login_enroll_and_sync(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/login", "/api/customers", "/api/customers/{id}", "/api/contacts", "/api/visits",
                 "/api/devices/enroll", "/sync/v1/push", "/sync/v1/pull"):
        assert path in spec["paths"], path
    push = spec["paths"]["/sync/v1/push"]["post"]
    assert "items" in push["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"401", "403", "413", "422"} <= set(push["responses"])


@pytest.mark.parametrize("method,path", [
    ("get", "/api/nothing-here"), ("put", "/api/login"), ("get", "/sync/v1/push"), ("post", "/sync/v2/push"),
])
def test_unknown_api_paths_and_methods_get_the_envelope(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code in (404, 405)
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}
