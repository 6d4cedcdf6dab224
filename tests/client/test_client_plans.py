"""Client side of the customer policy: a visit's next contact from the level, the duplicate
check over the policy's fields, contact plans (lists, bulk change, Excel export) and public
search through the server (online only)."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from client import crm
from client.enrollment import register_device
from shared.web.export import safe_cell

NOW_DAY = "2026-01-01"  # the clock fixture: Thursday 2026-01-01 17:00 in Shanghai


def customer(store, user, name, **values):
    values = {"kind": "company", "name": name, "owner_id": user["id"], "created_at": "2025-12-20T09:00:00+08:00", **values}
    return store.create("customer", values, user["id"])


def test_a_visit_takes_the_next_contact_time_from_the_level(pages, store, enrolled):
    store.create("customer_level", {"code": "A", "name_zh": "重要客户", "name_en": "Key", "reminder_days": 3,
                                    "idle_days": 30, "ordering": 1}, "server")
    cid = customer(store, enrolled, "杭州明达", level="A")
    response = pages.post(f"/customers/{cid}/visits/new", {"method": "phone", "content": "电话", "visited_at": "2026-01-01T15:00"})
    assert response.status_code == 302
    assert store.get("customer", cid)["next_contact_at"] == "2026-01-04T15:00:00+08:00"
    other = customer(store, enrolled, "无等级")
    crm.record_visit(store, {"customer_id": other, "method": "phone", "content": "x", "visited_at": "2026-01-01T15:00:00+08:00"}, enrolled["id"])
    assert store.get("customer", other)["next_contact_at"] is None


def test_the_create_form_checks_the_policys_fields(pages, store, enrolled):
    customer(store, enrolled, "上海远航", email="sales@yuanhang.cn")
    form = {"kind": "company", "name": "上海远航", "email": "SALES@yuanhang.cn "}
    store.create("customer_policy", {"duplicate_fields": "email", "owner_cap": None, "idle_days": None}, "server", record_id="default")
    warned = pages.post("/customers/new", {**form, "name": "别的名字", "email": "sales@yuanhang.cn"})
    assert warned.status_code == 200 and "上海远航" in warned.get_data(as_text=True)
    store.update("customer_policy", "default", {"duplicate_fields": "phone"}, "server")
    created = pages.post("/customers/new", form)
    assert created.status_code == 302  # the same name is no longer compared


@pytest.fixture
def plan(store, enrolled):
    ids = {
        "today": customer(store, enrolled, "今天", next_contact_at="2026-01-01T18:00:00+08:00"),
        "overdue": customer(store, enrolled, "=HYPERLINK(\"http://x\")", next_contact_at="2025-12-30T09:00:00+08:00"),
        "week": customer(store, enrolled, "周六", next_contact_at="2026-01-03T10:00:00+08:00"),
        "later": customer(store, enrolled, "下周", next_contact_at="2026-01-06T10:00:00+08:00", created_at="2025-09-01T09:00:00+08:00"),
        "idle": customer(store, enrolled, "很久没联系", created_at="2025-10-01T09:00:00+08:00"),
    }
    store.add_event("visit", {"customer_id": ids["later"], "method": "phone", "content": "x",
                              "visited_at": "2025-10-02T09:00:00+08:00"}, enrolled["id"])
    return ids


def names(response):
    return [i["name"] for i in response.get_json()["items"]]


def test_contact_plan_lists(app, api_headers, plan):
    client = app.test_client()
    get = lambda q: client.get(f"/api/contact-plans?{q}", headers=api_headers)  # noqa: E731
    assert names(get("kind=today")) == ["今天"]
    assert names(get("kind=week")) == ["=HYPERLINK(\"http://x\")", "今天", "周六"]
    assert names(get("kind=overdue")) == ["=HYPERLINK(\"http://x\")"]
    idle = names(get("kind=idle&days=60"))
    assert idle == ["很久没联系", "下周"]  # longest idle first: created 2025-10-01, then a visit of 2025-10-02
    assert get("kind=soon").status_code == 422
    assert client.get("/api/contact-plans?kind=today").status_code == 401


def test_contact_plan_exports_to_excel_without_formulas(app, api_headers, plan):
    response = app.test_client().get("/api/contact-plans?kind=week&format=xlsx", headers={**api_headers, "Accept-Language": "zh-CN"})
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("名称", "类型", "级别", "电话", "手机", "下次联系", "最近联系")
    assert rows[1][0] == "'=HYPERLINK(\"http://x\")" and rows[2][0] == "今天"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert [safe_cell(v) for v in ("+1", "-2", "@x", "ok", 3, None)] == ["'+1", "'-2", "'@x", "ok", 3, ""]


def test_bulk_change_of_next_contact_is_all_or_nothing(app, store, api_headers, plan):
    client = app.test_client()
    new = "2026-01-05T09:00:00+08:00"
    bad = client.post("/api/contact-plans/reschedule", json={"ids": [plan["today"], "nope"], "next_contact_at": new}, headers=api_headers)
    assert bad.status_code == 404 and store.get("customer", plan["today"])["next_contact_at"] == "2026-01-01T18:00:00+08:00"
    assert client.post("/api/contact-plans/reschedule", json={"ids": [plan["today"]], "next_contact_at": "2026-01-05"},
                       headers=api_headers).status_code == 422
    done = client.post("/api/contact-plans/reschedule", json={"ids": [plan["today"], plan["overdue"]], "next_contact_at": new}, headers=api_headers)
    assert done.get_json() == {"updated": 2}
    assert {store.get("customer", plan[k])["next_contact_at"] for k in ("today", "overdue")} == {new}


def test_plans_page_and_bulk_form(pages, store, plan):
    page = pages.get("/plans?kind=overdue").get_data(as_text=True)
    assert "HYPERLINK" in page and "今天" not in page
    response = pages.post("/plans/reschedule", {"ids": [plan["overdue"]], "next_contact_at": "2026-01-02T09:30", "kind": "overdue"})
    assert response.status_code == 302
    assert store.get("customer", plan["overdue"])["next_contact_at"] == "2026-01-02T09:30:00+08:00"
    assert pages.get("/plans?kind=idle&days=x").status_code == 200


def test_public_search_is_online_only(app, api_headers):
    response = app.test_client().get("/api/public-search?q=远航", headers=api_headers)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "online_only"


def test_public_search_goes_through_the_server(app, store, live_server):
    url, server_store = live_server
    server_store.create("customer", {"kind": "company", "name": "上海远航贸易", "remark": "secret"}, "server")
    register_device(store, url, "lina", "rep-pw")
    token = app.test_client().post("/api/login", json={"username": "lina", "password": "rep-pw"}).get_json()["token"]
    found = app.test_client().get("/api/public-search?q=上海远航", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert found["total"] == 1 and found["items"][0]["name"] == "上海远航贸易" and "remark" not in found["items"][0]
