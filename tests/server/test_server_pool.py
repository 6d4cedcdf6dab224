"""The customer pool (release, claim, transfer, assign) over REST, pages and sync, and forged
requests: a rep reaches another rep's customer through no endpoint."""
from __future__ import annotations

import pytest

from server import oplog, org
from server_testkit import PASSWORD, HttpError, api_token, customer_values
from shared.web.api import CrmService
from sync import SCHEMA_VERSION, TransportUnavailable

def bearer(client, username):
    return {"Authorization": f"Bearer {api_token(client, username)}"}

@pytest.fixture
def book(store, people):
    """rep1 and rep2 each own a customer with a contact; one customer sits in the pool."""
    boss = people["boss"]["id"]
    ids = {
        "rep1": store.create("customer", customer_values("一号客户", owner_id=people["rep1"]["id"]), boss),
        "rep2": store.create("customer", customer_values("二号客户", owner_id=people["rep2"]["id"]), boss),
        "pool": store.create("customer", customer_values("公海客户"), boss),
    }
    ids["contact2"] = store.create("contact", {"customer_id": ids["rep2"], "name": "王经理"}, boss)
    return ids

def owner(store, customer_id):
    return store.get("customer", customer_id)["owner_id"]

# ---- REST actions ------------------------------------------------------------------------------
def test_claim_then_release_then_second_claim(client, store, people, book):
    rep1, rep2 = bearer(client, "rep1"), bearer(client, "rep2")
    claimed = client.post(f"/api/customers/{book['pool']}/claim", headers=rep1)
    assert claimed.status_code == 200 and claimed.get_json()["owner_id"] == people["rep1"]["id"]
    assert client.post(f"/api/customers/{book['pool']}/claim", headers=rep2).status_code == 404  # no longer in rep2's scope
    assert client.post(f"/api/customers/{book['pool']}/release", headers=rep1).get_json()["owner_id"] is None
    assert client.post(f"/api/customers/{book['pool']}/claim", headers=rep2).status_code == 200
    actions = [line["action"] for line in oplog.query(store)[0] if line["target"] == book["pool"]]
    assert actions == ["claim", "release", "claim"]

def test_a_rep_may_not_transfer_unless_permitted(client, store, people, book):
    rep1 = bearer(client, "rep1")
    refused = client.post(f"/api/customers/{book['rep1']}/transfer", json={"owner_id": people["rep2"]["id"]}, headers=rep1)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "owner_not_allowed"
    patched = client.patch(f"/api/customers/{book['rep1']}", json={"owner_id": people["rep2"]["id"]}, headers=rep1)
    assert patched.status_code == 403 and owner(store, book["rep1"]) == people["rep1"]["id"]
    org.set_user_right(store, people["rep1"]["id"], "transfer", "edit", True)
    moved = client.post(f"/api/customers/{book['rep1']}/transfer", json={"owner_id": people["rep2"]["id"]}, headers=rep1)
    assert moved.status_code == 200 and owner(store, book["rep1"]) == people["rep2"]["id"]
    bad = client.post(f"/api/customers/{book['rep2']}/transfer", json={"owner": "x"}, headers=bearer(client, "rep2"))
    assert bad.status_code == 422

def test_boss_transfers_and_assigns_many(client, store, people, book):
    boss = bearer(client, "boss")
    unknown = client.post(f"/api/customers/{book['rep1']}/transfer", json={"owner_id": "nobody"}, headers=boss)
    assert unknown.status_code == 422 and "owner_id" in unknown.get_json()["error"]["fields"]
    extra = store.create("customer", customer_values("又一个公海客户"), people["boss"]["id"])
    done = client.post("/api/customers/assign", json={"ids": [book["pool"], extra], "owner_id": people["rep2"]["id"]}, headers=boss)
    assert done.status_code == 200 and done.get_json()["total"] == 2
    assert {owner(store, book["pool"]), owner(store, extra)} == {people["rep2"]["id"]}
    assert client.post("/api/customers/assign", json={"ids": [book["rep1"]], "owner_id": people["rep2"]["id"]},
                       headers=bearer(client, "rep1")).status_code == 403

def test_assign_is_all_or_nothing(client, store, people, book):
    boss = bearer(client, "boss")
    response = client.post("/api/customers/assign", json={"ids": [book["pool"], "missing"], "owner_id": people["rep1"]["id"]}, headers=boss)
    assert response.status_code == 404
    assert owner(store, book["pool"]) is None

def test_users_directory_search(client, people):
    found = client.get("/api/users?username=rep", headers=bearer(client, "rep1")).get_json()
    assert found["total"] == 2 and {u["username"] for u in found["items"]} == {"rep1", "rep2"}
    assert set(found["items"][0]) == {"id", "username", "display_name", "role", "department"}
    assert client.get("/api/users").status_code == 401

def test_pool_list_filter(client, book):
    body = client.get("/api/customers?pool=true", headers=bearer(client, "rep1")).get_json()
    assert [c["name"] for c in body["items"]] == ["公海客户"]

# ---- forged requests: no endpoint reaches another rep's customer ----------------------------------
@pytest.mark.parametrize("method,path,body", [
    ("get", "/api/customers/{rep2}", None),
    ("patch", "/api/customers/{rep2}", {"phone": "1"}),
    ("delete", "/api/customers/{rep2}", None),
    ("post", "/api/customers/{rep2}/release", None),
    ("post", "/api/customers/{rep2}/claim", None),
    ("post", "/api/customers/{rep2}/transfer", {"owner_id": "{rep1_id}"}),
    ("get", "/api/contacts/{contact2}", None),
    ("patch", "/api/contacts/{contact2}", {"name": "x"}),
    ("post", "/api/contacts", {"customer_id": "{rep2}", "name": "x"}),
    ("post", "/api/visits", {"customer_id": "{rep2}", "method": "phone", "content": "x", "visited_at": "2026-01-05T10:00:00+08:00"}),
])
def test_rep_cannot_reach_another_reps_customer_over_rest(client, store, people, book, method, path, body):
    fill = {**book, "rep1_id": people["rep1"]["id"]}
    url = path.format(**fill)
    if body is not None:
        body = {k: v.format(**fill) if isinstance(v, str) else v for k, v in body.items()}
    before = store.get("customer", book["rep2"])
    response = getattr(client, method)(url, json=body, headers=bearer(client, "rep1"))
    assert response.status_code == 404
    assert store.get("customer", book["rep2"]) == before

def test_rep_lists_and_searches_never_show_another_reps_customer(client, book):
    rep1 = bearer(client, "rep1")
    for url in ("/api/customers?q=二号", "/api/customers?q=二号客户", "/api/customers?owner_id=" + "x", "/api/contacts?q=王"):
        assert client.get(url, headers=rep1).get_json()["total"] == 0, url
    for url in (f"/api/contacts?customer_id={book['rep2']}", f"/api/visits?customer_id={book['rep2']}"):
        answer = client.get(url, headers=rep1)  # filtering by a customer one may not see is a 404, like reading it
        assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found", url
    assert "二号客户" not in client.get("/api/customers?per_page=200", headers=rep1).get_data(as_text=True)

def test_rep_cannot_pull_or_push_another_reps_customer(client, store, people, book, devices):
    rep1, rep2 = devices("rep1"), devices("rep2")
    rep1.sync()
    rep2.sync()
    assert {r["name"] for r in rep1.store.rows("customer")} == {"一号客户", "公海客户"}
    assert rep1.store.rows("contact") == []
    # capture a real change of rep2's customer from rep2's device, then send it with rep1's token
    captured = []

    def capture(message):
        captured.append(message)
        raise TransportUnavailable("captured")

    rep2.store.update("customer", book["rep2"], {"phone": "021-forged"}, people["rep2"]["id"])
    rep2.transport.push = capture
    with pytest.raises(TransportUnavailable):
        rep2.sync()
    forged = {**captured[0], "device_id": rep1.store.site_id}
    answer = rep1.transport.push(forged)
    assert [(r["record_id"], r["reason"]) for r in answer["rejections"]] == [(book["rep2"], "out_of_scope")]
    assert "values" not in answer["rejections"][0]["detail"] or answer["rejections"][0]["detail"]["values"]["phone"] == "021-forged"
    assert store.get("customer", book["rep2"])["phone"] is None
    # the same message under rep1's token but naming rep2's device: refused and logged
    with pytest.raises(HttpError) as refused:
        rep1.transport.push(captured[0])
    assert refused.value.status == 403
    assert oplog.query(store, action="sync_refused")[0][0]["detail"]["reason"] == "device_mismatch"
    pulled = rep1.transport.pull({"schema_version": SCHEMA_VERSION, "device_id": rep1.store.site_id, "cursor": "",
                                  "limit": 500, "pending": 0, "manifest": [["customer", book["rep2"], "x"]], "app_version": None})
    assert book["rep2"] not in str(pulled["records"])

# ---- sync: claim race, transfer, permission change -----------------------------------------------
def test_offline_claim_race_first_accepted_claim_wins(client, store, people, book, devices):
    one, two = devices("rep1"), devices("rep2")
    one.sync()
    two.sync()
    CrmService(one.store, people["rep1"]).claim(book["pool"])
    CrmService(two.store, people["rep2"]).claim(book["pool"])
    one.sync()
    report = two.sync()

    assert owner(store, book["pool"]) == people["rep1"]["id"]
    assert report.rejected >= 1
    reasons = {(r["field"], r["reason"]) for r in two.store.rejections()}
    assert ("owner_id", "already_claimed") in reasons
    assert book["pool"] not in {r["id"] for r in two.store.rows("customer")}  # left rep2's scope
    assert one.store.get("customer", book["pool"])["owner_id"] == people["rep1"]["id"]
    assert [line["username"] for line in oplog.query(store, action="claim")[0]] == ["rep1"]

def test_manager_claim_race_is_judged_by_the_validator(client, store, people, book, devices):
    mgr = __import__("server.users", fromlist=["create_user"]).create_user(store, "mgr", PASSWORD, "sales_manager")
    org.set_role_right(store, "sales_manager", "transfer", "approve", False)
    rep, manager = devices("rep1"), devices("mgr")
    rep.sync()
    manager.sync()
    CrmService(rep.store, people["rep1"]).claim(book["pool"])
    CrmService(manager.store, mgr).claim(book["pool"])
    rep.sync()
    manager.sync()
    assert owner(store, book["pool"]) == people["rep1"]["id"]
    assert ("owner_id", "already_claimed") in {(r["field"], r["reason"]) for r in manager.store.rejections()}

def test_transfer_moves_the_customer_and_its_children_between_devices(client, store, people, book, devices):
    one, two = devices("rep1"), devices("rep2")
    one.sync()
    two.sync()
    client.post(f"/api/customers/{book['rep2']}/transfer", json={"owner_id": people["rep1"]["id"]}, headers=bearer(client, "boss"))
    two.sync()
    one.sync()
    assert book["rep2"] in {r["id"] for r in one.store.rows("customer")}
    assert [c["name"] for c in one.store.rows("contact")] == ["王经理"]
    assert book["rep2"] not in {r["id"] for r in two.store.rows("customer")}
    assert two.store.rows("contact") == []

def test_permission_change_applies_to_the_next_push(client, store, people, book, devices):
    one = devices("rep1")
    one.sync()
    org.set_role_right(store, "sales_rep", "customers", "edit", False)
    one.store.update("customer", book["rep1"], {"phone": "1"}, people["rep1"]["id"])
    one.sync()
    assert ("phone", "no_permission") in {(r["field"], r["reason"]) for r in one.store.rejections()}
    assert store.get("customer", book["rep1"])["phone"] is None
    one.sync()
    assert one.store.get("customer", book["rep1"])["phone"] is None  # compensated on the device too

# ---- pages -----------------------------------------------------------------------------------------
def test_pool_page_claims_and_a_manager_assigns(client, auth, store, people, book):
    auth.login("rep1", PASSWORD)
    page = client.get("/pool").get_data(as_text=True)
    assert "公海客户" in page and "一号客户" not in page and 'id="assign-form"' in page
    assert 'name="ids"' not in page  # reps have no assign right
    client.post(f"/pool/claim/{book['pool']}", data={"csrf_token": auth.csrf("/pool")})
    assert owner(store, book["pool"]) == people["rep1"]["id"]
    client.post("/logout", data={"csrf_token": auth.csrf("/pool")})
    extra = store.create("customer", customer_values("新公海客户"), people["boss"]["id"])
    auth.login("boss", PASSWORD)
    page = client.get("/pool").get_data(as_text=True)
    assert 'name="ids"' in page and "新公海客户" in page
    client.post("/pool/assign", data={"csrf_token": auth.csrf("/pool"), "ids": [extra], "owner_id": people["rep2"]["id"]})
    assert owner(store, extra) == people["rep2"]["id"]
