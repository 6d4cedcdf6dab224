"""The server's sales pages through the Flask test client: the workbench, products and categories
with purchase costs, orders / quotes / receipts with approve and reject (CSRF, the version seen,
a stale version refused), print views, receivables, numbering rules, targets and the funnel.
"""
from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import org, sales
from server_testkit import PASSWORD, PageAuth, api_token, csrf_from, customer_values


def bearer(client: FlaskClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client, username)}"}


@pytest.fixture
def world(client: FlaskClient, store: Any, people: dict[str, Any]) -> dict[str, Any]:
    """A boss (approver of everything), two reps, a clerk; two products; rep1's customer and a submitted order."""
    h = {name: bearer(client, name) for name in ("rep1", "rep2", "boss")}
    boss = h["boss"]
    widget = client.post("/api/products", headers=boss, json={"code": "W-1", "name": "Valve", "price": 100, "unit": "pc"}).get_json()
    gear = client.post("/api/products", headers=boss, json={"code": "G-2", "name": "Gear", "price": 12.5}).get_json()
    customer = client.post("/api/customers", headers=h["rep1"], json=customer_values("Yuanhang Trading")).get_json()
    order = client.post("/api/orders", headers=h["rep1"], json={"customer_id": customer["id"], "due_date": "2026-01-10", "lines": [
        {"product_id": widget["id"], "quantity": 3, "unit_price": 100, "discount": 10, "tax_rate": 13},
        {"product_id": gear["id"], "quantity": 4, "unit_price": 12.5}]}).get_json()
    submitted = client.post(f"/api/orders/{order['id']}/submit", headers=h["rep1"]).get_json()
    return {"h": h, "widget": widget, "gear": gear, "customer": customer, "order": submitted, "people": people}


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> PageAuth:
    auth = PageAuth(client)
    response = auth.login(username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    client.get("/lang/en")  # the assertions read English; the zh_CN rendering has its own test
    return auth


def form_of(html: str, form_id: str) -> dict[str, str]:
    """The hidden inputs of one form on a page (as a browser would post them)."""
    match = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert match, f"no form #{form_id}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(0)))


PAGES = ["/workbench", "/products", "/products/categories", "/products/new", "/orders", "/orders?status=submitted&q=SO",
         "/quotes", "/receipts", "/receivables", "/funnel", "/targets", "/settings/numbering"]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_sales_page_renders_for_the_boss_in_both_languages(client: FlaskClient, world: dict[str, Any], lang: str) -> None:
    login(client, "boss")
    client.get(f"/lang/{lang}")
    order = world["order"]
    for path in [*PAGES, f"/orders/{order['id']}", f"/orders/{order['id']}/print", f"/products/{world['widget']['id']}"]:
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (path, response.status_code)
        assert f'lang="{lang[:2]}' in html, path
    if lang == "zh_CN":
        assert "客户" in client.get("/workbench").get_data(as_text=True)  # the layout's catalogue strings
    else:
        assert "Workbench" in client.get("/workbench").get_data(as_text=True)


def test_pages_need_a_login(client: FlaskClient, world: dict[str, Any]) -> None:
    for path in ("/workbench", "/orders", f"/orders/{world['order']['id']}", "/products", "/receivables"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_workbench_shows_pending_approvals_to_approvers_and_drafts_to_their_owner(client: FlaskClient, world: dict[str, Any]) -> None:
    order = world["order"]
    login(client, "boss")
    html = client.get("/workbench").get_data(as_text=True)
    pending = html[html.index('id="pending-approvals"'):html.index('id="my-target"')]
    assert f'/orders/{order["id"]}' in pending and order["number"] in pending and "355.10" in pending
    client.post("/logout", data={"csrf_token": csrf_from(html)})

    draft = client.post("/api/orders", headers=world["h"]["rep1"], json={"customer_id": world["customer"]["id"], "lines": [
        {"product_id": world["gear"]["id"], "quantity": 1, "unit_price": 12.5}]}).get_json()
    login(client, "rep1")
    html = client.get("/workbench").get_data(as_text=True)
    pending = html[html.index('id="pending-approvals"'):html.index('id="my-target"')]
    assert order["id"] not in pending and "Nothing waits for your decision" in pending  # a rep approves nothing
    mine = html[html.index('id="my-documents"'):]
    assert f'/orders/{draft["id"]}' in mine
    # the rep's nav has no numbering rules, no funnel of others' costs
    assert "/settings/numbering" not in html and "/orders" in html


def test_boss_approves_with_the_version_seen_and_csrf(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    order = world["order"]
    login(client, "boss")
    html = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert "355.10" in html and "Valve" in html and 'id="approve-form"' in html
    approve = form_of(html, "approve-form")
    assert approve["version"] == order["version"] and approve["action"] == "approve"
    without_csrf = client.post(f"/orders/{order['id']}/decision", data={k: v for k, v in approve.items() if k != "csrf_token"})
    assert without_csrf.status_code == 400
    assert client.get(f"/api/orders/{order['id']}", headers=world["h"]["boss"]).get_json()["status"] == "submitted"
    done = client.post(f"/orders/{order['id']}/decision", data=approve)
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Approved" in page or "已批准" in page
    assert 'id="approve-form"' not in page  # decided: no more buttons
    assert client.get(f"/api/orders/{order['id']}", headers=world["h"]["boss"]).get_json()["status"] == "approved"
    assert sales.journal_totals(store) == (35510, 35510)
    history = page[page.index('id="history"'):]
    assert "Zhang Boss" in history


def test_reject_needs_a_reason_then_resubmit_and_a_stale_approval_is_refused(client: FlaskClient, world: dict[str, Any]) -> None:
    order, rep, boss_api = world["order"], world["h"]["rep1"], world["h"]["boss"]
    login(client, "boss")
    html = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    reject = form_of(html, "reject-form")
    approve = form_of(html, "approve-form")  # kept: the version the boss saw before the rep's change
    no_reason = client.post(f"/orders/{order['id']}/decision", data={**reject, "reason": "  "})
    assert no_reason.status_code == 422 and "reason is required" in no_reason.get_data(as_text=True)
    assert client.get(f"/api/orders/{order['id']}", headers=boss_api).get_json()["status"] == "submitted"
    done = client.post(f"/orders/{order['id']}/decision", data={**reject, "reason": "Price too low"}, follow_redirects=True)
    assert done.status_code == 200 and "Price too low" in done.get_data(as_text=True)
    assert client.get(f"/api/orders/{order['id']}", headers=boss_api).get_json()["reject_reason"] == "Price too low"

    # the rep edits and resubmits through the API; the boss's old page is stale now
    client.patch(f"/api/orders/{order['id']}", headers=rep, json={"lines": [
        {"product_id": world["widget"]["id"], "quantity": 3, "unit_price": 110}]})
    client.post(f"/api/orders/{order['id']}/submit", headers=rep)
    stale = client.post(f"/orders/{order['id']}/decision", data=approve)
    text = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "changed since you opened it" in text and 'id="decision-error"' in text
    assert client.get(f"/api/orders/{order['id']}", headers=boss_api).get_json()["status"] == "submitted"
    fresh = form_of(text, "approve-form")  # the refused page shows the current version
    assert fresh["version"] != approve["version"]
    assert client.post(f"/orders/{order['id']}/decision", data=fresh).status_code == 303
    assert client.get(f"/api/orders/{order['id']}", headers=boss_api).get_json()["status"] == "approved"


def test_a_rep_cannot_decide_and_never_sees_costs(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    from server.sales_setup_pages import save_product_cost

    save_product_cost(store, world["widget"]["id"], "61.2345", world["people"]["boss"]["id"])
    order = world["order"]
    auth = login(client, "rep1")
    html = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert 'id="approve-form"' not in html and 'id="reject-form"' not in html
    token = auth.csrf(f"/orders/{order['id']}")
    for action in ("approve", "reject"):
        refused = client.post(f"/orders/{order['id']}/decision",
                              data={"csrf_token": token, "action": action, "version": order["version"], "reason": "x"})
        assert refused.status_code == 403
    assert client.get(f"/api/orders/{order['id']}", headers=world["h"]["rep1"]).get_json()["status"] == "submitted"
    for path in ("/products", f"/products/{world['widget']['id']}"):
        page = client.get(path).get_data(as_text=True)
        assert "61.2345" not in page and "61.23" not in page and "Purchase cost" not in page and 'id="cost"' not in page
    assert client.post(f"/products/{world['widget']['id']}/cost", data={"csrf_token": token, "cost": "1"}).status_code == 403
    assert client.get("/products/new").status_code == 403
    assert client.get("/settings/numbering").status_code == 403
    assert client.get(f"/products/{world['widget']['id']}/delete").status_code == 403
    # another rep does not even see the order
    client.post("/logout", data={"csrf_token": token})
    login(client, "rep2")
    assert client.get(f"/orders/{order['id']}").status_code == 404
    assert order["id"] not in client.get("/orders").get_data(as_text=True)


@pytest.mark.parametrize("path, rep, clerk", [
    ("/workbench", 200, 200), ("/products", 200, 200), ("/orders", 200, 200), ("/quotes", 200, 403),
    ("/receipts", 200, 403), ("/receivables", 200, 403), ("/funnel", 200, 403), ("/targets", 200, 403),
    ("/settings/numbering", 403, 403), ("/products/new", 403, 403), ("/receivables?format=csv", 200, 403),
])
def test_pages_follow_the_rights_of_a_rep_and_a_warehouse_clerk(client: FlaskClient, world: dict[str, Any], path: str,
                                                                 rep: int, clerk: int) -> None:
    for username, expected in (("rep1", rep), ("clerk", clerk)):
        login(client, username)
        assert client.get(path).status_code == expected, (username, path)
        nav = client.get("/workbench").get_data(as_text=True).split("</nav>")[0]
        link = f'href="{path.split("?")[0]}"'
        if expected == 403 and path != "/products/new":
            assert link not in nav, (username, path)  # no link to a page the user may not open
        elif path not in ("/products/new", "/receivables?format=csv"):
            assert link in nav, (username, path)
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/workbench").get_data(as_text=True))})


def test_boss_and_finance_see_and_set_costs(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    from server.sales_setup_pages import product_cost

    widget = world["widget"]
    auth = login(client, "boss")
    token = auth.csrf(f"/products/{widget['id']}")
    bad = client.post(f"/products/{widget['id']}/cost", data={"csrf_token": token, "cost": "-3"})
    assert bad.status_code == 422 and product_cost(store, widget["id"]) is None
    assert client.post(f"/products/{widget['id']}/cost", data={"csrf_token": token, "cost": "61.5"}).status_code == 303
    assert product_cost(store, widget["id"]) == 61.5
    assert store.get("product_cost", widget["id"])["product_id"] == widget["id"]
    assert "61.50" in client.get("/products").get_data(as_text=True)
    assert client.post(f"/products/{widget['id']}/cost", data={"csrf_token": token, "cost": "62"}).status_code == 303
    assert product_cost(store, widget["id"]) == 62
    client.post("/logout", data={"csrf_token": token})

    from server import users
    users.create_user(store, "fin", PASSWORD, "finance", display_name="Qian Finance")
    login(client, "fin")
    assert "62.00" in client.get("/products").get_data(as_text=True)
    assert client.get("/products/new").status_code == 403  # finance views products, does not edit them


def test_product_create_edit_search_paging_and_delete_after_confirmation(client: FlaskClient, app: Flask, world: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 5
    auth = login(client, "boss")
    token = auth.csrf("/products/new")
    tools = client.post("/products/categories", data={"csrf_token": token, "op": "add", "name": "Tools"})
    assert tools.status_code == 303
    html = client.get("/products/categories").get_data(as_text=True)
    tools_id = re.search(r'name="category_id" value="([^"]+)"', html).group(1)
    client.post("/products/categories", data={"csrf_token": token, "op": "add", "name": "Hammers", "parent_id": tools_id})
    html = client.get("/products/categories").get_data(as_text=True)
    assert 'data-category="Tools/Hammers"' in html
    hammers_id = re.search(r'data-category="Tools/Hammers">.*?name="category_id" value="([^"]+)"', html, re.S).group(1)
    assert hammers_id != tools_id
    cycle = client.post("/products/categories", data={"csrf_token": token, "op": "move", "category_id": tools_id,
                                                      "parent_id": hammers_id}, follow_redirects=True)
    assert "cannot move under itself" in cycle.get_data(as_text=True)

    for n in range(7):
        made = client.post("/products/new", data={"csrf_token": token, "code": f"H-{n:02d}", "name": f"Hammer {n}",
                                                  "price": "9.90", "category_id": hammers_id, "cost": "5.1234"})
        assert made.status_code == 303, made.get_data(as_text=True)
    bad = client.post("/products/new", data={"csrf_token": token, "code": "H-00", "name": "dup", "price": "1"})
    assert bad.status_code == 409 and "Another product has this code" in bad.get_data(as_text=True)
    bad = client.post("/products/new", data={"csrf_token": token, "code": "Z", "name": "z", "price": "1.005"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)

    assert client.get(f"/products?category_id={hammers_id}").get_data(as_text=True).count('data-product="H-') == 5
    first = client.get(f"/products?category_id={tools_id}").get_data(as_text=True)  # a category holds its sub-categories
    assert first.count('data-product="H-') == 5 and "H-00" in first and "H-05" not in first and "5.12" in first
    second = client.get(f"/products?category_id={tools_id}&page=2").get_data(as_text=True)
    assert second.count('data-product="H-') == 2 and "H-06" in second
    assert client.get("/products?q=Hammer 3").get_data(as_text=True).count('data-product=') == 1
    assert client.get("/products?page=99").status_code == 200

    product_id = re.search(r'href="/products/([^"/]+)">H-03<', client.get("/products?q=H-03").get_data(as_text=True)).group(1)
    edited = client.post(f"/products/{product_id}", data={"csrf_token": token, "code": "H-03", "name": "Claw hammer",
                                                          "price": "12", "category_id": hammers_id})
    assert edited.status_code == 303 and "Claw hammer" in client.get("/products?q=H-03").get_data(as_text=True)

    # delete: a GET asks; a POST without the confirmation asks again; only the confirmed POST deletes
    asked = client.get(f"/products/{product_id}/delete").get_data(as_text=True)
    assert 'id="confirm"' in asked and "Claw hammer" in asked and 'name="confirm" value="yes"' in asked
    unconfirmed = client.post(f"/products/{product_id}/delete", data={"csrf_token": token})
    assert unconfirmed.status_code == 200 and 'id="confirm"' in unconfirmed.get_data(as_text=True)
    assert 'data-product="H-03"' in client.get("/products?q=H-03").get_data(as_text=True)
    assert client.post(f"/products/{product_id}/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 303
    assert 'data-product="H-03"' not in client.get("/products?q=H-03").get_data(as_text=True)
    assert client.get(f"/products/{product_id}").status_code == 404

    renamed = client.post("/products/categories", data={"csrf_token": token, "op": "rename", "category_id": hammers_id,
                                                        "name": "Claw hammers"})
    assert renamed.status_code == 303 and 'data-category="Tools/Claw hammers"' in client.get("/products/categories").get_data(as_text=True)
    busy = client.post(f"/products/categories/{hammers_id}/delete", data={"csrf_token": token, "confirm": "yes"},
                       follow_redirects=True)
    assert "still holds products" in busy.get_data(as_text=True)


def test_order_list_search_status_filter_and_paging(client: FlaskClient, app: Flask, world: dict[str, Any]) -> None:
    rep = world["h"]["rep1"]
    other = client.post("/api/customers", headers=rep, json=customer_values("Mingda Machinery")).get_json()
    for _ in range(6):
        client.post("/api/orders", headers=rep, json={"customer_id": other["id"], "lines": [
            {"product_id": world["gear"]["id"], "quantity": 1, "unit_price": 12.5}]})
    app.config["PAGE_SIZE"] = 4
    login(client, "boss")
    html = client.get("/orders").get_data(as_text=True)
    assert html.count("data-record=") == 4 and 'rel="next"' in html
    assert client.get("/orders?page=2").get_data(as_text=True).count("data-record=") == 3
    assert client.get("/orders?q=Mingda").get_data(as_text=True).count("data-record=") == 4
    assert client.get("/orders?q=Mingda&page=2").get_data(as_text=True).count("data-record=") == 2
    submitted = client.get("/orders?status=submitted").get_data(as_text=True)
    assert submitted.count("data-record=") == 1 and world["order"]["id"] in submitted
    by_number = client.get(f"/orders?q={world['order']['number']}").get_data(as_text=True)
    assert by_number.count("data-record=") == 1
    assert client.get("/orders?status=nonsense").status_code == 200


def test_print_views_have_the_company_header_and_print_css(client: FlaskClient, app: Flask, store: Any, world: dict[str, Any]) -> None:
    quote = client.post("/api/quotes", headers=world["h"]["rep1"], json={"customer_id": world["customer"]["id"], "lines": [
        {"product_id": world["gear"]["id"], "quantity": 10, "unit_price": 12, "tax_rate": 13}]}).get_json()
    login(client, "rep1")
    page = client.get(f"/orders/{world['order']['id']}/print").get_data(as_text=True)
    assert org.root(store)["name"] in page and "@media print" in page and "355.10" in page and "Valve" in page
    assert 'class="topnav"' not in page
    app.config["COMPANY_NAME"] = "Hangzhou Fieldbook Ltd"
    page = client.get(f"/quotes/{quote['id']}/print").get_data(as_text=True)
    assert "Hangzhou Fieldbook Ltd" in page and "135.60" in page
    assert quote["number"] in client.get(f"/quotes/{quote['id']}").get_data(as_text=True)
    assert quote["id"] in client.get("/quotes").get_data(as_text=True)


def test_receipts_are_approved_on_their_page_and_receivables_age(client: FlaskClient, clock: Any, store: Any, world: dict[str, Any]) -> None:
    order, rep, boss_api = world["order"], world["h"]["rep1"], world["h"]["boss"]
    client.post(f"/api/orders/{order['id']}/approve", headers=boss_api, json={"version": order["version"]})
    receipt = client.post(f"/api/orders/{order['id']}/receive", headers=rep, json={"amount": 100, "method": "cash", "submit": True}).get_json()
    from server import users
    fin = users.create_user(store, "fin", PASSWORD, "finance", display_name="Qian Finance")
    org.set_user_role(store, fin["id"], "receipt_approval", True)  # approves receipts, not orders

    login(client, "fin")
    wb = client.get("/workbench").get_data(as_text=True)
    pending = wb[wb.index('id="pending-approvals"'):wb.index('id="my-target"')]
    assert f"/receipts/{receipt['id']}" in pending and f"/orders/{order['id']}" not in pending
    html = client.get(f"/receipts/{receipt['id']}").get_data(as_text=True)
    assert "100.00" in html and order["number"] in html
    done = client.post(f"/receipts/{receipt['id']}/decision", data=form_of(html, "approve-form"))
    assert done.status_code == 303
    assert client.get(f"/api/receipts/{receipt['id']}", headers=boss_api).get_json()["status"] == "approved"

    login(client, "boss")
    ledger = client.get("/receivables").get_data(as_text=True)
    summary = ledger[ledger.index('id="summary"'):ledger.index('id="aging-chart"')]
    assert "255.10" in summary  # 355.10 − 100
    chart = ledger[ledger.index('id="aging-chart"'):ledger.index('id="per-customer"')]
    assert chart.count("data-bucket=") == 6 and "width: 100.0%" in chart
    assert "Yuanhang Trading" in ledger[ledger.index('id="per-customer"'):]
    assert order["number"] in ledger[ledger.index('id="per-order"'):]
    one = client.get(f"/receivables?customer_id={world['customer']['id']}").get_data(as_text=True)
    assert "255.10" in one
    # 40 days on, the order (due 2026-01-10) is 31 days overdue: the 30–60 bucket, and a reminder on the workbench
    clock.advance(40 * 86_400_000)
    aged = client.get("/receivables").get_data(as_text=True)
    assert re.search(r'data-bucket="30_60">.*?width: 100.0%.*?255.10', aged, re.S)
    assert re.search(r'data-bucket="not_yet_due">.*?width: 0.0%', aged, re.S)
    wb = client.get("/workbench").get_data(as_text=True)
    overdue = wb[wb.index('id="overdue"'):]
    assert order["number"] in overdue and "255.10" in overdue and ">31<" in overdue
    export = client.get("/receivables?format=xlsx")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    from openpyxl import load_workbook
    rows = list(load_workbook(io.BytesIO(export.data)).active.iter_rows(values_only=True))
    assert rows[1][0] == order["number"] and rows[1][4] == 255.1


def test_numbering_rules_are_edited_by_the_boss(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    auth = login(client, "boss")
    client.get("/lang/zh_CN")
    html = client.get("/settings/numbering").get_data(as_text=True)
    assert 'data-doc-type="sales_order"' in html and "<code>lead</code>" in html and "初步接洽" in html  # stage names per language
    client.get("/lang/en")
    assert "Initial contact" in client.get("/settings/numbering").get_data(as_text=True)
    token = auth.csrf("/settings/numbering")
    bad = client.post("/settings/numbering", data={"csrf_token": token, "doc_type": "sales_order", "prefix": "X-S",
                                                   "date_format": "YYMMDD", "digits": "3"}, follow_redirects=True)
    assert "Not saved" in bad.get_data(as_text=True)
    ok = client.post("/settings/numbering", data={"csrf_token": token, "doc_type": "sales_order", "prefix": "XS",
                                                  "date_format": "YYMMDD", "digits": "3"})
    assert ok.status_code == 303
    assert next(r for r in sales.numbering_rules(store) if r["doc_type"] == "sales_order")["prefix"] == "XS"
    new = client.post("/api/orders", headers=world["h"]["rep1"], json={"customer_id": world["customer"]["id"], "lines": [
        {"product_id": world["gear"]["id"], "quantity": 1, "unit_price": 12.5}]}).get_json()
    assert new["number"].startswith("XS") and len(new["number"]) == 2 + 6 + 3


def test_targets_set_by_a_manager_for_the_team_and_shown_with_progress(client: FlaskClient, store: Any, world: dict[str, Any]) -> None:
    order, boss_api = world["order"], world["h"]["boss"]
    client.post(f"/api/orders/{order['id']}/approve", headers=boss_api, json={"version": order["version"]})
    month = client.get(f"/api/orders/{order['id']}", headers=boss_api).get_json()["approved_at"][:7]
    rep1 = world["people"]["rep1"]["id"]
    auth = login(client, "boss")
    token = auth.csrf("/targets")
    bad = client.post("/targets", data={"csrf_token": token, "month": month, "user_id": rep1, "amount": "abc"}, follow_redirects=True)
    assert "Not saved" in bad.get_data(as_text=True)
    assert client.post("/targets", data={"csrf_token": token, "month": month, "user_id": rep1, "amount": "1000"}).status_code == 303
    html = client.get(f"/targets?month={month}").get_data(as_text=True)
    row = html[html.index(f'data-user="{rep1}"'):]
    assert "1,000.00" in row and "355.10" in row and "35.5" in row
    client.post("/logout", data={"csrf_token": token})

    auth = login(client, "rep1")
    assert month == "2026-01"  # the test clock's month, also the workbench's "this month"
    wb = client.get("/workbench").get_data(as_text=True)
    target = wb[wb.index('id="my-target"'):]
    assert 'role="progressbar"' in target and 'aria-valuenow="35.5"' in target and "1,000.00" in target
    token = auth.csrf("/targets")
    refused = client.post("/targets", data={"csrf_token": token, "month": month, "user_id": rep1, "amount": "1"})
    assert refused.status_code == 403  # a rep views targets, does not set them
    assert 'id="set-target"' not in client.get("/targets").get_data(as_text=True)


def test_funnel_shows_stages_with_counts_and_amounts(client: FlaskClient, world: dict[str, Any]) -> None:
    rep = world["h"]["rep1"]
    for stage, amount in (("lead", 1000), ("proposal", 5000), ("proposal", 2500)):
        made = client.post("/api/opportunities", headers=rep, json={"customer_id": world["customer"]["id"], "name": f"deal {amount}",
                                                                    "stage": stage, "amount": amount})
        assert made.status_code == 201, made.get_json()
    login(client, "rep1")
    html = client.get("/funnel").get_data(as_text=True)
    proposal = html[html.index('data-stage="proposal"'):html.index('data-stage="negotiation"')]
    assert "7,500.00" in proposal and ">2<" in proposal and "width: 100.0%" in proposal
    lead = html[html.index('data-stage="lead"'):html.index('data-stage="need"')]
    assert "1,000.00" in lead and "width: 13.3%" in lead
