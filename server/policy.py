"""The server's side of the customer policy: writing levels and settings (as server changes that
every device pulls), the owner cap, and the duplicate re-check of customers that arrive by sync.

``PolicyRules`` wraps ``server.rules.Rules`` (the sync validator) and ``owner_rule`` wraps the
REST/page owner hook: both add the cap (``owner_cap_reached``) on top of the role rules. No HTTP.
"""
from __future__ import annotations

from typing import Any, Mapping

from shared import policy
from shared.schemas.policy import DUPLICATE_FIELDS, POLICY_ID
from sync import Principal, RecordDiff, ServerStore, Verdict

from . import notifications, rules

SYSTEM_AUTHOR = "server"


def owned_count(store: ServerStore, owner_id: str) -> int:
    """How many live customers ``owner_id`` owns."""
    return int(store.db.execute(
        "SELECT count(*) FROM customers WHERE owner_id = ? AND coalesce(deleted, 0) = 0", [owner_id]).fetchone()[0])


def owner_cap_reason(store: ServerStore, new_owner: str | None, adding: int = 1) -> str | None:
    """``owner_cap_reached`` when giving ``new_owner`` ``adding`` more customers exceeds the cap."""
    cap = policy.settings(store)["owner_cap"]
    if new_owner is None or cap is None:
        return None
    return "owner_cap_reached" if owned_count(store, new_owner) + adding > int(cap) else None


def flag_duplicates(store: ServerStore, customer_id: str, values: Mapping[str, Any], notify_user: str | None) -> int:
    """Notify ``notify_user`` of live customers that look like this one; returns how many."""
    if not notify_user:
        return 0
    found = policy.find_duplicates(store, values, exclude_id=customer_id)
    if found:
        notifications.notify(store, notify_user, "duplicate_suspected", customer_id, {
            "name": values.get("name"),
            "matches": [{"id": r["id"], "name": r["name"], "fields": r["matched"]} for r in found[:5]],
        })
    return len(found)


class PolicyRules(rules.Rules):
    """The sync validator: the role rules, then the owner cap, then the duplicate re-check."""

    def __call__(self, principal: Principal, diff: RecordDiff) -> Verdict:
        verdict = super().__call__(principal, diff)
        if diff.entity != "customer" or verdict.refused or "owner_id" in verdict.rejected_fields:
            return verdict
        owner = next((c for c in diff.changes if c.field == "owner_id"), None)
        if owner is not None and owner.new is not None and owner.new != owner.old:
            reason = owner_cap_reason(self.store, owner.new)
            if reason:
                verdict.rejected_fields["owner_id"] = reason  # a new customer lands in the pool
        if diff.is_new:
            after = {**diff.before, **{c.field: c.new for c in diff.changes}}
            if "owner_id" in verdict.rejected_fields:
                after["owner_id"] = diff.before.get("owner_id")
            flag_duplicates(self.store, diff.record_id, after, after.get("owner_id") or principal.user_id)
        return verdict


def owner_rule(store: ServerStore) -> Any:
    """``shared.web.api``'s owner hook: ``server.rules.owner_rule`` plus the owner cap."""
    base = rules.owner_rule(store)

    def rule(user: Mapping[str, Any], customer_id: str, old: str | None, new: str | None, is_new: bool) -> str | None:
        if new is not None and new != old:
            reason = owner_cap_reason(store, new)
            if reason:
                return reason
        return base(user, customer_id, old, new, is_new)

    return rule


# ---- writing the policy (server-owned records, pulled by every device) -----------------------
def save_level(store: ServerStore, values: Mapping[str, Any], author: str, level_id: str | None = None) -> str:
    """Create or change a level; a code must stay unique among live levels."""
    with store.write():
        clash = store.db.execute(
            "SELECT id FROM customer_levels WHERE code = ? AND coalesce(deleted, 0) = 0 AND id != ?",
            [values.get("code"), level_id or ""]).fetchone()
        if clash:
            raise ValueError("duplicate_code")
        if level_id is None:
            return store.create("customer_level", dict(values), author)
        store.update("customer_level", level_id, dict(values), author)
        return level_id


def delete_level(store: ServerStore, level_id: str, author: str) -> None:
    store.delete("customer_level", level_id, author)


def save_settings(store: ServerStore, duplicate_fields: list[str], owner_cap: int | None, idle_days: int | None,
                  author: str) -> None:
    """Set the duplicate-check fields, the owner cap and the default idle days (one record)."""
    values = {"duplicate_fields": ",".join(f for f in DUPLICATE_FIELDS if f in duplicate_fields),
              "owner_cap": owner_cap, "idle_days": idle_days}
    with store.write():
        exists = store.db.execute("SELECT 1 FROM customer_policies WHERE id = ?", [POLICY_ID]).fetchone()
        if exists:
            store.update("customer_policy", POLICY_ID, values, author)
        else:
            store.create("customer_policy", values, author, record_id=POLICY_ID)
