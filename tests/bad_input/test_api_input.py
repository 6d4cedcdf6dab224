"""Hostile input on the REST API of both apps: clear 4xx envelopes, nothing written; SQL and HTML
in every customer text field stored and returned verbatim and escaped on every page."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import ADMIN_PASSWORD, PASSWORD, assert_envelope, client_counts, server_counts

TEXT_FIELDS = ("name", "level", "source", "industry", "phone", "mobile", "wechat", "qq", "province", "city",
               "address", "remark")
HOSTILE = "<script>alert('x')</script>'; DROP TABLE customers; --\"<img src=x onerror=alert(1)>"
LIMITS = {"phone": 50, "mobile": 50, "qq": 30}


def _apps(server: Flask, http: FlaskClient, server_token: dict[str, str], client_app_: Flask, client_http: FlaskClient,
          client_token: dict[str, str]) -> list[tuple[str, FlaskClient, dict[str, str], Any]]:
    return [("server", http, server_token, lambda: server_counts(server)),
            ("client", client_http, client_token, lambda: client_counts(client_app_))]


BAD_CUSTOMERS: list[tuple[str, Any, int]] = [
    ("wrong-type-name", {"kind": "company", "name": 123}, 422),
    ("wrong-type-bool", {"kind": "company", "name": "x", "is_hot": "maybe"}, 422),
    ("null-name", {"kind": "company", "name": None}, 422),
    ("unknown-kind", {"kind": "alien", "name": "x"}, 422),
    ("unknown-field", {"kind": "company", "name": "x", "balance": 1e9}, 422),
    ("server-field", {"kind": "company", "name": "x", "id": "forged"}, 422),
    ("nested", {"kind": "company", "name": {"$gt": ""}}, 422),
    ("list", [{"kind": "company", "name": "x"}], 400),
    ("too-long", {"kind": "company", "name": "x" * 201}, 422),
    ("bad-email", {"kind": "company", "name": "x", "email": "not-an-email"}, 422),
]


@pytest.mark.parametrize("case, body, status", BAD_CUSTOMERS, ids=[c[0] for c in BAD_CUSTOMERS])
def test_bad_customer_bodies(server: Flask, http: FlaskClient, server_token: dict[str, str], client_app_: Flask,
                             client_http: FlaskClient, client_token: dict[str, str], case: str, body: Any, status: int) -> None:
    for name, web, headers, counts in _apps(server, http, server_token, client_app_, client_http, client_token):
        before = counts()
        error = assert_envelope(web.post("/api/customers", json=body, headers=headers), status)
        if status == 422:
            assert error["fields"], f"{name}: {case} names no field"
        assert counts() == before, f"{name}: {case} wrote something"


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"\xff\xfe", b"null", b"42"])
def test_malformed_json(server: Flask, http: FlaskClient, server_token: dict[str, str], client_app_: Flask,
                        client_http: FlaskClient, client_token: dict[str, str], raw: bytes) -> None:
    for name, web, headers, counts in _apps(server, http, server_token, client_app_, client_http, client_token):
        before = counts()
        for method, path in (("POST", "/api/customers"), ("POST", "/api/visits"), ("POST", "/api/login")):
            answer = web.open(path, method=method, data=raw, content_type="application/json", headers=headers)
            assert_envelope(answer, (400, 422))
        assert counts() == before, name


def test_bad_visits_and_patches(server: Flask, http: FlaskClient, server_token: dict[str, str], client_app_: Flask,
                                client_http: FlaskClient, client_token: dict[str, str]) -> None:
    for name, web, headers, counts in _apps(server, http, server_token, client_app_, client_http, client_token):
        customer = web.post("/api/customers", json={"kind": "company", "name": f"{name}客户"}, headers=headers)
        assert customer.status_code == 201, customer.get_data(as_text=True)
        cid = customer.get_json()["id"]
        before = counts()
        for body in ({"customer_id": cid, "method": "telepathy", "content": "x", "visited_at": "2026-01-01T10:00:00+08:00"},
                     {"customer_id": cid, "method": "phone", "content": "x", "visited_at": "yesterday"},
                     {"customer_id": cid, "method": "phone", "content": "", "visited_at": "2026-01-01T10:00:00+08:00"},
                     {"customer_id": cid, "method": "phone", "content": "x", "visited_at": "2026-01-01T10:00:00+08:00",
                      "author_id": "forged"}):
            assert_envelope(web.post("/api/visits", json=body, headers=headers), 422)
        assert_envelope(web.post("/api/visits", json={"customer_id": "no-such", "method": "phone", "content": "x",
                                                      "visited_at": "2026-01-01T10:00:00+08:00"}, headers=headers), (404, 422))
        for body in ({"name": ""}, {"is_hot": [1]}, {"owner_id": 5}, {"nonsense": 1}, {"kind": None}):
            assert_envelope(web.patch(f"/api/customers/{cid}", json=body, headers=headers), 422)
        assert_envelope(web.patch("/api/customers/no-such-id", json={"phone": "1"}, headers=headers), 404)
        for params in ({"per_page": 10_000}, {"page": 0}, {"page": "abc"}, {"q": "x" * 500}):
            assert_envelope(web.get("/api/customers", query_string=params, headers=headers), 422)
        assert counts() == before, name


def test_unauthenticated_and_forged_tokens(server: Flask, http: FlaskClient, client_app_: Flask, client_http: FlaskClient) -> None:
    for web, counts in ((http, lambda: server_counts(server)), (client_http, lambda: client_counts(client_app_))):
        before = counts()
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Device nope"}, {"Authorization": "Bearer "}):
            assert_envelope(web.post("/api/customers", json={"kind": "company", "name": "x"}, headers=headers), 401)
        assert_envelope(web.post("/api/login", json={"username": "lina", "password": "wrong"}), 401)
        assert counts() == before


def test_fifty_megabyte_body_on_the_client(client_app_: Flask, client_http: FlaskClient, client_token: dict[str, str]) -> None:
    before = client_counts(client_app_)
    big = b'{"kind": "company", "name": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    assert_envelope(client_http.post("/api/customers", data=big, content_type="application/json", headers=client_token), 413)
    assert client_counts(client_app_) == before


def _hostile_values() -> dict[str, Any]:
    values: dict[str, Any] = {"kind": "company"}
    for name in TEXT_FIELDS:
        values[name] = HOSTILE[: LIMITS.get(name, 500)]
    values["email"] = "o'brien@example.com"  # the Email field allows a quote, not markup
    return values


def _page_login(web: FlaskClient, username: str, password: str) -> None:
    html = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    answer = web.post("/login", data={"username": username, "password": password, **({"csrf_token": token.group(1)} if token else {})})
    assert answer.status_code in (200, 302), answer.get_data(as_text=True)[:300]


def test_sql_and_html_in_every_text_field_verbatim_and_escaped(
        server: Flask, http: FlaskClient, server_token: dict[str, str], client_app_: Flask,
        client_http: FlaskClient, client_token: dict[str, str]) -> None:
    values = _hostile_values()
    for name, web, headers, _counts in _apps(server, http, server_token, client_app_, client_http, client_token):
        created = web.post("/api/customers", json=values, headers=headers)
        assert created.status_code == 201, f"{name}: {created.get_data(as_text=True)}"
        cid = created.get_json()["id"]
        got = web.get(f"/api/customers/{cid}", headers=headers).get_json()
        for field, value in values.items():
            assert got[field] == value, f"{name}: {field} not returned verbatim"
        listed = web.get("/api/customers", query_string={"q": "DROP TABLE"}, headers=headers).get_json()
        assert [c["id"] for c in listed["items"]] == [cid]
        visit = web.post("/api/visits", json={"customer_id": cid, "method": "other", "content": HOSTILE,
                                              "visited_at": "2026-01-01T10:00:00+08:00"}, headers=headers)
        assert visit.status_code == 201 and visit.get_json()["content"] == HOSTILE

        pages = (http if name == "server" else client_http).application.test_client()
        if name == "server":
            _page_login(pages, "admin", ADMIN_PASSWORD)
        else:
            _page_login(pages, "lina", PASSWORD)
        for path in ("/customers", f"/customers/{cid}", "/customers?q=DROP+TABLE", f"/customers/{cid}/edit"):
            page = pages.get(path)
            if page.status_code == 404 and path.endswith("/edit"):
                continue  # the server has no edit form
            html = page.get_data(as_text=True)
            assert page.status_code == 200, f"{name} {path}: {page.status_code}"
            assert "<script>alert" not in html and "<img src=x" not in html, f"{name} {path} renders raw HTML"
            assert "&lt;script&gt;alert" in html or "&lt;img src=x" in html, f"{name} {path} does not show the value"


def _log(server: Flask, action: str | None = None) -> list[dict[str, Any]]:
    """The operation log's lines (of one action, or all), newest first (server/oplog.py, table op_log)."""
    with server.app_context():
        from server import db, oplog

        return oplog.query(db.get_store(), action=action, limit=100)[0]


def test_refused_attempts_are_in_the_operation_log(server: Flask, http: FlaskClient, device: Any, other_device: Any) -> None:
    # a forged device token
    assert_envelope(device.push(device.message([]), token="forged-device-token"), 401)
    assert_envelope(device.pull({"schema_version": 1, "device_id": device.device_id, "cursor": ""}, token="forged"), 401)
    # no device token at all
    assert_envelope(http.post("/sync/v1/push", json=device.message([])), 401)
    # lina's own token, but a message naming wang's device
    assert_envelope(device.push({**device.message([]), "device_id": other_device.device_id}), 403)

    lines = _log(server, "sync_refused")
    reasons = sorted(line["detail"]["reason"] for line in lines)
    assert reasons == ["bad_device_token", "bad_device_token", "device_mismatch", "no_device_token"], lines
    mismatch = next(line for line in lines if line["detail"]["reason"] == "device_mismatch")
    assert mismatch["username"] == "lina" and mismatch["detail"]["device"] == device.device_id
    assert mismatch["target"] == "/sync/v1/push"
    forged = [line for line in lines if line["detail"]["reason"] == "bad_device_token"]
    assert {line["target"] for line in forged} == {"/sync/v1/push", "/sync/v1/pull"}
    assert all(line["user_id"] is None and line["at"] for line in forged)

    # a wrong password on the REST login is logged too, with the name that was tried
    assert_envelope(http.post("/api/login", json={"username": "lina", "password": "wrong-password"}), 401)
    failed = _log(server, "login_failed")
    assert [(line["target"], line["detail"]["via"]) for line in failed] == [("lina", "api")]


def test_bad_bearer_token_is_in_the_operation_log(server: Flask, http: FlaskClient) -> None:
    assert_envelope(http.get("/api/customers", headers={"Authorization": "Bearer forged-token"}), 401)
    lines = _log(server)
    assert any("/api/customers" in str(line["target"]) for line in lines), lines  # any action name will do


def test_control_characters_in_search_are_a_422_not_a_500(http: FlaskClient, server_token: dict[str, str]) -> None:
    """A NUL ends an FTS5 string early: it once turned a search into a 500 (found by schemathesis)."""
    for q in ("明达\x00机械", "*Ú¼\x00x", "a\x1fb"):
        answer = http.get("/api/customers", query_string={"q": q}, headers=server_token)
        assert_envelope(answer, 422)
        assert "q" in answer.get_json()["error"]["fields"]
    assert http.get("/api/customers", query_string={"q": "明达机械"}, headers=server_token).status_code == 200
