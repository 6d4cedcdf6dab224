"""The client's sales pages over the Flask test client, offline (the device never reaches a server).

Quote → convert → edit → submit through the forms with CSRF; bad input shows errors next to the
fields and writes nothing; a submitted order is frozen; approve / reject buttons only with the
replicated right, an offline decision shows as waiting for sync; zh_CN and en render.
"""
from __future__ import annotations

import re
from typing import Any

import pytest

RIGHTS_REP = "products.view,opportunities.view,opportunities.edit,quotes.view,quotes.edit,orders.view,orders.edit,receipts.view,receipts.edit"
STAGES = (("lead", "线索", "Lead", 10), ("proposal", "方案", "Proposal", 50), ("won", "赢单", "Won", 100))


def set_rights(store: Any, user_id: str, rights: str) -> None:
    """The user's rights as the server replicates them (the record's id is the user's id)."""
    try:
        store.get("user_rights", user_id)
    except Exception:
        store.create("user_rights", {"user_id": user_id, "rights": rights}, "server", record_id=user_id)
    else:
        store.update("user_rights", user_id, {"rights": rights}, "server")


@pytest.fixture(autouse=True)
def english(pages: Any) -> None:
    """The assertions read English; test_pages_render_in_zh_and_en covers zh_CN."""
    pages.get("/lang/en")


@pytest.fixture
def world(store: Any, enrolled: dict[str, Any]) -> dict[str, Any]:
    set_rights(store, enrolled["id"], RIGHTS_REP)
    customer = store.create("customer", {"kind": "company", "name": "宁波恒鼎精密机械", "owner_id": enrolled["id"]}, enrolled["id"])
    valve = store.create("product", {"code": "V-100", "name": "工业阀门", "spec": "DN50", "unit": "个", "price": 100.0}, "server")
    gear = store.create("product", {"code": "G-200", "name": "齿轮", "spec": "M3", "unit": "件", "price": 12.5}, "server")
    for ordering, (code, zh, en, probability) in enumerate(STAGES):
        store.create("opportunity_stage", {"code": code, "name_zh": zh, "name_en": en, "probability": probability,
                                           "ordering": ordering, "closed": code == "won"}, "server")
    return {"customer": customer, "valve": valve, "gear": gear}


def lines_form(*lines: tuple[str, str, str, str, str]) -> dict[str, str]:
    out = {}
    for i, (product_id, quantity, price, discount, tax) in enumerate(lines):
        out.update({f"lines-{i}-product_id": product_id, f"lines-{i}-quantity": quantity, f"lines-{i}-unit_price": price,
                    f"lines-{i}-discount": discount, f"lines-{i}-tax_rate": tax})
    return out


def count(store: Any, table: str) -> int:
    return int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def location_id(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rstrip("/").split("/")[-1]


def test_quote_convert_edit_submit_through_the_forms(pages: Any, store: Any, world: dict[str, Any]) -> None:
    new = pages.get(f"/quotes/new?customer_id={world['customer']}")
    assert new.status_code == 200 and 'name="csrf_token"' in new.get_data(as_text=True)
    created = pages.post("/quotes/new", {"customer_id": world["customer"], "valid_until": "2026-02-01", "remark": "",
                                         **lines_form((world["valve"], "3", "100", "10", "13"), (world["gear"], "4", "12.5", "", ""))})
    quote_id = location_id(created)
    quote = store.get("quote", quote_id)
    assert quote["total"] == 355.10  # 3 × 100 − 10 % + 13 % = 305.10, plus 4 × 12.50
    page = pages.get(f"/quotes/{quote_id}").get_data(as_text=True)
    assert "355.10" in page and "provisional" in page and "V-100" in page
    printed = pages.get(f"/quotes/{quote_id}/print").get_data(as_text=True)
    assert "工业阀门" in printed and "355.10" in printed and "<nav" not in printed

    converted = pages.post(f"/quotes/{quote_id}/convert")
    order_id = location_id(converted)
    assert store.get("quote", quote_id)["status"] == "converted"
    order = store.get("sales_order", order_id)
    assert order["status"] == "draft" and order["quote_id"] == quote_id and order["total"] == 355.10
    assert pages.post(f"/quotes/{quote_id}/convert").status_code == 409  # only once
    assert pages.post(f"/quotes/{quote_id}/edit", {"customer_id": world["customer"], "status": "draft",
                                                   **lines_form((world["gear"], "1", "1", "", ""))}).status_code == 409
    assert store.get("quote", quote_id)["total"] == 355.10  # a converted quote is kept as it was

    form = pages.get(f"/orders/{order_id}/edit").get_data(as_text=True)
    assert 'value="V-100 工业阀门"' in form and 'id="line-editor"' in form
    edited = pages.post(f"/orders/{order_id}/edit", {
        "customer_id": world["customer"], "delivery_date": "2026-01-20", "due_date": "2026-02-20", "outbound_requested": "1",
        "remark": "加急", **lines_form((world["valve"], "2", "100", "", "13"))})
    assert location_id(edited) == order_id
    order = store.get("sales_order", order_id)
    assert order["total"] == 226.0 and order["delivery_date"] == "2026-01-20" and order["outbound_requested"]

    submitted = pages.post(f"/orders/{order_id}/submit")
    assert submitted.status_code == 302
    assert store.get("sales_order", order_id)["status"] == "submitted"
    view = pages.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "226.00" in view and "btn-submit" not in view and f"/orders/{order_id}/edit" not in view
    assert "btn-approve" not in view  # a rep has no orders.approve
    listing = pages.get("/orders?status=submitted&q=恒鼎").get_data(as_text=True)
    assert f"/orders/{order_id}" in listing
    assert f"/orders/{order_id}" not in pages.get("/orders?status=draft").get_data(as_text=True)
    assert "226.00" in pages.get(f"/orders/{order_id}/print").get_data(as_text=True)


def test_bad_order_input_shows_errors_next_to_fields_and_writes_nothing(pages: Any, store: Any, world: dict[str, Any]) -> None:
    before = (count(store, "sales_orders"), store.pending_count())
    cases = [
        ({"customer_id": ""}, lines_form((world["valve"], "1", "100", "", "")), "f-customer_id"),
        ({"customer_id": world["customer"], "delivery_date": "2026-13-40"}, lines_form((world["valve"], "1", "100", "", "")), "f-delivery_date"),
        ({"customer_id": world["customer"]}, lines_form((world["valve"], "-2", "100", "", "")), "lines-0-quantity"),
        ({"customer_id": world["customer"]}, lines_form((world["valve"], "1", "1.005", "", "")), "lines-0-unit_price"),
        ({"customer_id": world["customer"]}, lines_form((world["valve"], "1", "100", "120", "")), "lines-0-discount"),
        ({"customer_id": world["customer"]}, lines_form(("no-such-product", "1", "100", "", "")), "lines-0-product_id"),
        ({"customer_id": world["customer"]}, {}, "e-lines"),
        ({"customer_id": "not-a-customer"}, lines_form((world["valve"], "1", "100", "", "")), "f-customer_id"),
    ]
    for fields, lines, marker in cases:
        response = pages.post("/orders/new", {**fields, **lines})
        html = response.get_data(as_text=True)
        assert response.status_code in (404, 422), (marker, response.status_code)
        assert 'class="error"' in html, marker
        # the error sits at the field: the input named by the marker is flagged invalid
        if marker == "lines-0-product_id":  # the visible picker next to the hidden id is flagged
            assert re.search(r'class="l-search"[^>]*aria-invalid="true"', html), marker
        elif marker.startswith("lines-"):
            assert re.search(rf'name="{marker}"[^>]*aria-invalid="true"', html), marker
        elif marker.startswith("f-"):
            assert re.search(rf'id="{marker}"[^>]*aria-invalid="true"', html), marker
        else:
            assert f'id="{marker}"' in html, marker
    assert (count(store, "sales_orders"), store.pending_count()) == before
    # without the CSRF token nothing is written either
    refused = pages.client.post("/orders/new", data={"customer_id": world["customer"], **lines_form((world["valve"], "1", "100", "", ""))})
    assert refused.status_code == 400 and count(store, "sales_orders") == before[0]


def test_submitted_order_is_frozen(pages: Any, store: Any, world: dict[str, Any]) -> None:
    order_id = location_id(pages.post("/orders/new", {"customer_id": world["customer"], "then": "submit",
                                                      **lines_form((world["gear"], "10", "12.5", "", ""))}))
    order = store.get("sales_order", order_id)
    assert order["status"] == "submitted" and order["total"] == 125.0
    pending = store.pending_count()
    assert pages.get(f"/orders/{order_id}/edit").status_code == 409
    response = pages.post(f"/orders/{order_id}/edit", {"customer_id": world["customer"], **lines_form((world["gear"], "99", "12.5", "", ""))})
    assert response.status_code == 409
    assert "cannot be changed" in response.get_data(as_text=True)
    assert store.get("sales_order", order_id)["total"] == 125.0 and store.pending_count() == pending
    assert pages.post(f"/orders/{order_id}/delete", {"confirm": "yes"}).status_code == 302
    assert store.get("sales_order", order_id).get("deleted") in (None, 0, False)


def test_approver_sees_decisions_only_with_the_right_and_decides_offline(pages: Any, store: Any, world: dict[str, Any],
                                                                       enrolled: dict[str, Any]) -> None:
    order_id = location_id(pages.post("/orders/new", {"customer_id": world["customer"], "then": "submit",
                                                      **lines_form((world["valve"], "1", "100", "", ""))}))
    bench = pages.get("/workbench").get_data(as_text=True)
    assert "pending-approvals" not in bench and "btn-approve" not in bench
    assert pages.post(f"/orders/{order_id}/approve", {"version": "x"}).status_code == 403
    assert count(store, "approvals") == 0

    set_rights(store, enrolled["id"], RIGHTS_REP + ",orders.approve")
    bench = pages.get("/workbench").get_data(as_text=True)
    assert "pending-approvals" in bench and "btn-approve" in bench and f'data-id="{order_id}"' in bench
    version = re.search(r'name="version" value="([0-9a-f]+)"', pages.get(f"/orders/{order_id}").get_data(as_text=True)).group(1)

    # a stale version: refused, nothing recorded
    stale = pages.post(f"/orders/{order_id}/approve", {"version": "0" * 20})
    assert stale.status_code == 409 and "changed since you opened it" in stale.get_data(as_text=True)
    # rejecting needs a reason
    unreasoned = pages.post(f"/orders/{order_id}/reject", {"version": version, "reason": "  "})
    assert unreasoned.status_code == 422 and count(store, "approvals") == 0

    approved = pages.post(f"/orders/{order_id}/approve", {"version": version, "back": "workbench"})
    assert approved.status_code == 302 and approved.headers["Location"].endswith("/workbench")
    assert count(store, "approvals") == 1
    assert store.get("sales_order", order_id)["status"] == "submitted"  # the server decides when it syncs
    view = pages.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "approved — waiting for sync" in view and "btn-approve" not in view
    assert "approved — waiting for sync" in pages.get("/workbench").get_data(as_text=True)
    assert pages.post(f"/orders/{order_id}/approve", {"version": version}).status_code == 409  # already decided


def test_receipt_form_allocates_to_approved_orders(pages: Any, store: Any, world: dict[str, Any], enrolled: dict[str, Any]) -> None:
    order_id = location_id(pages.post("/orders/new", {"customer_id": world["customer"],
                                                      **lines_form((world["valve"], "2", "100", "", ""))}))
    # the server approved it (as a sync would bring it)
    store.update("sales_order", order_id, {"status": "approved", "approved_at": "2026-01-01T10:00:00+08:00",
                                           "due_date": "2025-11-01", "number": "SO20260101001", "number_is_final": True}, "server")
    fragment = pages.get(f"/receipts/allocations?customer_id={world['customer']}").get_data(as_text=True)
    assert "SO20260101001" in fragment and "200.00" in fragment
    ledger = pages.get(f"/receivables?customer_id={world['customer']}").get_data(as_text=True)
    assert "SO20260101001" in ledger and 'id="outstanding-total">200.00' in ledger
    assert "SO20260101001" in pages.get("/workbench").get_data(as_text=True)  # overdue since November
    assert "btn-receive" in pages.get(f"/orders/{order_id}").get_data(as_text=True)

    before = count(store, "receipts")
    too_much = pages.post("/receipts/new", {"customer_id": world["customer"], "method": "cash", "amount": "300",
                                            "received_at": "2026-01-01", f"alloc-{order_id}": "250"})
    assert too_much.status_code == 422 and "More than the order still owes" in too_much.get_data(as_text=True)
    no_amount = pages.post("/receipts/new", {"customer_id": world["customer"], "method": "cash", "amount": "",
                                             "received_at": "2026-01-01"})
    assert no_amount.status_code == 422 and re.search(r'id="f-amount"[^>]*aria-invalid="true"', no_amount.get_data(as_text=True))
    assert count(store, "receipts") == before

    receipt_id = location_id(pages.post("/receipts/new", {"customer_id": world["customer"], "method": "bank_transfer",
                                                          "payer": "恒鼎财务", "amount": "120", "received_at": "2026-01-01",
                                                          f"alloc-{order_id}": "120", "then": "submit"}))
    receipt = store.get("receipt", receipt_id)
    assert receipt["status"] == "submitted" and receipt["amount"] == 120.0
    page = pages.get(f"/receipts/{receipt_id}").get_data(as_text=True)
    assert "SO20260101001" in page and "120.00" in page

    quick = pages.post(f"/orders/{order_id}/receive", {"amount": "80", "method": "cash", "received_at": "2026-01-01"})
    quick_id = location_id(quick)
    assert store.get("receipt", quick_id)["amount"] == 80.0


def test_opportunities_funnel_and_products(pages: Any, store: Any, world: dict[str, Any]) -> None:
    form = pages.get(f"/opportunities/new?customer_id={world['customer']}").get_data(as_text=True)
    assert 'value="proposal"' in form and "Proposal" in form or "方案" in form
    bad = pages.post("/opportunities/new", {"customer_id": world["customer"], "name": "", "stage": "proposal", "amount": "abc"})
    assert bad.status_code == 422 and count(store, "opportunities") == 0
    created = pages.post("/opportunities/new", {"customer_id": world["customer"], "name": "二期产线改造", "stage": "proposal",
                                                "amount": "50000", "expected_date": "2026-03-01"})
    assert created.status_code == 302
    opportunity = store.rows("opportunity")[0]
    assert opportunity["probability"] == 50 and opportunity["amount"] == 50000.0
    listing = pages.get(f"/opportunities?customer_id={world['customer']}").get_data(as_text=True)
    assert "二期产线改造" in listing and "50,000.00" in listing
    edited = pages.post(f"/opportunities/{opportunity['id']}/edit", {"customer_id": world["customer"], "name": "二期产线改造",
                                                                     "stage": "won", "amount": "48000"})
    assert edited.status_code == 302 and store.get("opportunity", opportunity["id"])["stage"] == "won"
    funnel = pages.get("/funnel").get_data(as_text=True)
    assert 'data-stage="won"' in funnel and "48,000.00" in funnel

    products = pages.get("/products?q=阀门").get_data(as_text=True)
    assert "V-100" in products and "G-200" not in products and "100.00" in products
    picked = pages.get("/products/pick?q=G-2").get_json()
    assert [p["code"] for p in picked["items"]] == ["G-200"] and picked["items"][0]["price"] == 12.5
    assert "cost" not in picked["items"][0]


def test_customer_page_links_to_its_sales(pages: Any, world: dict[str, Any]) -> None:
    html = pages.get(f"/customers/{world['customer']}").get_data(as_text=True)
    for path in ("/orders", "/quotes", "/opportunities", "/receivables"):
        assert f"{path}?customer_id={world['customer']}" in html


@pytest.mark.parametrize("lang, lang_attr, word", [("zh_CN", "zh", "保存"), ("en", "en", "Save")])
def test_pages_render_in_zh_and_en(pages: Any, world: dict[str, Any], lang: str, lang_attr: str, word: str) -> None:
    pages.get(f"/lang/{lang}")
    order_id = location_id(pages.post("/orders/new", {"customer_id": world["customer"], **lines_form((world["valve"], "1", "100", "", ""))}))
    quote_id = location_id(pages.post("/quotes/new", {"customer_id": world["customer"], **lines_form((world["valve"], "1", "100", "", ""))}))
    for path in ("/workbench", "/products", "/opportunities", "/opportunities/new", "/funnel", "/quotes", "/quotes/new",
                 f"/quotes/{quote_id}", f"/quotes/{quote_id}/print", "/orders", "/orders/new", f"/orders/{order_id}",
                 f"/orders/{order_id}/edit", f"/orders/{order_id}/print", "/receipts", "/receipts/new", "/receivables"):
        response = pages.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert f'<html lang="{lang_attr}' in html, path
    edit = pages.get(f"/quotes/{quote_id}/edit").get_data(as_text=True)
    assert word in edit
    assert ("保存" in edit) == (lang == "zh_CN")


def test_receipt_approver_rejects_offline_with_a_reason(pages: Any, store: Any, world: dict[str, Any], enrolled: dict[str, Any]) -> None:
    order_id = location_id(pages.post("/orders/new", {"customer_id": world["customer"], **lines_form((world["valve"], "1", "100", "", ""))}))
    store.update("sales_order", order_id, {"status": "approved", "approved_at": "2026-01-01T10:00:00+08:00"}, "server")
    receipt_id = location_id(pages.post("/receipts/new", {"customer_id": world["customer"], "method": "cash", "amount": "100",
                                                          "received_at": "2026-01-01", f"alloc-{order_id}": "100", "then": "submit"}))
    assert "btn-approve" not in pages.get(f"/receipts/{receipt_id}").get_data(as_text=True)
    set_rights(store, enrolled["id"], RIGHTS_REP + ",receipts.approve")
    page = pages.get(f"/receipts/{receipt_id}").get_data(as_text=True)
    assert "btn-approve" in page
    version = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    assert pages.post(f"/receipts/{receipt_id}/edit", {"customer_id": world["customer"], "method": "cash", "amount": "50",
                                                       "received_at": "2026-01-01"}).status_code == 409  # submitted: frozen
    rejected = pages.post(f"/receipts/{receipt_id}/reject", {"version": version, "reason": "金额与银行回单不符"})
    assert rejected.status_code == 302
    decision = store.db.execute("SELECT action, reason, version FROM approvals WHERE record_id = ?", [receipt_id]).fetchone()
    assert tuple(decision) == ("reject", "金额与银行回单不符", version)
    assert "rejected — waiting for sync" in pages.get(f"/receipts/{receipt_id}").get_data(as_text=True)
