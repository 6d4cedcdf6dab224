"""Localized HTML error pages on the client's pages; the API keeps the JSON envelope."""
from __future__ import annotations

import pytest


@pytest.fixture
def boom(app):
    """A page and an API route that fail unexpectedly (added before the first request)."""
    def fail():
        raise RuntimeError("secret internals")
    app.add_url_rule("/boom", "boom", fail)
    app.add_url_rule("/api/boom", "api_boom", fail)
    return app


@pytest.mark.parametrize("lang,title", [("zh-CN", "页面不存在"), ("en", "Page not found")])
def test_html_404_is_localized(pages, lang, title):
    response = pages.get("/no-such-page", headers={"Accept-Language": lang})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert title in html and 'data-status="404"' in html and 'id="syncbar"' in html


def test_html_error_pages_for_each_status(boom, pages):
    en = {"Accept-Language": "en"}
    assert pages.get("/customers/no-such-customer", headers=en).status_code == 404
    bad = pages.client.post("/customers/new", data={"name": "x"}, headers=en)  # no CSRF token
    assert bad.status_code == 400 and "Bad request" in bad.get_data(as_text=True)
    too_big = pages.client.post("/customers/new", data=b"x" * (9 * 1024 * 1024),
                                headers={**en, "Content-Type": "application/x-www-form-urlencoded"})
    assert too_big.status_code == 413 and "Too large" in too_big.get_data(as_text=True)
    failed = pages.get("/boom", headers=en)
    html = failed.get_data(as_text=True)
    assert failed.status_code == 500 and "Something went wrong" in html
    assert "secret internals" not in html and "Traceback" not in html
    zh = pages.get("/boom", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "出错了" in zh


@pytest.mark.parametrize("method,path,status", [
    ("get", "/api/no-such-thing", 404),
    ("get", "/api/customers/no-such-customer", 404),
    ("post", "/api/customers", 400),
    ("get", "/api/boom", 500),
])
def test_api_paths_keep_the_json_envelope(boom, app, enrolled, method, path, status):
    client = app.test_client()
    token = client.post("/api/login", json={"username": "lina", "password": "s3cret-pw"}).get_json()["token"]
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status and response.mimetype == "application/json"
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}
    assert "secret internals" not in response.get_data(as_text=True)
