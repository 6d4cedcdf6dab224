"""Customer pages: trigram search on Chinese names, paging, create with duplicate check, edit."""
from __future__ import annotations

import re

import pytest

from client import crm


def _ids(html: str) -> list[str]:
    return re.findall(r'href="/customers/([0-9a-f-]{36})"', html)


@pytest.fixture
def seeded(store, enrolled):
    names = ["杭州明达机械有限公司", "宁波明远贸易有限公司", "上海达明科技", "张伟", "北京华夏建材"]
    ids = {}
    for i, name in enumerate(names):
        ids[name] = store.create("customer", {"kind": "company", "name": name, "phone": f"0571-8800{i}", "mobile": f"1390000000{i}"}, enrolled["id"])
    return ids


@pytest.mark.parametrize("q,expected", [
    ("明达", ["杭州明达机械有限公司"]),          # two characters: LIKE fallback
    ("明达机械", ["杭州明达机械有限公司"]),      # trigram FTS5
    ("有限公司", ["杭州明达机械有限公司", "宁波明远贸易有限公司"]),
    ("张", ["张伟"]),
    ("88003", ["张伟"]),                      # phone substring
    ("13900000004", ["北京华夏建材"]),          # mobile
    ("不存在的公司", []),
])
def test_search_finds_chinese_substrings(store, seeded, q, expected):
    items, total = crm.search_customers(store, q)
    assert sorted(i["name"] for i in items) == sorted(expected)
    assert total == len(expected)


def test_search_index_follows_updates_and_evictions(store, seeded, enrolled):
    cid = seeded["杭州明达机械有限公司"]
    store.update("customer", cid, {"name": "杭州新明达重工"}, enrolled["id"])
    assert [i["id"] for i in crm.search_customers(store, "新明达重工")[0]] == [cid]
    assert crm.search_customers(store, "明达机械")[1] == 0
    store.evict("customer", cid)
    assert crm.search_customers(store, "新明达重工")[1] == 0
    store.db.execute("INSERT INTO customers_fts (customers_fts, rank) VALUES ('integrity-check', 1)")


def test_search_hides_deleted_customers(store, seeded, enrolled):
    store.delete("customer", seeded["张伟"], enrolled["id"])
    assert crm.search_customers(store, "张伟")[1] == 0


def test_search_page(pages, seeded):
    html = pages.get("/customers", query_string={"q": "明达"}).get_data(as_text=True)
    assert "杭州明达机械有限公司" in html and "宁波明远贸易有限公司" not in html
    assert _ids(html) == [seeded["杭州明达机械有限公司"]]


def test_paging_50_per_page_with_total(pages, store, enrolled):
    with store.write():
        for i in range(120):
            store.create("customer", {"kind": "person", "name": f"客户{i:03d}"}, enrolled["id"])
    first = pages.get("/customers").get_data(as_text=True)
    assert len(set(_ids(first))) == 50
    assert "120" in re.search(r'class="muted total">([^<]*)', first).group(1)
    third = pages.get("/customers?page=3").get_data(as_text=True)
    assert len(set(_ids(third))) == 20
    all_ids = set(_ids(first)) | set(_ids(pages.get("/customers?page=2").get_data(as_text=True))) | set(_ids(third))
    assert len(all_ids) == 120


def test_create_customer(pages, store, enrolled):
    response = pages.post("/customers/new", {"kind": "company", "name": "苏州恒通物流", "mobile": "13812345678",
                                             "is_hot": "1", "next_contact_at": "2026-01-05T09:30", "remark": "老客户介绍"})
    assert response.status_code == 302
    cid = response.location.rsplit("/", 1)[1]
    row = store.get("customer", cid)
    assert row["name"] == "苏州恒通物流" and row["is_hot"] is True and row["owner_id"] == enrolled["id"]
    assert row["next_contact_at"] == "2026-01-05T09:30:00+08:00"
    assert row["remark"] == "老客户介绍" and row["created_at"]
    view = pages.get(f"/customers/{cid}").get_data(as_text=True)
    assert "苏州恒通物流" in view and 'data-pending="' in view and 'data-pending="0"' not in view


@pytest.mark.parametrize("field,value", [("name", "杭州明达机械有限公司"), ("phone", "0571-88000"), ("mobile", "13900000000")])
def test_create_warns_about_duplicates_then_confirms(pages, store, seeded, field, value):
    data = {"kind": "company", "name": "全新名字", field: value}
    before = store.db.execute("SELECT count(*) FROM customers").fetchone()[0]
    warned = pages.post("/customers/new", data)
    assert warned.status_code == 200
    html = warned.get_data(as_text=True)
    assert 'name="confirm_duplicate"' in html and seeded["杭州明达机械有限公司"] in html
    assert store.db.execute("SELECT count(*) FROM customers").fetchone()[0] == before
    confirmed = pages.post("/customers/new", {**data, "confirm_duplicate": "1"})
    assert confirmed.status_code == 302
    assert store.db.execute("SELECT count(*) FROM customers").fetchone()[0] == before + 1


def test_field_errors_are_shown_next_to_fields(pages, store):
    response = pages.post("/customers/new", {"kind": "company", "name": "", "email": "not-an-email"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="e-name"' in html and 'id="e-email"' in html
    assert store.db.execute("SELECT count(*) FROM customers").fetchone()[0] == 0


def test_edit_customer_changes_only_what_changed(pages, store, seeded):
    cid = seeded["张伟"]
    form = pages.get(f"/customers/{cid}/edit").get_data(as_text=True)
    assert 'value="张伟"' in form
    store.ack([r["seq"] for r in store.outbox_batch(1000, 10**9)])
    response = pages.post(f"/customers/{cid}/edit", {"kind": "company", "name": "张伟", "phone": "0571-88003",
                                                       "mobile": "13900000003", "city": "杭州"})
    assert response.status_code == 302
    assert store.get("customer", cid)["city"] == "杭州"
    assert store.pending_for("customer", cid) == 1


def test_unknown_customer_is_404(pages):
    assert pages.get("/customers/nope").status_code == 404


def test_pages_speak_chinese_by_default_and_english_on_request(pages, seeded):
    zh = pages.get("/customers").get_data(as_text=True)
    assert "新建客户" in zh and "立即同步" in zh and "离线" in zh
    en = pages.get("/customers", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "New customer" in en and "Sync now" in en
