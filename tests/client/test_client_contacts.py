"""Contact edit, deleting customers and contacts behind a confirmation, kept conflicts of contacts."""
from __future__ import annotations

import sqlite_utils

from shared.schemas import REGISTRY
from sync import InMemoryTransport, Principal, ReplicaStore, ServerStore, SyncEngine, SyncServer


def _customer(store, user, name="明达机械"):
    return store.create("customer", {"kind": "company", "name": name}, user["id"])


def test_edit_contact(pages, store, enrolled):
    cid = _customer(store, enrolled)
    pid = store.create("contact", {"customer_id": cid, "name": "陈经理", "title": "采购经理"}, enrolled["id"])
    view = pages.get(f"/customers/{cid}").get_data(as_text=True)
    assert f'href="/contacts/{pid}/edit"' in view
    form = pages.get(f"/contacts/{pid}/edit")
    assert form.status_code == 200 and 'value="陈经理"' in form.get_data(as_text=True)
    bad = pages.post(f"/contacts/{pid}/edit", {"name": "", "email": "not-an-email"})
    assert bad.status_code == 422 and store.get("contact", pid)["name"] == "陈经理"
    ok = pages.post(f"/contacts/{pid}/edit", {"name": "陈总", "title": "总经理", "mobile": "13900001111",
                                              "customer_id": "someone-else"})
    assert ok.status_code == 302 and ok.location.endswith(f"/customers/{cid}")
    row = store.get("contact", pid)
    assert (row["name"], row["title"], row["mobile"], row["customer_id"]) == ("陈总", "总经理", "13900001111", cid)
    assert store.pending_for("contact", pid) > 0
    assert pages.get("/contacts/no-such-contact/edit").status_code == 404


def test_delete_customer_needs_explicit_confirmation(pages, store, enrolled):
    cid = _customer(store, enrolled)
    assert f'href="/customers/{cid}/delete"' in pages.get(f"/customers/{cid}").get_data(as_text=True)
    ask = pages.get(f"/customers/{cid}/delete")
    html = ask.get_data(as_text=True)
    assert ask.status_code == 200 and "明达机械" in html and 'name="confirm" value="yes"' in html
    assert not store.get("customer", cid).get("deleted")
    refused = pages.post(f"/customers/{cid}/delete")  # no explicit "yes"
    assert refused.status_code == 400 and not store.get("customer", cid).get("deleted")
    assert pages.client.post(f"/customers/{cid}/delete", data={"confirm": "yes"}).status_code == 400  # no CSRF token
    done = pages.post(f"/customers/{cid}/delete", {"confirm": "yes"})
    assert done.status_code == 302 and done.location.endswith("/customers")
    assert store.get("customer", cid)["deleted"] and store.pending_for("customer", cid) > 0
    assert pages.get(f"/customers/{cid}").status_code == 404
    assert cid not in pages.get("/customers").get_data(as_text=True)
    assert pages.post(f"/customers/{cid}/delete", {"confirm": "yes"}).status_code == 404


def test_delete_contact_needs_explicit_confirmation(pages, store, enrolled):
    cid = _customer(store, enrolled)
    pid = store.create("contact", {"customer_id": cid, "name": "陈经理"}, enrolled["id"])
    assert f'href="/contacts/{pid}/delete"' in pages.get(f"/customers/{cid}").get_data(as_text=True)
    ask = pages.get(f"/contacts/{pid}/delete")
    assert ask.status_code == 200 and "陈经理" in ask.get_data(as_text=True)
    assert pages.post(f"/contacts/{pid}/delete", {"confirm": "no"}).status_code == 400
    assert not store.get("contact", pid).get("deleted")
    done = pages.post(f"/contacts/{pid}/delete", {"confirm": "yes"})
    assert done.status_code == 302 and done.location.endswith(f"/customers/{cid}")
    assert store.get("contact", pid)["deleted"]
    pages.get(f"/customers/{cid}")  # consumes the flash naming the deleted contact
    assert "陈经理" not in pages.get(f"/customers/{cid}").get_data(as_text=True)
    assert pages.get(f"/contacts/{pid}/edit").status_code == 404


def test_contact_conflicts_shown_restored_and_dismissed(pages, store, enrolled, clock):
    server = SyncServer(ServerStore(sqlite_utils.Database(memory=True), REGISTRY, clock))
    other = ReplicaStore(sqlite_utils.Database(memory=True), REGISTRY, clock)
    mine = SyncEngine(store, InMemoryTransport(server, Principal(enrolled["id"], store.site_id)), clock)
    theirs = SyncEngine(other, InMemoryTransport(server, Principal("u-wang", other.site_id)), clock)
    cid = _customer(store, enrolled)
    pid = store.create("contact", {"customer_id": cid, "name": "陈经理", "mobile": "0", "title": "0"}, enrolled["id"])
    mine.run_once()
    theirs.run_once()
    clock.advance(1000)
    store.update("contact", pid, {"mobile": "m-mine", "title": "t-mine"}, enrolled["id"])
    clock.advance(1000)
    other.update("contact", pid, {"mobile": "m-theirs", "title": "t-theirs"}, "u-wang")
    mine.run_once()
    theirs.run_once()
    mine.run_once()
    kept = {c["field"]: c for c in store.get("contact", pid)["conflicts"]}
    assert kept["mobile"]["value"] == "m-mine" and kept["title"]["value"] == "t-mine"
    html = pages.get(f"/customers/{cid}").get_data(as_text=True)
    restore = f"/contacts/{pid}/conflicts/{kept['mobile']['id']}/restore"
    dismiss = f"/contacts/{pid}/conflicts/{kept['title']['id']}/dismiss"
    assert restore in html and dismiss in html and "m-mine" in html and "李娜" in html
    assert pages.post(restore).status_code == 302
    assert pages.post(dismiss).status_code == 302
    row = store.get("contact", pid)
    assert row["mobile"] == "m-mine" and row["title"] == "t-theirs" and row["conflicts"] == []
    assert "/conflicts/" not in pages.get(f"/customers/{cid}").get_data(as_text=True)
    again = pages.post(restore, follow_redirects=True)
    assert again.status_code == 200
    assert pages.post(f"/contacts/{pid}/conflicts/x/explode").status_code == 404
