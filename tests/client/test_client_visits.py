"""Visits: recording one sets the customer's next contact time atomically; same-day void; due list."""
from __future__ import annotations

import pytest

from client import crm


@pytest.fixture
def customer(store, enrolled):
    return store.create("customer", {"kind": "company", "name": "杭州明达机械有限公司"}, enrolled["id"])


def test_record_visit_updates_next_contact(pages, store, customer):
    response = pages.post(f"/customers/{customer}/visits/new", {
        "method": "onsite", "content": "上门拜访，谈了二期需求", "visited_at": "2026-01-01T15:00", "next_contact_at": "2026-01-08T10:00"})
    assert response.status_code == 302
    visits = store.rows("visit", "customer_id = ?", [customer])
    assert len(visits) == 1 and visits[0]["method"] == "onsite" and visits[0]["visited_at"] == "2026-01-01T15:00:00+08:00"
    assert store.get("customer", customer)["next_contact_at"] == "2026-01-08T10:00:00+08:00"


def test_visit_and_customer_update_are_one_transaction(store, customer, enrolled, monkeypatch):
    pending = store.pending_count()

    def broken_update(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "update", broken_update)
    with pytest.raises(RuntimeError):
        crm.record_visit(store, {"customer_id": customer, "method": "phone", "content": "x",
                                 "visited_at": "2026-01-01T15:00:00+08:00", "next_contact_at": "2026-01-02T09:00:00+08:00"}, enrolled["id"])
    assert store.rows("visit") == []
    assert store.pending_count() == pending


def test_visit_without_next_contact_keeps_the_customers(store, customer, enrolled):
    store.update("customer", customer, {"next_contact_at": "2026-03-01T09:00:00+08:00"}, enrolled["id"])
    crm.record_visit(store, {"customer_id": customer, "method": "phone", "content": "x", "visited_at": "2026-01-01T15:00:00+08:00"}, enrolled["id"])
    assert store.get("customer", customer)["next_contact_at"] == "2026-03-01T09:00:00+08:00"


def test_visit_form_errors(pages, store, customer):
    response = pages.post(f"/customers/{customer}/visits/new", {"method": "fax", "content": "", "visited_at": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="e-method"' in html and 'id="e-content"' in html and 'id="e-visited_at"' in html
    assert store.rows("visit") == []


def test_author_voids_same_day_visit(pages, store, customer, enrolled):
    visit = crm.record_visit(store, {"customer_id": customer, "method": "phone", "content": "电话回访",
                                     "visited_at": "2026-01-01T16:00:00+08:00"}, enrolled["id"])
    html = pages.get(f"/customers/{customer}").get_data(as_text=True)
    assert f"/visits/{visit}/void" in html
    response = pages.post(f"/visits/{visit}/void")
    assert response.status_code == 302
    voids = store.rows("visit_void")
    assert [v["visit_id"] for v in voids] == [visit]
    assert crm.visits_of(store, customer)[0]["voided"] is True
    html = pages.get(f"/customers/{customer}").get_data(as_text=True)
    assert f"/visits/{visit}/void" not in html
    pages.post(f"/visits/{visit}/void")  # a second void is refused, not duplicated
    assert len(store.rows("visit_void")) == 1


def test_no_void_on_a_later_day(pages, store, customer, enrolled, clock):
    visit = crm.record_visit(store, {"customer_id": customer, "method": "phone", "content": "x",
                                     "visited_at": "2026-01-01T16:00:00+08:00"}, enrolled["id"])
    clock.advance(24 * 3600 * 1000)
    assert f"/visits/{visit}/void" not in pages.get(f"/customers/{customer}").get_data(as_text=True)
    pages.post(f"/visits/{visit}/void")
    assert store.rows("visit_void") == []


def test_no_void_of_someone_elses_visit(pages, store, customer):
    visit = crm.record_visit(store, {"customer_id": customer, "method": "phone", "content": "x",
                                     "visited_at": "2026-01-01T16:00:00+08:00"}, "u-other")
    assert f"/visits/{visit}/void" not in pages.get(f"/customers/{customer}").get_data(as_text=True)
    pages.post(f"/visits/{visit}/void")
    assert store.rows("visit_void") == []


def test_due_lists_today_and_overdue_only(pages, store, enrolled):
    # now is 2026-01-01 17:00 in Shanghai
    for name, when in [("过期客户", "2025-12-30T10:00:00+08:00"), ("今天客户", "2026-01-01T23:30:00+08:00"),
                       ("明天客户", "2026-01-02T00:30:00+08:00"), ("无计划客户", None)]:
        store.create("customer", {"kind": "person", "name": name, "next_contact_at": when}, enrolled["id"])
    html = pages.get("/due").get_data(as_text=True)
    assert "过期客户" in html and "今天客户" in html
    assert "明天客户" not in html and "无计划客户" not in html
    assert html.index("过期客户") < html.index("今天客户")


def test_add_contact(pages, store, customer):
    response = pages.post(f"/contacts/new?customer_id={customer}", {"name": "王经理", "title": "采购经理", "mobile": "13700000000", "birthday": "1980-05-06"})
    assert response.status_code == 302
    contacts = store.rows("contact")
    assert contacts[0]["customer_id"] == customer and contacts[0]["birthday"] == "1980-05-06"
    assert "王经理" in pages.get(f"/customers/{customer}").get_data(as_text=True)
    form = pages.get(f"/customers/{customer}/visits/new").get_data(as_text=True)
    assert contacts[0]["id"] in form
