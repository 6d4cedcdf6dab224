"""The server's authority: rejections with compensation, refusals, scopes, repair, versions,
device identity, clock skew, crash-safe re-push and malformed messages."""
from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from sync import (
    SCHEMA_VERSION,
    Forbidden,
    IncompatibleVersion,
    InvalidMessage,
    ManualClock,
    Principal,
    RecordDiff,
    RecordNotFound,
    TransportUnavailable,
    Verdict,
)
from sync.clock import Hlc
from sync.scope import OwnerScope
from sync_testkit import World, customer, log_count, snapshot, visit

HOUR = 3_600_000


def no_forbidden_phone(principal: Principal, diff: RecordDiff) -> Verdict:
    if any(c.field == "phone" and c.new == "forbidden" for c in diff.changes):
        return Verdict.reject(phone="blocked number")
    return Verdict.accept()


def refuse_spam(principal: Principal, diff: RecordDiff) -> Verdict:
    if diff.entity == "customer" and any(c.field == "name" and c.new == "Spam" for c in diff.changes):
        return Verdict.refuse("spam customer")
    return no_forbidden_phone(principal, diff)


def server_counts(world: World) -> tuple[int, int, int]:
    db = world.server_store.db
    return (log_count(world), db.execute("SELECT count(*) FROM sync_docs").fetchone()[0],
            db.execute("SELECT count(*) FROM visits").fetchone()[0])


# ---- rejection with compensation ----------------------------------------------------------------
def test_rejected_field_is_compensated_and_never_reaches_a_third_replica() -> None:
    world = World(validator=no_forbidden_phone)
    a, b = world.client("ua"), world.client("ub")
    cid = a.store.create("customer", customer(phone="123"), "ua")
    world.sync_all()
    world.clock.advance(1000)
    a.store.update("customer", cid, {"phone": "forbidden", "city": "Xi'an"}, "ua")
    report = a.sync()
    assert report.rejected == 1
    [rejection] = a.store.rejections()
    assert (rejection["record_id"], rejection["field"], rejection["kind"]) == (cid, "phone", "field")
    assert rejection["reason"] == "blocked number" and rejection["detail"] == {"value": "forbidden"}
    assert world.server_store.get("customer", cid)["phone"] == "123"
    assert world.server_store.get("customer", cid)["city"] == "Xi'an"  # the rest of the change stands
    world.sync_all()
    assert a.store.get("customer", cid)["phone"] == "123"  # the compensation reached the author
    c = world.client("uc")
    c.sync()
    b.sync()
    for replica in (b, c):
        row = replica.store.get("customer", cid)
        assert (row["phone"], row["city"]) == ("123", "Xi'an")
        doc = replica.store.document("customer", cid)
        assert doc.get("phone", doc.heads()) == "123"
        assert all(k["value"] != "forbidden" for k in doc.conflicts())
        assert replica.store.rejections() == []  # rejections go to the pushing device only
        assert snapshot(replica.store) == snapshot(world.server_store)


def test_losing_conflict_value_is_judged_too() -> None:
    """A rejected value must not survive as a kept conflict either (it would show everywhere)."""
    world = World(validator=no_forbidden_phone)
    a, b = world.client("ua"), world.client("ub")
    cid = a.store.create("customer", customer(phone="1"), "ua")
    world.sync_all()
    a.store.update("customer", cid, {"phone": "forbidden"}, "ua")  # earlier: loses the conflict
    world.clock.advance(5000)
    b.store.update("customer", cid, {"phone": "2"}, "ub")
    b.sync()
    report = a.sync()
    assert report.rejected == 1
    world.sync_all()
    for store in (a.store, b.store, world.server_store):
        row = store.get("customer", cid)
        assert row["phone"] == "2" and row["conflicts"] == []
    assert [r["field"] for r in a.store.rejections()] == ["phone"]


def test_concurrent_edits_keep_the_loser_and_can_restore_or_dismiss() -> None:
    world = World()
    a, b = world.client("ua"), world.client("ub")
    cid = a.store.create("customer", customer(phone="0", city="X"), "ua")
    world.sync_all()
    a.store.update("customer", cid, {"phone": "A", "city": "Y"}, "ua")
    world.clock.advance(1000)
    b.store.update("customer", cid, {"phone": "B", "name": "New"}, "ub")
    a.sync()
    assert b.sync().conflicts == 1
    world.sync_all()
    row = a.store.get("customer", cid)
    assert (row["phone"], row["city"], row["name"]) == ("B", "Y", "New")  # later edit wins, other fields merge
    [kept] = row["conflicts"]
    assert (kept["field"], kept["value"], kept["author_id"]) == ("phone", "A", "ua")
    assert kept["edited_at"] == "2026-01-01T00:00:00.000+00:00"
    assert b.store.get("customer", cid)["conflicts"] == row["conflicts"]
    a.store.resolve_conflict("customer", cid, kept["id"], "restore", "ua")
    world.sync_all()
    for store in (a.store, b.store, world.server_store):
        assert store.get("customer", cid)["phone"] == "A" and store.get("customer", cid)["conflicts"] == []
    with pytest.raises(RecordNotFound):
        a.store.resolve_conflict("customer", cid, kept["id"], "dismiss", "ua")
    with pytest.raises(ValueError):
        a.store.resolve_conflict("customer", cid, kept["id"], "shrug", "ua")


# ---- refused record -------------------------------------------------------------------------------
def test_refused_record_is_not_stored_and_the_device_drops_it() -> None:
    world = World(validator=refuse_spam)
    a, b = world.client("ua"), world.client("ub")
    good = a.store.create("customer", customer("Good"), "ua")
    spam = a.store.create("customer", customer("Spam"), "ua")
    a.store.add_event("visit", visit(spam), "ua")
    a.store.create("contact", {"customer_id": spam, "name": "Li"}, "ua")
    report = a.sync()
    assert report.rejected >= 1
    assert world.server_store.doc_heads("customer", spam) is None
    assert log_count(world) == int(world.server_store.db.execute(
        "SELECT count(*) FROM sync_log WHERE record_id != ? OR kind = 'rejection'", [spam]).fetchone()[0])
    assert world.server_store.rows("visit") == [] and world.server_store.rows("contact") == []
    with pytest.raises(RecordNotFound):
        a.store.get("customer", spam)
    assert a.store.pending_count() == 0
    assert a.store.rows("visit") == [] and a.store.rows("contact") == []
    reasons = {(r["record_id"], r["kind"], r["reason"]) for r in a.store.rejections()}
    assert (spam, "record", "spam customer") in reasons
    b.sync()
    assert [r["id"] for r in b.store.rows("customer")] == [good]
    assert a.store.digest() == b.store.digest() == world.server_store.digest()


# ---- scopes ---------------------------------------------------------------------------------------
def scoped_world() -> tuple[World, Any, str, str]:
    world = World(scope=OwnerScope())
    server = world.server_store
    cid = server.create("customer", customer("Theirs", owner_id="u2"), "admin")
    contact = server.create("contact", {"customer_id": cid, "name": "Li"}, "admin")
    server.add_event("visit", visit(cid), "u2")
    server.create("customer", customer("Mine", owner_id="u1"), "admin")
    u1 = world.client("u1")
    u1.sync()
    return world, u1, cid, contact


def test_record_entering_scope_comes_whole_with_children() -> None:
    world, u1, cid, contact = scoped_world()
    assert [r["name"] for r in u1.store.rows("customer")] == ["Mine"]
    assert u1.store.rows("contact") == [] and u1.store.rows("visit") == []
    world.server_store.update("customer", cid, {"owner_id": "u1"}, "admin")
    report = u1.sync()
    assert report.pulled >= 3
    assert u1.store.get("customer", cid)["owner_id"] == "u1"
    assert u1.store.get("contact", contact)["name"] == "Li"
    assert [v["customer_id"] for v in u1.store.rows("visit")] == [cid]
    assert snapshot(u1.store) == snapshot(world.server_store, world.server.visible_set(u1.principal))
    assert u1.store.digest() == u1.store.recompute_digest()


def test_record_leaving_scope_is_evicted_with_children() -> None:
    world, u1, cid, contact = scoped_world()
    world.server_store.update("customer", cid, {"owner_id": "u1"}, "admin")
    u1.sync()
    world.server_store.update("customer", cid, {"owner_id": "u2"}, "admin")
    report = u1.sync()
    assert report.evicted >= 1
    assert [r["name"] for r in u1.store.rows("customer")] == ["Mine"]
    assert u1.store.rows("contact") == [] and u1.store.rows("visit") == []
    assert u1.store.doc_heads("contact", contact) is None
    assert u1.store.digest() == u1.store.recompute_digest() == world.server._checksum(u1.principal.device_id)


def test_transfer_by_the_client_itself_evicts_after_push() -> None:
    world, u1, _, _ = scoped_world()
    mine = u1.store.rows("customer")[0]["id"]
    u1.store.create("contact", {"customer_id": mine, "name": "Zhao"}, "u1")
    u1.store.update("customer", mine, {"owner_id": "u2"}, "u1")
    u1.sync()
    assert u1.store.rows("customer") == [] and u1.store.rows("contact") == []
    assert world.server_store.get("customer", mine)["owner_id"] == "u2"
    u2 = world.client("u2")
    u2.sync()
    assert {r["name"] for r in u2.store.rows("contact")} == {"Zhao", "Li"}


def test_push_to_a_record_outside_scope_is_refused() -> None:
    world, u1, cid, _ = scoped_world()
    mine = u1.store.rows("customer")[0]["id"]
    world.server_store.update("customer", mine, {"owner_id": "u2"}, "admin")  # transferred away
    u1.store.update("customer", mine, {"phone": "555"}, "u1")  # edited offline meanwhile
    u1.store.add_event("visit", visit(mine), "u1")
    before = world.server_store.document("customer", mine).heads()
    report = u1.sync()
    assert report.rejected >= 1
    assert world.server_store.document("customer", mine).heads() == before
    assert world.server_store.get("customer", mine)["phone"] is None
    assert world.server_store.rows("visit", "customer_id = ?", [mine]) == []
    assert {r["reason"] for r in u1.store.rejections()} == {"out_of_scope"}
    assert u1.store.rows("customer") == [] and u1.store.pending_count() == 0
    # a crafted push for a record the user never held is refused too
    other = world.client("u3")
    forged = copy.deepcopy(u1.transport.sent_pushes[0])
    forged["device_id"] = other.principal.device_id
    answer = other.transport.push(forged)
    assert answer["rejections"] and all(r["reason"] == "out_of_scope" for r in answer["rejections"])
    assert world.server_store.document("customer", mine).heads() == before


# ---- checksum repair ------------------------------------------------------------------------------
def _flip_byte(data: bytes, index: int) -> bytes:
    """The bytes with one byte inverted (always a real corruption, unlike setting it to 0)."""
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1:]


def _set_digest(store: Any, hex_digest: str) -> None:
    store.db.execute("UPDATE sync_meta SET value = ? WHERE key = 'digest'", [str(int(hex_digest, 16))])
    store.reload()


def test_checksum_mismatch_repairs_a_damaged_replica() -> None:
    world = World()
    a = world.client("ua")
    cid = a.store.create("customer", customer(phone="1"), "ua")
    other = a.store.create("customer", customer("Other"), "ua")
    vid = a.store.add_event("visit", visit(cid), "ua")
    a.sync()
    # rows vanish (say, a restored backup); the replica's own checksum reflects what it now holds
    a.store.db.execute("DELETE FROM sync_docs WHERE id = ?", [other])
    a.store.reload()
    a.store.db.execute("DELETE FROM visits WHERE id = ?", [vid])
    _set_digest(a.store, a.store.recompute_digest())
    assert a.store.digest() != world.server_store.digest()
    report = a.sync()
    assert report.repaired >= 1
    assert a.store.doc_heads("customer", other) == world.server_store.doc_heads("customer", other)
    assert a.store.event_row("visit", vid) is not None
    assert snapshot(a.store) == snapshot(world.server_store)
    assert a.store.digest() == a.store.recompute_digest() == world.server_store.digest()


def test_missing_document_is_repaired_when_changes_for_it_arrive() -> None:
    """Damage behind the store's back (nothing adjusted) shows when a change cannot apply."""
    world = World()
    a, b = world.client("ua"), world.client("ub")
    cid = a.store.create("customer", customer(phone="1"), "ua")
    world.sync_all()
    b.store.db.execute("DELETE FROM sync_docs WHERE id = ?", [cid])
    b.store.reload()
    a.store.update("customer", cid, {"phone": "2"}, "ua")
    a.sync()
    report = b.sync()
    assert report.repaired >= 1
    assert b.store.get("customer", cid)["phone"] == "2"
    assert b.store.doc_heads("customer", cid) == world.server_store.doc_heads("customer", cid)
    assert snapshot(b.store) == snapshot(world.server_store)


def test_repair_sends_again_a_record_the_server_does_not_have() -> None:
    """A record the server never saw (its database restored from an older backup) is re-sent, not evicted."""
    world = World()
    a, stray = world.client("ua"), World().client("x")
    cid = a.store.create("customer", customer(), "ua")
    a.sync()
    ghost = stray.store.create("customer", customer("Ghost"), "x")
    with a.store.write():  # arrives without passing through the server (e.g. a restored backup)
        a.store.apply_changes("customer", ghost, [c.data for c in stray.store.document("customer", ghost).changes_since([])])
    report = a.sync()
    assert report.repaired >= 1 and report.evicted == 0
    assert sorted(r["id"] for r in a.store.rows("customer")) == sorted([cid, ghost])
    assert sorted(r["id"] for r in world.server_store.rows("customer")) == sorted([cid, ghost])
    assert a.store.pending_count() == 0
    assert a.store.digest() == world.server_store.digest()
    b = world.client("ub")
    b.sync()
    assert b.store.get("customer", ghost)["name"] == "Ghost"


def test_repair_evicts_a_record_the_server_has_but_the_user_may_not_see() -> None:
    world = World(scope=OwnerScope())
    a, b = world.client("ua"), world.client("ub")
    theirs = b.store.create("customer", customer("B's", owner_id="ub"), "ub")
    b.sync()
    mine = a.store.create("customer", customer("A's", owner_id="ua"), "ua")
    a.sync()
    stolen = world.server_store.document("customer", theirs).save()
    with a.store.write():  # a copy that should never have reached this device
        a.store.merge_document("customer", theirs, stolen)
    report = a.sync()
    assert report.repaired >= 1 and report.evicted >= 1
    assert [r["id"] for r in a.store.rows("customer")] == [mine]


# ---- protocol guards ------------------------------------------------------------------------------
def test_incompatible_schema_version_is_refused_and_nothing_written() -> None:
    world = World()
    a = world.client("ua")
    a.store.create("customer", customer(), "ua")
    message = {"schema_version": "3.0", "device_id": a.principal.device_id, "items": []}
    counts = server_counts(world)
    with pytest.raises(IncompatibleVersion) as info:
        world.server.handle_push(a.principal, message)
    assert info.value.status == 426 and "update" in info.value.message
    with pytest.raises(IncompatibleVersion):
        world.server.handle_pull(a.principal, {"schema_version": "1.9", "device_id": a.principal.device_id, "cursor": ""})
    assert server_counts(world) == counts
    assert world.server_store.db.execute("SELECT count(*) FROM sync_devices").fetchone()[0] == 0
    assert SCHEMA_VERSION.startswith("2.")


def test_forged_device_id_is_refused() -> None:
    world = World()
    a, b = world.client("ua"), world.client("ub")
    a.store.create("customer", customer(), "ua")
    a.sync()
    b.store.create("customer", customer("B's"), "ub")
    message = copy.deepcopy(a.transport.sent_pushes[0])
    counts = server_counts(world)
    with pytest.raises(Forbidden) as info:  # b's token, a's device id
        world.server.handle_push(b.principal, message)
    assert info.value.status == 403
    with pytest.raises(Forbidden):
        world.server.handle_pull(b.principal, {"schema_version": SCHEMA_VERSION, "device_id": a.principal.device_id, "cursor": ""})
    assert server_counts(world) == counts


# ---- clock skew -----------------------------------------------------------------------------------
def test_clock_far_ahead_does_not_win_a_later_edit() -> None:
    world = World()
    fast = ManualClock(world.clock.ms)
    a, b = world.client("ua", clock=fast), world.client("ub")
    cid = b.store.create("customer", customer(phone="0"), "ub")
    world.sync_all()
    fast.advance(3 * HOUR)  # a's wall clock jumps hours ahead after its last sync
    a.store.update("customer", cid, {"phone": "from-fast-clock"}, "ua")
    a.sync()
    world.clock.advance(60_000)
    fast.advance(60_000)
    b.store.update("customer", cid, {"phone": "truly-later"}, "ub")  # concurrent: b has not pulled
    b.sync()
    world.sync_all()
    for store in (a.store, b.store, world.server_store):
        row = store.get("customer", cid)
        assert row["phone"] == "truly-later"
        assert [(k["value"], k["author_id"]) for k in row["conflicts"]] == [("from-fast-clock", "ua")]
        assert row["conflicts"][0]["edited_at"] < "2026-01-01T01:00:00"  # clamped to its receipt time


def test_clock_far_ahead_is_clamped_when_pushed_second() -> None:
    world = World()
    fast = ManualClock(world.clock.ms)
    a, b = world.client("ua", clock=fast), world.client("ub")
    cid = b.store.create("customer", customer(phone="0"), "ub")
    world.sync_all()
    fast.advance(3 * HOUR)
    a.store.update("customer", cid, {"phone": "fast"}, "ua")
    world.clock.advance(60_000)
    b.store.update("customer", cid, {"phone": "slow"}, "ub")
    b.sync()
    world.clock.advance(60_000)
    a.sync()
    world.sync_all()
    row = world.server_store.get("customer", cid)
    # a's claimed time (3 h ahead) became its receipt time: later than b's edit, but not 3 h later
    kept = row["conflicts"][0]
    assert (row["phone"], kept["value"]) == ("fast", "slow")
    assert world.server_store.document("customer", cid).stamp("phone").ms == world.clock.ms
    assert a.store.get("customer", cid) == row


def test_event_with_far_future_hlc_is_restamped() -> None:
    world = World()
    fast = ManualClock(world.clock.ms + 5 * HOUR)
    a, b = world.client("ua", clock=fast), world.client("ub")
    cid = b.store.create("customer", customer(), "ub")
    b.sync()
    vid = a.store.add_event("visit", visit(cid), "ua")
    assert Hlc.decode(a.store.event_row("visit", vid)["hlc"]).ms == fast.ms
    world.sync_all()
    server_hlc = Hlc.decode(world.server_store.event_row("visit", vid)["hlc"])
    assert server_hlc.ms <= world.clock.ms
    for store in (a.store, b.store):
        assert store.event_row("visit", vid)["hlc"] == server_hlc.encode()
    assert len(a.store.rows("visit")) == 1
    # a learned the server's time; its clock cannot run backwards, but the server keeps clamping
    assert a.store.now_ms() == world.clock.ms
    world.clock.advance(10)
    later = a.store.add_event("visit", visit(cid, "again"), "ua")
    world.sync_all()
    assert Hlc.decode(world.server_store.event_row("visit", later)["hlc"]).ms <= world.clock.ms
    assert Hlc.decode(a.store.event_row("visit", later)["hlc"]) > server_hlc


# ---- crash between server commit and client ack ---------------------------------------------------
def test_lost_push_answer_then_repush_is_harmless() -> None:
    world = World(validator=no_forbidden_phone)
    a = world.client("ua")
    cid = a.store.create("customer", customer(phone="forbidden"), "ua")
    a.store.add_event("visit", visit(cid), "ua")
    a.transport.push_faults.append("after")
    with pytest.raises(TransportUnavailable):
        a.sync()
    assert a.store.pending_count() > 0  # the ack was never recorded
    state, counts = snapshot(world.server_store), server_counts(world)
    report = a.sync()
    assert report.pushed > 0 and a.store.pending_count() == 0
    assert snapshot(world.server_store) == state and server_counts(world) == counts
    assert world.server_store.db.execute(
        "SELECT count(*) FROM sync_log GROUP BY kind, item_key HAVING count(*) > 1").fetchall() == []
    assert [r["field"] for r in a.store.rejections()] == ["phone"]  # the lost answer's rejection arrives by pull
    assert snapshot(a.store) == snapshot(world.server_store)


def test_lost_pull_answer_is_pulled_again() -> None:
    world = World()
    a, b = world.client("ua"), world.client("ub")
    cid = a.store.create("customer", customer(), "ua")
    a.store.add_event("visit", visit(cid), "ua")
    a.sync()
    b.transport.pull_faults.append("after")
    with pytest.raises(TransportUnavailable):
        b.sync()
    assert b.store.rows("customer") == [] and b.store.cursor == ""
    b.sync()
    assert snapshot(b.store) == snapshot(world.server_store)


def test_batches_are_bounded() -> None:
    world = World()
    a = world.client("ua", max_items=2)
    for n in range(5):
        cid = a.store.create("customer", customer(f"C{n}"), "ua")
        a.store.update("customer", cid, {"phone": str(n)}, "ua")
    pending = a.store.pending_count()
    report = a.sync()
    assert report.pushed == pending >= 10
    assert report.round_trips >= 3 + 1
    assert all(sum(len(i["outbox"]) for i in m["items"]) <= 2 for m in a.transport.sent_pushes)
    assert len(a.transport.sent_pushes) >= 3
    b = world.client("ub", pull_limit=3)
    report = b.sync()
    assert report.pulled == 5 and report.round_trips >= 2
    assert snapshot(b.store) == snapshot(world.server_store)


# ---- malformed messages ---------------------------------------------------------------------------
def _valid_push(world: World) -> tuple[Any, dict[str, Any]]:
    src = World().client("src")
    cid = src.store.create("customer", customer(), "src")
    src.store.add_event("visit", visit(cid), "src")
    src.sync()
    message = copy.deepcopy(src.transport.sent_pushes[0])
    target = world.client("ua")
    message["device_id"] = target.principal.device_id
    return target, message


def _mutations() -> dict[str, Any]:
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731

    def items(fn: Any) -> Any:
        def mutate(m: dict[str, Any]) -> None:
            fn(m["items"])
        return mutate

    return {
        "not a dict": lambda m: m.clear() or m.update({"__replace__": ["not", "a", "dict"]}),
        "items not a list": lambda m: m.update(items="nope"),
        "device id not a string": lambda m: m.update(device_id=42),
        "unknown top-level field": lambda m: m.update(extra=1),
        "unknown item field": items(lambda it: it[0].update(sneaky=True)),
        "bad base64": items(lambda it: it[0]["changes"].append("***not base64***")),
        "garbage change bytes": items(lambda it: it[0]["changes"].append(b64(b"garbage bytes, not a change"))),
        "corrupted checksum": items(lambda it: it[0]["changes"].__setitem__(
            0, b64(_flip_byte(base64.b64decode(it[0]["changes"][0]), 5)))),
        "unknown entity": items(lambda it: it[0].update(entity="invoice")),
        "entity with bad characters": items(lambda it: it[0].update(entity="Customer; DROP")),
        "document item without changes": items(lambda it: it[0].update(changes=[])),
        "event id mismatch": items(lambda it: it[-1].update(record_id="other-id")),
        "event with bad field": items(lambda it: it[-1]["event"].update(method="fax")),
        "event with unknown field": items(lambda it: it[-1]["event"].update(price=1)),
        "event with bad hlc": items(lambda it: it[-1]["event"].update(hlc="yesterday")),
        "outbox not integers": items(lambda it: it[0].update(outbox=["a"])),
    }


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_malformed_push_is_invalid_and_writes_nothing(case: str) -> None:
    world = World()
    target, message = _valid_push(world)
    assert any(i.get("changes") for i in message["items"]) and any(i.get("event") for i in message["items"])
    _mutations()[case](message)
    payload: Any = message.get("__replace__", message)
    counts = server_counts(world)
    with pytest.raises(InvalidMessage) as info:
        world.server.handle_push(target.principal, payload)
    assert info.value.status == 422
    assert server_counts(world) == counts


@pytest.mark.parametrize("message", [
    {"device_id": "d", "cursor": ""},
    {"schema_version": SCHEMA_VERSION, "device_id": "d", "cursor": "abc"},
    {"schema_version": SCHEMA_VERSION, "device_id": "d", "cursor": "-1:0"},
    {"schema_version": SCHEMA_VERSION, "device_id": "d", "cursor": "", "limit": 0},
    {"schema_version": SCHEMA_VERSION, "device_id": "d", "cursor": "", "bogus": 1},
    {"schema_version": SCHEMA_VERSION, "device_id": "d", "cursor": 5},
])
def test_malformed_pull_is_invalid(message: dict[str, Any]) -> None:
    world = World()
    counts = server_counts(world)
    with pytest.raises(InvalidMessage):
        world.server.handle_pull(Principal("u", "d"), message)
    assert server_counts(world) == counts
    assert world.server_store.db.execute("SELECT count(*) FROM sync_device_queue").fetchone()[0] == 0


# ---- identical changes on twin records ------------------------------------------------------------
def _twins() -> tuple[World, Any, Any, str, str]:
    world = World()
    a, b = world.client("ua"), world.client("ub")
    r1 = a.store.create("customer", customer("Twin"), "ua")
    r2 = a.store.create("customer", customer("Twin"), "ua")  # same actor, values and time: same hashes
    world.sync_all()
    a.store.update("customer", r1, {"phone": "9"}, "ua")
    a.store.update("customer", r2, {"phone": "9"}, "ua")
    a.sync()
    return world, a, b, r1, r2


def test_twin_records_with_identical_changes_converge() -> None:
    world, a, b, r1, r2 = _twins()
    assert a.store.doc_heads("customer", r1) == a.store.doc_heads("customer", r2)
    b.sync()
    assert b.store.get("customer", r2)["phone"] == b.store.get("customer", r1)["phone"] == "9"
    assert snapshot(b.store) == snapshot(world.server_store)


def test_twin_records_need_no_repair() -> None:
    world, a, b, r1, r2 = _twins()
    logged = {r for (r,) in world.server_store.db.execute("SELECT DISTINCT record_id FROM sync_log WHERE kind = 'change'")}
    assert {r1, r2} <= logged  # each record's copy of an identical change is in the log
    assert b.sync().repaired == 0
