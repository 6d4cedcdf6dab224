"""The replicated org directory: the server keeps one ``directory_user`` document per user and every
device pulls it (so the client answers ``GET /api/users`` offline); devices cannot write it."""
from __future__ import annotations

from server import directory, org, users
from server_testkit import PASSWORD


def _directory(device):
    return {r["username"]: r for r in device.store.rows("directory_user")}


def test_every_device_pulls_the_directory_and_its_changes(store, people, devices):
    clerk = devices("clerk")  # a warehouse clerk sees no customers, but sees the directory
    clerk.sync()
    held = _directory(clerk)
    assert {"rep1", "rep2", "boss", "clerk", "admin"} <= set(held)
    assert held["rep1"]["user_id"] == people["rep1"]["id"] == held["rep1"]["id"]
    assert (held["rep1"]["display_name"], held["rep1"]["role"], bool(held["rep1"]["active"])) == ("Li Na", "sales_rep", True)
    assert "password_hash" not in held["rep1"]

    east = org.resolve_path(store, "Sales/East", create=True)
    org.place_user(store, people["rep1"]["id"], east["id"])
    org.set_primary_role(store, people["rep2"]["id"], "sales_manager")
    users.create_user(store, "newbie", PASSWORD, "sales_rep", department="Sales/West", display_name="New Bie")
    clerk.sync()
    held = _directory(clerk)
    assert held["rep1"]["department_path"] == "Sales/East"
    assert held["rep2"]["role"] == "sales_manager"
    assert held["newbie"]["department_path"] == "Sales/West" and held["newbie"]["display_name"] == "New Bie"
    assert directory.refresh(store) == 0  # already up to date: nothing rewritten


def test_a_device_cannot_write_the_directory(people, devices):
    rep = devices("rep1")
    rep.sync()
    rep.store.update("directory_user", people["rep1"]["id"], {"role": "boss"}, people["rep1"]["id"])
    rep.sync()
    assert _directory(rep)["rep1"]["role"] == "sales_rep"
    assert any(r["entity"] == "directory_user" for r in rep.store.rejections())
