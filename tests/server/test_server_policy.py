"""Customer policy: levels replicated to devices and filling a visit's next contact, idle
customer recycling with an injected now, the owner cap over REST and sync, the duplicate
re-check on sync, notifications and public search."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from server import notifications, oplog, policy, recycling
from server.cli import recycle
from server_testkit import api_token, customer_values
from shared import policy as shared_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def bearer(client, username):
    return {"Authorization": f"Bearer {api_token(client, username)}"}


@pytest.fixture
def levels(store, people):
    boss = people["boss"]["id"]
    policy.save_level(store, {"code": "A", "name_zh": "重要客户", "name_en": "Key", "reminder_days": 3, "idle_days": 30, "ordering": 1}, boss)
    policy.save_level(store, {"code": "C", "name_zh": "普通客户", "name_en": "Normal", "reminder_days": 14, "idle_days": None, "ordering": 2}, boss)
    return store


def test_levels_reach_every_device_and_devices_may_not_push_them(store, people, levels, devices):
    rep = devices("rep1")
    rep.sync()
    assert [lv["code"] for lv in shared_policy.levels(rep.store)] == ["A", "C"]
    level_id = shared_policy.level(rep.store, "A")["id"]
    rep.store.update("customer_level", level_id, {"reminder_days": 99}, people["rep1"]["id"])
    rep.sync()
    assert shared_policy.level(store, "A")["reminder_days"] == 3
    assert [r["reason"] for r in rep.store.rejections() if r["record_id"] == level_id] == ["no_permission"]
    with pytest.raises(ValueError):
        policy.save_level(store, {"code": "A", "name_zh": "x", "name_en": "x", "ordering": 0}, people["boss"]["id"])


def test_a_visit_without_next_contact_takes_the_levels_interval(client, store, people, levels):
    rep = bearer(client, "rep1")
    cid = client.post("/api/customers", json=customer_values("甲", level="A"), headers=rep).get_json()["id"]
    visit = client.post("/api/visits", json={"customer_id": cid, "method": "phone", "content": "通话",
                                             "visited_at": T0.isoformat()}, headers=rep).get_json()
    assert visit["next_contact_at"] == (T0 + timedelta(days=3)).isoformat()
    assert store.get("customer", cid)["next_contact_at"] == visit["next_contact_at"]
    explicit = (T0 + timedelta(days=1)).isoformat()
    kept = client.post("/api/visits", json={"customer_id": cid, "method": "phone", "content": "再打",
                                            "visited_at": T0.isoformat(), "next_contact_at": explicit}, headers=rep)
    assert kept.get_json()["next_contact_at"] == explicit
    plain = client.post("/api/customers", json=customer_values("乙"), headers=rep).get_json()["id"]
    none = client.post("/api/visits", json={"customer_id": plain, "method": "phone", "content": "x",
                                            "visited_at": T0.isoformat()}, headers=rep)
    assert none.get_json()["next_contact_at"] is None


def test_recycling_returns_idle_customers_to_the_pool_and_notifies(client, store, people, levels, devices):
    boss, rep1 = people["boss"]["id"], people["rep1"]["id"]
    old = (T0 - timedelta(days=40)).isoformat()
    idle = store.create("customer", customer_values("闲置", level="A", owner_id=rep1, created_at=old), boss)
    visited = store.create("customer", customer_values("常联系", level="A", owner_id=rep1, created_at=old), boss)
    store.add_event("visit", {"customer_id": visited, "method": "phone", "content": "x",
                              "visited_at": (T0 - timedelta(days=5)).isoformat()}, rep1)
    no_days = store.create("customer", customer_values("普通", level="C", owner_id=rep1, created_at=old), boss)
    exempt = store.create("customer", customer_values("有机会", level="A", owner_id=rep1, created_at=old), boss)
    device = devices("rep1")
    device.sync()
    assert device.store.get("customer", idle)["owner_id"] == rep1

    moved = recycling.recycle_idle(store, T0, exemptions=[lambda s, row, now: row["id"] == exempt])
    assert [m["id"] for m in moved] == [idle]
    assert store.get("customer", idle)["owner_id"] is None
    assert {store.get("customer", c)["owner_id"] for c in (visited, no_days, exempt)} == {rep1}
    rows, total = notifications.for_user(store, rep1)
    assert total == 1 and rows[0]["kind"] == "idle_recycled" and rows[0]["customer_id"] == idle
    assert oplog.query(store, action="release")[0][0]["detail"]["reason"] == "idle"
    assert [m["id"] for m in recycling.recycle_idle(store, T0)] == [exempt]  # the default exemptions: no opportunity, no order
    device.sync()  # the owner's device sees the customer leave (to the pool, or evicted without pool.view)
    held = device.store.db.execute("SELECT owner_id FROM customers WHERE id = ?", [idle]).fetchone()
    assert held is None or held[0] is None
    api = client.get("/api/notifications", headers=bearer(client, "rep1")).get_json()
    assert api["total"] >= 1 and api["items"][0]["kind"] == "idle_recycled"
    assert client.get("/api/notifications").status_code == 401


def test_a_claim_counts_as_contact(store, people, levels):
    boss, rep1 = people["boss"]["id"], people["rep1"]["id"]
    cid = store.create("customer", customer_values("刚认领", level="A", created_at=(T0 - timedelta(days=90)).isoformat()), boss)
    store.update("customer", cid, {"owner_id": rep1}, rep1)
    oplog.record(store, rep1, "claim", cid, {})  # logged at the store clock's now
    now = datetime.fromtimestamp(store.now_ms() / 1000, tz=timezone.utc)
    assert recycling.recycle_idle(store, now + timedelta(days=10)) == []
    assert [m["id"] for m in recycling.recycle_idle(store, now + timedelta(days=31))] == [cid]


def test_recycle_command_takes_now(app, store, people, levels):
    cid = store.create("customer", customer_values("命令行", level="A", owner_id=people["rep1"]["id"],
                                                   created_at=(T0 - timedelta(days=31)).isoformat()), people["boss"]["id"])
    from server import db
    data_dir = app.config["DATA_DIR"]
    db.close_store(data_dir)
    with pytest.raises(ValueError):
        recycle(data_dir, "yesterday")
    moved = recycle(data_dir, T0.isoformat())
    assert [m["id"] for m in moved] == [cid]


def test_owner_cap_refuses_claims_creates_and_synced_claims(client, store, people, devices):
    boss, rep1 = people["boss"]["id"], people["rep1"]["id"]
    policy.save_settings(store, ["name"], 1, None, boss)
    rep = bearer(client, "rep1")
    assert client.post("/api/customers", json=customer_values("第一个"), headers=rep).status_code == 201
    over = client.post("/api/customers", json=customer_values("第二个"), headers=rep)
    assert over.status_code == 409 and over.get_json()["error"]["code"] == "owner_cap_reached"
    pool = store.create("customer", customer_values("公海"), boss)
    claim = client.post(f"/api/customers/{pool}/claim", headers=rep)
    assert claim.status_code == 409 and claim.get_json()["error"]["code"] == "owner_cap_reached"
    assigned = client.post("/api/customers/assign", json={"ids": [pool], "owner_id": rep1}, headers=bearer(client, "boss"))
    assert assigned.status_code == 409
    # offline: a new customer over the cap arrives in the pool with a field rejection
    device = devices("rep1")
    device.sync()
    new_id = device.store.create("customer", {**customer_values("离线新建"), "owner_id": rep1}, rep1)
    device.sync()
    assert store.get("customer", new_id)["owner_id"] is None
    reasons = {(r["record_id"], r["field"], r["reason"]) for r in device.store.rejections()}
    assert (new_id, "owner_id", "owner_cap_reached") in reasons


def test_sync_flags_likely_duplicates_to_the_owner(store, people, devices):
    boss, rep1 = people["boss"]["id"], people["rep1"]["id"]
    policy.save_settings(store, ["name", "mobile"], None, None, boss)
    store.create("customer", customer_values("别人的客户", mobile="13800000000", owner_id=people["rep2"]["id"]), boss)
    device = devices("rep1")
    device.sync()
    assert shared_policy.settings(device.store)["duplicate_fields"] == ("name", "mobile")
    cid = device.store.create("customer", {**customer_values("我的新客户"), "mobile": " 13800000000 ", "owner_id": rep1}, rep1)
    device.sync()
    rows, total = notifications.for_user(store, rep1)
    assert total == 1 and rows[0]["kind"] == "duplicate_suspected" and rows[0]["customer_id"] == cid
    assert rows[0]["detail"]["matches"][0]["fields"] == ["mobile"]


def test_policy_page_edits_levels_and_settings(client, store, auth, people):
    auth.login()
    token = auth.csrf("/policy")
    assert client.post("/policy", data={"csrf_token": token, "code": "B", "name_zh": "一般客户", "name_en": "Regular",
                                         "reminder_days": "7", "idle_days": "60", "ordering": "2"}).status_code == 302
    assert shared_policy.level(store, "B")["reminder_days"] == 7
    client.post("/policy", data={"csrf_token": token, "action": "settings", "duplicate_fields": ["email", "wechat"],
                                 "owner_cap": "200", "idle_days": ""})
    assert shared_policy.settings(store) == {"duplicate_fields": ("email", "wechat"), "owner_cap": 200, "idle_days": None}
    bad = client.post("/policy", data={"csrf_token": token, "code": "", "name_zh": "", "name_en": ""}, follow_redirects=True)
    assert bad.status_code == 200 and shared_policy.levels(store)[0]["code"] == "B"
    page = client.get("/policy").get_data(as_text=True)
    assert "一般客户" in page and 'value="email" checked' in page
    for path in ("/notifications", "/public-search?q=x"):
        assert client.get(path).status_code == 200


def test_policy_page_is_for_managers_only(client, auth, people):
    from server_testkit import PASSWORD
    auth.login("rep1", PASSWORD)
    assert client.get("/policy").status_code == 403


def test_public_search_shows_list_fields_of_every_customer(client, store, people, devices):
    boss = people["boss"]["id"]
    cid = store.create("customer", customer_values("上海远航", phone="021-1", remark="secret", province="上海",
                                                   owner_id=people["rep2"]["id"]), boss)
    found = client.get("/api/public-search?q=远航", headers=bearer(client, "rep1")).get_json()
    assert found["total"] == 1
    assert found["items"][0] == {**found["items"][0], "id": cid, "name": "上海远航", "owner_name": "Wang Wei", "province": "上海"}
    assert set(found["items"][0]) == {"id", "name", "kind", "province", "city", "owner_name", "updated_at"}
    # the customer itself stays out of rep1's reach
    assert client.get(f"/api/customers/{cid}", headers=bearer(client, "rep1")).status_code == 404
    device = devices("rep1")
    by_device = client.get("/api/public-search?q=上海远航", headers={"Authorization": f"Device {device.token}"})
    assert by_device.status_code == 200 and by_device.get_json()["total"] == 1
    assert client.get("/api/public-search?q=x", headers={"Authorization": "Device nope"}).status_code == 401
    assert client.get("/api/public-search?q=x").status_code == 401


def test_contact_plans_on_the_server_stay_in_scope(client, store, people):
    boss = people["boss"]["id"]
    mine = store.create("customer", customer_values("我的", owner_id=people["rep1"]["id"], next_contact_at="2000-01-01T09:00:00+08:00"), boss)
    store.create("customer", customer_values("别人的", owner_id=people["rep2"]["id"], next_contact_at="2000-01-01T09:00:00+08:00"), boss)
    overdue = client.get("/api/contact-plans?kind=overdue", headers=bearer(client, "rep1")).get_json()
    assert [i["id"] for i in overdue["items"]] == [mine]
    xlsx = client.get("/api/contact-plans?kind=overdue&format=xlsx", headers=bearer(client, "rep1"))
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["我的"]
    others = [i["id"] for i in client.get("/api/customers?owner_id=" + people["rep2"]["id"], headers=bearer(client, "rep2")).get_json()["items"]]
    moved = client.post("/api/contact-plans/reschedule", json={"ids": [mine, *others], "next_contact_at": "2030-01-01T09:00:00+08:00"},
                        headers=bearer(client, "rep1"))
    assert moved.status_code == 404 and store.get("customer", mine)["next_contact_at"].startswith("2000")
    assert client.get("/api/contact-plans?kind=overdue", headers=bearer(client, "clerk")).get_json()["total"] == 0


def test_a_huge_page_number_is_refused(client, people):
    for path in ("/api/public-search?q=x&page=99999999999999999", "/api/notifications?page=99999999999999999"):
        assert client.get(path, headers=bearer(client, "rep1")).status_code == 422
