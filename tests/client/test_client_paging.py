"""Contacts and visits on the customer page, and the due list, page like the customer list."""
from __future__ import annotations

import re


def test_customer_page_pages_contacts_and_visits(pages, store, enrolled):
    cid = store.create("customer", {"kind": "company", "name": "大客户"}, enrolled["id"])
    for n in range(25):
        store.create("contact", {"customer_id": cid, "name": f"联系人{n:02d}"}, enrolled["id"])
    for n in range(45):
        store.add_event("visit", {"customer_id": cid, "method": "phone", "content": f"第{n:02d}次电话",
                                  "visited_at": f"2025-12-{1 + n % 28:02d}T{8 + n // 28:02d}:00:00+08:00"}, enrolled["id"])
    first = pages.get(f"/customers/{cid}").get_data(as_text=True)
    assert len(re.findall(r"联系人\d\d", first)) == 20 and len(re.findall(r"第\d\d次电话", first)) == 20
    assert "(25)" in first and "(45)" in first
    assert f"/customers/{cid}?cpage=2" in first and f"/customers/{cid}?vpage=2" in first
    second = pages.get(f"/customers/{cid}?cpage=2&vpage=3").get_data(as_text=True)
    assert len(re.findall(r"联系人\d\d", second)) == 5 and len(re.findall(r"第\d\d次电话", second)) == 5
    assert "联系人24" in second and "联系人00" not in second
    clamped = pages.get(f"/customers/{cid}?vpage=99&cpage=abc").get_data(as_text=True)
    assert len(re.findall(r"第\d\d次电话", clamped)) == 5 and len(re.findall(r"联系人\d\d", clamped)) == 20


def test_due_list_pages(pages, store, enrolled, app):
    app.config["PER_PAGE"] = 10
    for n in range(13):
        store.create("customer", {"kind": "company", "name": f"到期客户{n:02d}", "next_contact_at": "2025-12-30T10:00:00+08:00"},
                     enrolled["id"])
    first = pages.get("/due").get_data(as_text=True)
    assert len(re.findall(r"到期客户\d\d", first)) == 10 and "/due?page=2" in first
    assert len(re.findall(r"到期客户\d\d", pages.get("/due?page=2").get_data(as_text=True))) == 3
