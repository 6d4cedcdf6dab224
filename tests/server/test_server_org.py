"""Org structure, roles, the permission matrix, personal permissions, the operation log, the CLI."""
from __future__ import annotations

import pytest

from scripts.cli import main as cli_main
from server import oplog, org, users
from server_testkit import ADMIN_PASSWORD, PASSWORD, api_token, customer_values


@pytest.fixture
def sales(store):
    """Sales/East (team of mgr_e: rep_e1, rep_e2 in East/Team1), Sales/West (rep_w), a boss."""
    made = {}
    for name, role, dept in (("mgr_e", "sales_manager", "Sales/East"), ("rep_e1", "sales_rep", "Sales/East/Team1"),
                             ("rep_e2", "sales_rep", "Sales/East"), ("rep_w", "sales_rep", "Sales/West"),
                             ("boss", "boss", None)):
        made[name] = users.create_user(store, name, PASSWORD, role, department=dept)
    made["customers"] = {
        name: store.create("customer", customer_values(f"{name} 的客户", owner_id=made[name]["id"]), made["boss"]["id"])
        for name in ("mgr_e", "rep_e1", "rep_e2", "rep_w", "boss")
    }
    made["customers"]["pool"] = store.create("customer", customer_values("公海客户"), made["boss"]["id"])
    return made


def visible_names(client, username):
    token = api_token(client, username)
    body = client.get("/api/customers?per_page=200", headers={"Authorization": f"Bearer {token}"}).get_json()
    return {c["name"] for c in body["items"]}


def test_department_tree_paths_ordering_and_moves(store):
    east = org.resolve_path(store, "Sales/East", create=True)
    org.resolve_path(store, "Sales/West", create=True)
    org.resolve_path(store, "Warehouse", create=True)
    tree = org.departments(store)
    assert [d["path"] for d in tree] == ["", "Sales", "Sales/East", "Sales/West", "Warehouse"]
    assert [d["depth"] for d in tree] == [0, 1, 2, 2, 1]
    org.reorder_department(store, east["id"], +1)
    assert [d["path"] for d in org.departments(store)][2:4] == ["Sales/West", "Sales/East"]
    warehouse = org.resolve_path(store, "Warehouse")
    with pytest.raises(org.OrgError):
        org.move_department(store, org.resolve_path(store, "Sales")["id"], east["id"])  # into its own subtree
    org.move_department(store, east["id"], warehouse["id"])
    assert org.resolve_path(store, "Warehouse/East")["id"] == east["id"]
    with pytest.raises(org.OrgError):
        org.delete_department(store, warehouse["id"])  # not empty
    with pytest.raises(org.OrgError):
        org.resolve_path(store, "Nowhere")


def test_users_land_in_departments_and_move(store, sales):
    assert users.get_user(store, sales["rep_e1"]["id"])["department"] == "Sales/East/Team1"
    assert users.get_user(store, sales["boss"]["id"])["department"] is None  # the company itself
    epoch = store.scope_epoch()
    org.place_user(store, sales["rep_w"]["id"], org.resolve_path(store, "Sales/East")["id"], actor=sales["boss"]["id"])
    assert store.scope_epoch() > epoch
    assert users.get_user(store, sales["rep_w"]["id"])["department"] == "Sales/East"
    lines, _ = oplog.query(store, action="user_move")
    assert lines[0]["username"] == "boss" and lines[0]["detail"] == {"from": "Sales/West", "to": "Sales/East"}


def test_manager_sees_exactly_the_department_subtree_plus_pool(client, sales):
    assert visible_names(client, "mgr_e") == {"mgr_e 的客户", "rep_e1 的客户", "rep_e2 的客户", "公海客户"}
    assert visible_names(client, "rep_e1") == {"rep_e1 的客户", "公海客户"}
    assert visible_names(client, "boss") == {f"{n} 的客户" for n in ("mgr_e", "rep_e1", "rep_e2", "rep_w", "boss")} | {"公海客户"}


def test_moving_a_user_changes_the_managers_scope_on_the_next_request(client, store, sales):
    assert "rep_w 的客户" not in visible_names(client, "mgr_e")
    org.place_user(store, sales["rep_w"]["id"], org.resolve_path(store, "Sales/East/Team1")["id"])
    assert "rep_w 的客户" in visible_names(client, "mgr_e")


def test_permission_change_takes_effect_on_the_next_request(client, store, sales):
    token = api_token(client, "rep_e1")
    headers = {"Authorization": f"Bearer {token}"}
    cid = sales["customers"]["rep_e1"]
    assert client.patch(f"/api/customers/{cid}", json={"phone": "1"}, headers=headers).status_code == 200
    org.set_role_right(store, "sales_rep", "customers", "edit", False)
    refused = client.patch(f"/api/customers/{cid}", json={"phone": "2"}, headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "no_permission"
    org.set_user_right(store, sales["rep_e1"]["id"], "customers", "edit", True)  # personal, on top of the role
    assert client.patch(f"/api/customers/{cid}", json={"phone": "3"}, headers=headers).status_code == 200
    org.set_role_right(store, "sales_rep", "pool", "view", False)
    assert "公海客户" not in visible_names(client, "rep_e1")


def test_approval_roles_exist_and_cannot_be_deleted(store):
    codes = {r["code"]: r for r in org.roles(store)}
    assert set(users.ROLES) | {"sales_approval", "receipt_approval"} <= set(codes)
    assert codes["sales_approval"]["rights"] == {("orders", "view"), ("orders", "approve")}
    for code in ("sales_approval", "receipt_approval", "sales_rep"):
        with pytest.raises(org.OrgError):
            org.delete_role(store, code)
    org.add_role(store, "auditor", "Auditor")
    org.delete_role(store, "auditor")
    assert "auditor" not in {r["code"] for r in org.roles(store)}


def test_extra_roles_add_rights(store, sales):
    rep = sales["rep_e2"]
    assert "orders.approve" not in org.rights(store, rep)
    org.set_user_role(store, rep["id"], "sales_approval", True)
    assert "orders.approve" in org.rights(store, rep)


def test_permission_matrix_page_saves_and_logs(client, auth, store, sales):
    auth.login()
    page = client.get("/roles").get_data(as_text=True)
    assert 'id="role-sales_approval"' in page and 'value="pool.edit"' in page
    token = auth.csrf("/roles")
    rights = ["customers.view", "customers.edit", "pool.view"]  # no pool.edit any more
    response = client.post("/roles/sales_rep", data={"csrf_token": token, "op": "save", "right": rights})
    assert response.status_code == 302
    assert {f"{m}.{a}" for m, a in next(r for r in org.roles(store) if r["code"] == "sales_rep")["rights"]} == set(rights)
    assert client.post("/roles/sales_approval", data={"csrf_token": token, "op": "delete"}).status_code == 302
    assert "sales_approval" in {r["code"] for r in org.roles(store)}
    lines, total = oplog.query(store, action="permission_change")
    assert total >= 1 and all(line["username"] == "admin" for line in lines)


def test_personal_permissions_page(client, auth, store, sales):
    auth.login()
    rep = sales["rep_w"]
    token = auth.csrf(f"/users/{rep['id']}/permissions")
    client.post(f"/users/{rep['id']}/permissions", data={"csrf_token": token, "right": ["transfer.edit"], "role": ["receipt_approval"]})
    assert org.personal_rights(store, rep["id"]) == {("transfer", "edit")}
    assert org.user_roles(store, rep["id"]) == ["receipt_approval"]
    page = client.get(f"/users/{rep['id']}/permissions").get_data(as_text=True)
    assert 'value="transfer.edit"' in page


def test_org_page_moves_a_user_and_adds_a_department(client, auth, store, sales):
    auth.login()
    token = auth.csrf("/org")
    client.post("/org/departments", data={"csrf_token": token, "name": "Service", "parent_id": org.root(store)["id"]})
    service = org.resolve_path(store, "Service")
    client.post(f"/org/users/{sales['rep_w']['id']}", data={"csrf_token": token, "op": "move", "department_id": service["id"]})
    assert users.get_user(store, sales["rep_w"]["id"])["department"] == "Service"
    page = client.get("/org").get_data(as_text=True)
    assert 'data-department="Service"' in page and 'data-username="rep_w"' in page


@pytest.mark.parametrize("path", ["/org", "/roles", "/log"])
def test_system_pages_are_refused_to_reps(client, auth, sales, path):
    auth.login("rep_e1", PASSWORD)
    assert client.get(path).status_code == 403


def test_operation_log_records_logins_and_refused_sync_and_filters(client, auth, store, sales):
    client.post("/api/login", json={"username": "rep_w", "password": "wrong"})
    api_token(client, "rep_w")
    client.post("/sync/v1/pull", json={}, headers={"Authorization": "Device forged-token"})
    auth.login()
    page = client.get("/log?user=rep_w").get_data(as_text=True)
    assert 'data-action="login"' in page and 'data-action="login_failed"' in page
    assert 'data-action="sync_refused"' not in page
    refused = client.get("/log?action=sync_refused").get_data(as_text=True)
    assert "bad_device_token" in refused
    assert '<p class="empty">' in client.get("/log?day_from=2999-01-01").get_data(as_text=True)


def test_cli_user_move_and_role_commands(tmp_path, capsys):
    data = str(tmp_path / "cli")
    assert cli_main(["user", "add", "--data", data, "--username", "li", "--password", PASSWORD, "--role", "sales_rep",
                     "--department", "Sales"]) == 0
    assert cli_main(["user", "move", "--data", data, "--username", "li", "--department", "Sales/East"]) == 0
    assert cli_main(["role", "grant", "--data", data, "--role", "sales_approval", "--username", "li"]) == 0
    assert cli_main(["role", "revoke", "--data", data, "--role", "sales_rep", "--module", "pool", "--action", "edit"]) == 0
    assert cli_main(["user", "grant", "--data", data, "--username", "li", "--module", "transfer", "--action", "edit"]) == 0
    assert cli_main(["role", "list", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "moved to Sales/East" in out and "li added to sales_approval" in out
    assert "sales_approval\tSales approval\tbuilt-in\tmembers: li" in out
    assert cli_main(["role", "revoke", "--data", data, "--role", "nope", "--module", "pool", "--action", "edit"]) == 2
    assert cli_main(["role", "grant", "--data", data, "--role", "sales_rep"]) == 2


def test_admin_login_is_logged(client, auth, store):
    auth.login("admin", ADMIN_PASSWORD)
    lines, _ = oplog.query(store, user="admin", action="login")
    assert lines and lines[0]["detail"]["via"] == "page"
