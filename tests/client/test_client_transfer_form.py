"""The customer page offers transfer/release from the replicated org directory, offline."""
from __future__ import annotations


def _directory(store, *people):
    for user_id, username, name in people:
        store.create("directory_user", {"user_id": user_id, "username": username, "display_name": name,
                                        "role": "sales_rep", "department_path": "Sales/East", "active": True},
                     "server", record_id=user_id)


def test_customer_page_transfers_to_a_directory_user(pages, store, enrolled):
    _directory(store, ("u-wei", "wei", "王伟"))
    mine = store.create("customer", {"kind": "company", "name": "我的客户", "owner_id": enrolled["id"]}, enrolled["id"])
    html = pages.get(f"/customers/{mine}").get_data(as_text=True)
    assert 'value="u-wei"' in html and "王伟" in html
    pending = store.pending_count()
    response = pages.post(f"/customers/{mine}/owner", data={"owner_id": "u-wei"})
    assert response.status_code == 302
    assert store.get("customer", mine)["owner_id"] == "u-wei"
    assert store.pending_count() > pending  # queued; the server arbitrates on sync


def test_customer_page_releases_and_refuses_unknown_owners(pages, store, enrolled):
    mine = store.create("customer", {"kind": "company", "name": "我的客户", "owner_id": enrolled["id"]}, enrolled["id"])
    assert pages.post(f"/customers/{mine}/owner", data={"owner_id": "nobody"}).status_code == 400
    assert store.get("customer", mine)["owner_id"] == enrolled["id"]
    assert pages.post(f"/customers/{mine}/owner", data={"owner_id": ""}).status_code == 302
    assert store.get("customer", mine)["owner_id"] is None
