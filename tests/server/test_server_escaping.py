"""Hostile names and visit contents are shown as text on every admin page, never as markup."""
from __future__ import annotations

from server_testkit import customer_values

NAME = "<script>alert(1)</script>' OR 1=1 --"
CONTENT = '<img src=x onerror="alert(2)"><b>粗体</b><script>alert(3)</script>'
RAW = ("<script>alert", "<img src=x", "<b>粗体")
ESCAPED_NAME = "&lt;script&gt;alert(1)&lt;/script&gt;&#39; OR 1=1 --"
ESCAPED_CONTENT = "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;&lt;b&gt;粗体&lt;/b&gt;"


def assert_escaped(html: str, *shown: str) -> None:
    for raw in RAW:
        assert raw not in html
    for text in shown:
        assert text in html


def test_every_admin_page_escapes_names_and_contents(client, auth, devices, store, people):
    rep1, rep2 = people["rep1"]["id"], people["rep2"]["id"]
    laptop = devices("rep1", NAME)  # the device name shows on the devices and sync issues pages
    cid = laptop.store.create("customer", customer_values(NAME, phone="<i>010</i>", remark=CONTENT, owner_id=rep1), rep1)
    pid = laptop.store.create("contact", {"customer_id": cid, "name": NAME, "title": CONTENT}, rep1)
    laptop.store.add_event("visit", {"customer_id": cid, "contact_id": pid, "method": "onsite", "content": CONTENT,
                                     "visited_at": "2025-12-30T09:00:00+08:00"}, rep1)
    # a customer given to another rep is rejected: the sync issues page names it
    laptop.store.create("customer", customer_values(NAME + " 2", owner_id=rep2), rep1)
    laptop.sync()
    assert store.get("customer", cid)["name"] == NAME
    auth.login()
    for path, shown in [
        ("/customers", [ESCAPED_NAME]),
        ("/customers?q=<script>alert(1)", [ESCAPED_NAME]),
        ("/customers?q=<script>nothing", ["&lt;script&gt;nothing"]),
        (f"/customers/{cid}", [ESCAPED_NAME, ESCAPED_CONTENT]),
        ("/devices", [ESCAPED_NAME]),
        ("/sync-issues", [ESCAPED_NAME]),
        ("/customers/<script>alert(1)</script>", []),
    ]:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert_escaped(response.get_data(as_text=True), *shown)
