"""Kept conflicts of contacts on the customer page; localized HTML error pages next to the JSON envelope."""
from __future__ import annotations

import pytest

from server_testkit import PASSWORD, api_token, customer_values


def test_contact_conflicts_shown_restored_and_dismissed(client, auth, devices, store, people, clock):
    rep = people["rep1"]["id"]
    customer_id = store.create("customer", customer_values(owner_id=rep), people["boss"]["id"])
    contact_id = store.create("contact", {"customer_id": customer_id, "name": "陈经理", "mobile": "0", "title": "0"}, rep)
    laptop, boss = devices("rep1"), devices("boss")
    laptop.sync()
    boss.sync()
    laptop.store.update("contact", contact_id, {"mobile": "138-1111", "title": "采购经理"}, rep)
    clock.advance(60_000)
    boss.store.update("contact", contact_id, {"mobile": "139-2222", "title": "总经理"}, people["boss"]["id"])
    laptop.sync()
    boss.sync()
    kept = {k["field"]: k for k in store.get("contact", contact_id)["conflicts"]}
    assert kept["mobile"]["value"] == "138-1111" and kept["title"]["value"] == "采购经理"

    auth.login()
    html = client.get(f"/customers/{customer_id}").get_data(as_text=True)
    url = f"/contacts/{contact_id}/conflicts/{kept['mobile']['id']}"
    assert url in html and "138-1111" in html and "Li Na" in html
    token = auth.csrf(f"/customers/{customer_id}")
    assert client.post(url, data={"action": "restore"}).status_code == 400  # no CSRF token
    assert client.post(url, data={"action": "explode", "csrf_token": token}).status_code == 400
    response = client.post(url, data={"action": "restore", "csrf_token": token})
    assert response.status_code == 302 and response.location.endswith(f"/customers/{customer_id}")
    dismissed = client.post(f"/contacts/{contact_id}/conflicts/{kept['title']['id']}",
                            data={"action": "dismiss", "csrf_token": token})
    assert dismissed.status_code == 302
    row = store.get("contact", contact_id)
    assert row["mobile"] == "138-1111" and row["title"] == "总经理" and row["conflicts"] == []
    assert "/conflicts/" not in client.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert client.post(url, data={"action": "restore", "csrf_token": token}, follow_redirects=True).status_code == 200
    laptop.sync()
    assert laptop.store.get("contact", contact_id)["mobile"] == "138-1111"


def test_contact_conflicts_follow_the_customer_scope(client, auth, store, people):
    theirs = store.create("customer", customer_values(owner_id=people["rep2"]["id"]), people["boss"]["id"])
    contact_id = store.create("contact", {"customer_id": theirs, "name": "王经理"}, people["boss"]["id"])
    auth.login("rep1", PASSWORD)
    token = auth.csrf()
    assert client.post(f"/contacts/{contact_id}/conflicts/x", data={"action": "dismiss", "csrf_token": token}).status_code == 404


@pytest.fixture
def boom(app):
    """A page and an API route that fail unexpectedly (added before the first request)."""
    def fail():
        raise RuntimeError("secret internals")
    app.add_url_rule("/boom", "boom", fail)
    app.add_url_rule("/api/boom", "api_boom", fail)
    return app


@pytest.mark.parametrize("lang,title", [("zh-CN", "页面不存在"), ("en", "Page not found")])
def test_html_404_page_is_localized(client, auth, lang, title):
    auth.login()
    response = client.get("/no-such-page", headers={"Accept-Language": lang})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert title in html and 'data-status="404"' in html and "<nav" in html


def test_html_error_pages_for_each_status(client, auth, boom, people):
    auth.login()
    en = {"Accept-Language": "en"}
    assert client.get("/customers/no-such-customer", headers=en).status_code == 404
    bad = client.post("/customers/x/conflicts/y", data={"action": "restore"}, headers=en)  # no CSRF token
    assert bad.status_code == 400 and "Bad request" in bad.get_data(as_text=True)
    assert "The form has expired" in bad.get_data(as_text=True)
    too_big = client.post("/customers", data=b"x" * (33 * 1024 * 1024), headers={**en, "Content-Type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 413 and "Too large" in too_big.get_data(as_text=True)
    failed = client.get("/boom", headers=en)
    html = failed.get_data(as_text=True)
    assert failed.status_code == 500 and "Something went wrong" in html and "secret internals" not in html and "Traceback" not in html
    auth.client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login("clerk", PASSWORD)
    forbidden = client.get("/devices", headers=en)
    assert forbidden.status_code == 403 and "Not allowed" in forbidden.get_data(as_text=True)
    zh = client.get("/devices", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "无权访问" in zh


@pytest.mark.parametrize("method,path,status", [
    ("get", "/api/no-such-thing", 404),
    ("get", "/api/customers/no-such-customer", 404),
    ("post", "/api/customers", 400),  # no JSON body
    ("get", "/api/boom", 500),
    ("post", "/sync/v1/push", 401),  # no device token
])
def test_api_paths_keep_the_json_envelope(client, boom, people, method, path, status):
    headers = {"Authorization": f"Bearer {api_token(client, 'boss')}"}
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == status and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "fields"} and "secret internals" not in response.get_data(as_text=True)
