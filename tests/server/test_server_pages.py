"""The admin pages: customers list/search/paging, customer view with kept conflicts, devices, sync issues."""
from __future__ import annotations

import re

import pytest

from server_testkit import PASSWORD, customer_values


def rows_in(html: str) -> int:
    return len(re.findall(r'<a href="/customers/[0-9a-f-]{36}">', html))


@pytest.fixture
def many(store, people):
    """120 customers: 60 Shanghai trading companies, 60 Beijing technology companies."""
    ids = []
    for n in range(60):
        ids.append(store.create("customer", customer_values(f"上海远航贸易{n:03d}有限公司", phone=f"021-{n:04d}"), people["boss"]["id"]))
        ids.append(store.create("customer", customer_values(f"北京星辰科技{n:03d}有限公司", mobile=f"139{n:08d}",
                                                            owner_id=people["rep1"]["id"]), people["boss"]["id"]))
    return ids


def test_root_goes_to_the_workbench(client, auth):
    auth.login()
    assert client.get("/").location == "/workbench"
    assert client.get("/workbench").status_code == 200


def test_customer_list_pages_by_fifty_with_total(client, auth, many):
    auth.login()
    first = client.get("/customers").get_data(as_text=True)
    assert rows_in(first) == 50
    assert "120" in first
    last = client.get("/customers?page=3").get_data(as_text=True)
    assert rows_in(last) == 20
    assert rows_in(client.get("/customers?page=99").get_data(as_text=True)) == 20  # clamped to the last page
    assert client.get("/customers?page=abc").status_code == 200


@pytest.mark.parametrize("q,count", [
    ("星辰科技", 60),      # Chinese substring, trigram FTS
    ("科技", 60),          # two characters: LIKE
    ("贸易007", 1),
    ("021-0042", 1),       # phone
    ("13900000017", 1),    # mobile
    ("%", 0),              # LIKE wildcards are literal
    ("不存在的公司", 0),
])
def test_customer_search(client, auth, many, q, count):
    auth.login()
    html = client.get("/customers", query_string={"q": q}).get_data(as_text=True)
    assert rows_in(html) == min(count, 50)


def test_rep_sees_own_and_pool_customers_only(client, auth, store, people):
    mine = store.create("customer", customer_values("李娜的客户", owner_id=people["rep1"]["id"]), people["boss"]["id"])
    theirs = store.create("customer", customer_values("王伟的客户", owner_id=people["rep2"]["id"]), people["boss"]["id"])
    store.create("customer", customer_values("公海客户", owner_id=None), people["boss"]["id"])
    auth.login("rep1", PASSWORD)
    html = client.get("/customers").get_data(as_text=True)
    assert "李娜的客户" in html and "公海客户" in html and "王伟的客户" not in html
    assert client.get(f"/customers/{mine}").status_code == 200
    assert client.get(f"/customers/{theirs}").status_code == 404
    assert client.get("/customers/no-such-id").status_code == 404


def test_customer_view_shows_contacts_visits_and_voids(client, auth, store, people):
    boss = people["boss"]["id"]
    customer_id = store.create("customer", customer_values(remark="老客户，年底采购", owner_id=None), boss)
    contact_id = store.create("contact", {"customer_id": customer_id, "name": "陈经理", "title": "采购经理"}, boss)
    store.add_event("visit", {"customer_id": customer_id, "contact_id": contact_id, "method": "onsite",
                              "content": "上门拜访，谈年度合同", "visited_at": "2026-01-02T10:00:00+08:00"}, boss)
    voided = store.add_event("visit", {"customer_id": customer_id, "method": "phone", "content": "打错电话",
                                       "visited_at": "2026-01-03T10:00:00+08:00"}, boss)
    store.add_event("visit_void", {"visit_id": voided, "customer_id": customer_id,
                                   "voided_at": "2026-01-03T11:00:00+08:00"}, boss)
    auth.login()
    html = client.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "老客户，年底采购" in html and "陈经理" in html and "采购经理" in html
    assert "上门拜访，谈年度合同" in html
    assert re.search(r"<del>.*打错电话.*</del>", html, re.S)
    assert not re.search(r"<del>.*上门拜访.*</del>", html, re.S)


def test_kept_conflict_is_shown_and_can_be_restored(client, auth, devices, store, people, clock):
    customer_id = store.create("customer", customer_values(phone="021-0000", owner_id=people["rep1"]["id"]), people["boss"]["id"])
    laptop, boss = devices("rep1"), devices("boss")
    laptop.sync()
    boss.sync()
    laptop.store.update("customer", customer_id, {"phone": "138-1111"}, people["rep1"]["id"])
    clock.advance(60_000)
    boss.store.update("customer", customer_id, {"phone": "139-2222"}, people["boss"]["id"])
    laptop.sync()
    assert boss.sync().conflicts == 1
    [kept] = store.get("customer", customer_id)["conflicts"]
    assert kept["value"] == "138-1111"
    assert store.get("customer", customer_id)["phone"] == "139-2222"

    auth.login()
    html = client.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Li Na" in html and "138-1111" in html and 'value="restore"' in html and 'value="dismiss"' in html
    token = auth.csrf(f"/customers/{customer_id}")
    url = f"/customers/{customer_id}/conflicts/{kept['id']}"
    assert client.post(url, data={"action": "restore"}).status_code == 400  # no CSRF token
    response = client.post(url, data={"action": "restore", "csrf_token": token})
    assert response.status_code == 302
    row = store.get("customer", customer_id)
    assert row["phone"] == "138-1111" and row["conflicts"] == []
    laptop.sync()
    assert laptop.store.get("customer", customer_id)["phone"] == "138-1111"
    again = client.post(url, data={"action": "dismiss", "csrf_token": token}, follow_redirects=True)
    assert again.status_code == 200


def test_devices_page_lists_and_revokes(client, auth, devices, store, people):
    laptop = devices("rep1", "李娜的笔记本")
    laptop.store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    laptop.sync()
    auth.login()
    html = client.get("/devices").get_data(as_text=True)
    assert "李娜的笔记本" in html and "Li Na" in html and "0.1.0" in html
    assert re.search(r'<td class="num">0</td>', html)  # pending reported on the last pull
    assert "confirm(" in html
    token = auth.csrf("/devices")
    response = client.post(f"/devices/{laptop.store.site_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert store.db.execute("SELECT revoked FROM devices").fetchone()[0] == 1
    assert client.post("/devices/unknown/revoke", data={"csrf_token": token}).status_code == 404


def test_sync_issues_page_lists_rejections_newest_first(client, auth, devices, store, people):
    laptop = devices("rep1", "李娜的笔记本")
    first = laptop.store.create("customer", customer_values("给王伟的客户", owner_id=people["rep2"]["id"]), people["rep1"]["id"])
    laptop.sync()
    own = laptop.store.create("customer", customer_values(owner_id=people["rep1"]["id"]), people["rep1"]["id"])
    laptop.sync()
    laptop.store.update("customer", own, {"owner_id": people["rep2"]["id"]}, people["rep1"]["id"])
    laptop.sync()
    auth.login()
    html = client.get("/sync-issues").get_data(as_text=True)
    assert "李娜的笔记本" in html and "Li Na" in html
    assert html.index(own[-8:]) < html.index(first[-8:])
    assert "2" in html


def test_pages_render_in_chinese_by_default_and_english_on_request(client, auth, many):
    auth.login()
    zh = client.get("/customers").get_data(as_text=True)
    assert "客户" in zh and 'lang="zh' in zh
    en = client.get("/customers", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Customers" in en


def test_customer_view_pages_contacts_and_visits(client, auth, store, people):
    boss = people["boss"]["id"]
    customer_id = store.create("customer", customer_values(owner_id=None), boss)
    for n in range(23):
        store.create("contact", {"customer_id": customer_id, "name": f"联系人{n:02d}"}, boss)
    for n in range(41):
        store.add_event("visit", {"customer_id": customer_id, "method": "phone", "content": f"第{n:02d}次电话",
                                  "visited_at": f"2025-12-{1 + n % 28:02d}T{8 + n // 28:02d}:00:00+08:00"}, boss)
    auth.login()
    first = client.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert len(re.findall(r"联系人\d\d", first)) == 20 and len(re.findall(r"第\d\d次电话", first)) == 20
    assert "(23)" in first and "(41)" in first
    assert f"/customers/{customer_id}?cpage=2" in first and f"/customers/{customer_id}?vpage=2" in first
    last = client.get(f"/customers/{customer_id}?cpage=2&vpage=3").get_data(as_text=True)
    assert len(re.findall(r"联系人\d\d", last)) == 3 and len(re.findall(r"第\d\d次电话", last)) == 1
    clamped = client.get(f"/customers/{customer_id}?vpage=99&cpage=x").get_data(as_text=True)
    assert len(re.findall(r"第\d\d次电话", clamped)) == 1 and len(re.findall(r"联系人\d\d", clamped)) == 20
