"""Hostile names and visit contents are shown as text on every client page, never as markup."""
from __future__ import annotations

import pytest

NAME = "<script>alert(1)</script>' OR 1=1 --"
CONTENT = '<img src=x onerror="alert(2)"><b>粗体</b></textarea><script>alert(3)</script>'
RAW = ("<script>alert", "<img src=x", "<b>粗体", "</textarea><script")


def assert_escaped(html: str, *shown: str) -> None:
    for raw in RAW:
        assert raw not in html
    for text in shown:
        assert text in html


@pytest.fixture
def hostile(store, enrolled):
    cid = store.create("customer", {"kind": "company", "name": NAME, "phone": "<i>010</i>", "remark": CONTENT,
                                    "next_contact_at": "2025-12-30T10:00:00+08:00"}, enrolled["id"])
    pid = store.create("contact", {"customer_id": cid, "name": NAME, "title": CONTENT}, enrolled["id"])
    vid = store.add_event("visit", {"customer_id": cid, "contact_id": pid, "method": "onsite", "content": CONTENT,
                                    "visited_at": "2025-12-30T09:00:00+08:00"}, enrolled["id"])
    with store.write():
        store.add_rejection({"id": "rej-x", "entity": "customer", "record_id": cid, "field": "name", "kind": "field",
                             "reason": CONTENT, "created_at": "2026-01-01T08:00:00+00:00"})
    return {"customer": cid, "contact": pid, "visit": vid}


def test_every_client_page_escapes_names_and_contents(pages, hostile):
    cid, pid = hostile["customer"], hostile["contact"]
    escaped_name = "&lt;script&gt;alert(1)&lt;/script&gt;&#39; OR 1=1 --"
    escaped_content = "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;&lt;b&gt;粗体&lt;/b&gt;"
    for path, shown in [
        ("/customers", [escaped_name]),
        ("/customers?q=<script>alert(1)", [escaped_name]),
        ("/customers?q=<script>nothing", ["&lt;script&gt;nothing"]),
        (f"/customers/{cid}", [escaped_name, escaped_content]),
        (f"/customers/{cid}/edit", [escaped_name, escaped_content]),
        (f"/customers/{cid}/delete", [escaped_name]),
        (f"/customers/{cid}/visits/new", [escaped_name]),
        (f"/customers/{cid}/sync-state", []),
        (f"/contacts/new?customer_id={cid}", [escaped_name]),
        (f"/contacts/{pid}/edit", [escaped_name, escaped_content]),
        (f"/contacts/{pid}/delete", [escaped_name]),
        ("/due", [escaped_name]),
        ("/sync-issues", [escaped_content]),
        ("/customers/<script>alert(1)</script>", []),
    ]:
        response = pages.get(path)
        assert response.status_code in (200, 404), path
        assert_escaped(response.get_data(as_text=True), *shown)
    # flashed messages carry the name too
    deleted = pages.post(f"/contacts/{pid}/delete", {"confirm": "yes"}, follow_redirects=True)
    assert_escaped(deleted.get_data(as_text=True), escaped_name)
    invalid = pages.post(f"/customers/{cid}/edit", {"kind": "company", "name": NAME, "email": CONTENT})
    assert invalid.status_code == 422
    assert_escaped(invalid.get_data(as_text=True), escaped_name)
    deleted = pages.post(f"/customers/{cid}/delete", {"confirm": "yes"}, follow_redirects=True)
    assert_escaped(deleted.get_data(as_text=True), escaped_name)
