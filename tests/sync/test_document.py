"""RecordDocument: fields, text, history, exchange of changes and their failure modes."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.document import ChangeInfo, InvalidChanges, MissingDependencies, RecordDocument, Stamp, change_hash


def actor() -> bytes:
    return uuid.uuid4().bytes


def stamp(ms: int = 1000, author: str = "u1", site: str = "s1") -> Stamp:
    return Stamp(ms, author, site)


def base() -> RecordDocument:
    return RecordDocument.new(actor(), {"name": "ACME", "phone": "1", "deleted": False}, stamp(), ["remark"])


def fork(doc: RecordDocument) -> RecordDocument:
    return RecordDocument.load(doc.save(), actor())


def data(changes: list[ChangeInfo]) -> list[bytes]:
    return [c.data for c in changes]


def test_set_and_get_fields_with_stamps() -> None:
    doc = base()
    assert doc.get("name") == "ACME"
    assert doc.get("missing") is None
    assert doc.values() == {"name": "ACME", "phone": "1", "deleted": False, "remark": ""}
    doc.set_fields({"phone": "2", "is_hot": True, "score": 3, "ratio": 0.5, "email": None}, stamp(2000, "u2", "s2"))
    assert doc.values() == {"name": "ACME", "phone": "2", "deleted": False, "remark": "", "is_hot": True,
                            "score": 3, "ratio": 0.5, "email": None}
    assert doc.stamp("phone") == Stamp(2000, "u2", "s2")
    assert doc.stamp("name") == stamp()
    # the text object made by ``new`` carries no stamp until text is written
    assert set(doc.stamps()) == {"name", "phone", "deleted", "is_hot", "score", "ratio", "email"}
    with pytest.raises(TypeError):
        doc.set_fields({"phone": ["not", "scalar"]}, stamp())  # type: ignore[dict-item]


def test_stamp_round_trip_keeps_pipes_in_site() -> None:
    s = Stamp(5, "a", "b|c")
    assert Stamp.decode(s.encode()) == s


def test_save_load_round_trip() -> None:
    doc = base()
    doc.splice_text("remark", 0, 0, "hello", stamp())
    loaded = RecordDocument.load(doc.save(), actor())
    assert loaded.values() == doc.values()
    assert loaded.heads() == doc.heads()


def test_text_splice_and_bounds() -> None:
    doc = base()
    doc.splice_text("remark", 0, 0, "hello", stamp())
    doc.splice_text("remark", 5, 0, " world", stamp())
    doc.splice_text("remark", 0, 1, "H", stamp(3000))
    assert doc.get("remark") == "Hello world"
    assert doc.stamp("remark") == stamp(3000)
    for pos, delete in [(-1, 0), (12, 0), (10, 5), (0, -1)]:
        with pytest.raises(ValueError):
            doc.splice_text("remark", pos, delete, "x", stamp())
    with pytest.raises(ValueError):
        doc.splice_text("name", 0, 0, "x", stamp())  # not a text field
    assert doc.get("remark") == "Hello world"


def test_set_fields_on_text_is_a_minimal_splice_that_merges() -> None:
    a = base()
    a.set_fields({"remark": "the quick fox"}, stamp(), ["remark"])
    b = fork(a)
    a.set_fields({"remark": "the quick brown fox"}, stamp(), ["remark"])
    b.set_fields({"remark": "the quick fox jumps"}, stamp(), ["remark"])
    a.apply(data(b.changes_since([])))
    assert a.get("remark") == "the quick brown fox jumps"


def test_concurrent_splices_merge_character_wise() -> None:
    a = base()
    a.splice_text("remark", 0, 0, "hello", stamp())
    b = fork(a)
    a.splice_text("remark", 0, 0, "A:", stamp())
    b.splice_text("remark", 5, 0, "!B", stamp())
    a_changes, b_changes = a.changes_since([]), b.changes_since([])
    a.apply(data(b_changes))
    b.apply(data(a_changes))
    assert a.get("remark") == b.get("remark") == "A:hello!B"
    assert a.heads() == b.heads()


def test_values_as_of_heads() -> None:
    doc = base()
    h1 = doc.heads()
    doc.set_fields({"phone": "2", "city": "Xi'an"}, stamp(2000))
    doc.splice_text("remark", 0, 0, "note", stamp(2000))
    h2 = doc.heads()
    doc.set_fields({"phone": "3"}, stamp(3000))
    assert doc.get("phone", h1) == "1" and doc.get("phone", h2) == "2" and doc.get("phone") == "3"
    assert doc.values(h1) == {"name": "ACME", "phone": "1", "deleted": False, "remark": ""}
    assert doc.values(h2)["remark"] == "note" and doc.values(h2)["city"] == "Xi'an"
    assert doc.stamp("phone", h1) == stamp(1000)
    assert doc.stamp("phone", h2) == stamp(2000)


def test_changes_since_and_apply_reproduce_the_document() -> None:
    doc = base()
    h1 = doc.heads()
    assert doc.changes_since(h1) == []
    doc.set_fields({"phone": "2"}, stamp(2000))
    since = doc.changes_since(h1)
    assert len(since) == 1 and set(since[0].deps) == set(h1)
    assert since[0].hash == change_hash(since[0].data) == doc.heads()[0]
    copy = RecordDocument.empty(actor())
    everything = doc.changes_since([])
    added = copy.apply(data(everything))
    assert added == [c.hash for c in everything]
    assert copy.values() == doc.values() and copy.heads() == doc.heads()


def test_apply_is_idempotent() -> None:
    doc = base()
    copy = RecordDocument.empty(actor())
    changes = data(doc.changes_since([]))
    assert copy.apply(changes)
    heads, saved = copy.heads(), copy.save()
    assert copy.apply(changes) == []
    assert copy.apply(changes[:1]) == []
    assert copy.apply([]) == []
    assert copy.heads() == heads and copy.save() == saved


def test_missing_dependencies_leave_document_untouched() -> None:
    doc = base()
    first = data(doc.changes_since([]))
    doc.set_fields({"phone": "2"}, stamp(2000))
    h2 = doc.heads()
    doc.set_fields({"phone": "3"}, stamp(3000))
    later = data(doc.changes_since(h2))  # depends on the phone=2 change
    empty = RecordDocument.empty(actor())
    with pytest.raises(MissingDependencies):
        empty.apply(later)
    assert empty.heads() == [] and empty.values() == {}
    partial = RecordDocument.empty(actor())
    partial.apply(first)
    before, values = partial.heads(), partial.values()
    with pytest.raises(MissingDependencies):
        partial.apply(later)
    assert partial.heads() == before and partial.values() == values
    partial.apply(data(doc.changes_since(before)))  # with the missing link it applies
    assert partial.get("phone") == "3"


def test_invalid_changes_garbage_and_corrupted_checksum() -> None:
    doc = base()
    good = doc.changes_since([])[-1].data
    target = RecordDocument.empty(actor())
    for garbage in (b"", b"garbage bytes here", b"\x85\x6f\x4a\x83" + b"\x00" * 20, doc.save()):
        with pytest.raises(InvalidChanges):
            change_hash(garbage)
    with pytest.raises(InvalidChanges):
        target.apply([b"not an automerge change at all"])
    corrupted = bytearray(good)
    corrupted[-1] ^= 0xFF
    with pytest.raises(InvalidChanges):
        target.apply([bytes(corrupted)])
    bad_checksum = bytearray(good)
    bad_checksum[5] ^= 0xFF
    with pytest.raises(InvalidChanges):
        target.apply([bytes(bad_checksum)])
    assert target.heads() == []
    with pytest.raises(InvalidChanges):
        RecordDocument.load(b"\x00\x01 not a document", actor())


def test_conflicting_fields_only_for_concurrent_writes_of_one_field() -> None:
    a = base()
    b = fork(a)
    c = fork(a)
    a.set_fields({"phone": "A", "city": "X"}, stamp(2000, "ua", "sa"))
    b.set_fields({"phone": "B"}, stamp(2000, "ub", "sb"))
    c.set_fields({"email": "c@example.com"}, stamp(2000, "uc", "sc"))
    before = a.heads()
    a.apply(data(b.changes_since([])))
    assert a.conflicting_fields(before, a.heads()) == {"phone"}
    mid = a.heads()
    a.apply(data(c.changes_since([])))
    assert a.conflicting_fields(mid, a.heads()) == set()
    assert a.get("phone") in {"A", "B"}
    # the values each side saw stay readable at their own heads
    assert a.get("phone", b.heads()) == "B"
    assert a.get("phone", before) == "A"
    # a sequential overwrite is no conflict
    seq = fork(a)
    h = seq.heads()
    seq.set_fields({"phone": "C"}, stamp(3000))
    assert seq.conflicting_fields(h, seq.heads()) == set()


def test_conflicts_keep_and_drop_replicate() -> None:
    a = base()
    a.keep_conflict("k1", {"field": "phone", "value": "9", "author": "u2", "at": 5, "site": "s2"})
    a.keep_conflict("k0", {"field": "name", "value": "Old", "author": "u3", "at": 1, "site": "s3"})
    assert [c["id"] for c in a.conflicts()] == ["k0", "k1"]
    assert "_c" not in a.values() and "_m" not in a.values()
    b = RecordDocument.empty(actor())
    b.apply(data(a.changes_since([])))
    assert b.conflicts() == a.conflicts()
    a.drop_conflict("k0")
    assert [c["id"] for c in a.conflicts()] == ["k1"]
    assert a.conflicts()[0] == {"id": "k1", "field": "phone", "value": "9", "author": "u2", "at": 5, "site": "s2"}


splice_ops = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 1000), st.integers(0, 3), st.text("abcxyz", max_size=3)),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(splice_ops)
def test_concurrent_text_edits_converge(ops: list[tuple[int, int, int, str]]) -> None:
    origin = base()
    origin.splice_text("remark", 0, 0, "seed", stamp())
    replicas = [fork(origin), fork(origin)]
    model = ["seed", "seed"]  # the plain-string result each side expects locally
    for who, pos, delete, insert in ops:
        doc = replicas[who]
        length = len(model[who])
        p = pos % (length + 1)
        d = min(delete, length - p)
        doc.splice_text("remark", p, d, insert, stamp())
        model[who] = model[who][:p] + insert + model[who][p + d:]
    a, b = replicas
    assert [a.get("remark"), b.get("remark")] == model
    a_changes, b_changes = data(a.changes_since([])), data(b.changes_since([]))
    a.apply(b_changes)
    b.apply(a_changes)
    assert a.get("remark") == b.get("remark")
    assert a.heads() == b.heads()
    editors = {who for who, *_ in ops}
    if len(editors) == 1:  # only one side edited: the merge is exactly its text
        assert a.get("remark") == model[editors.pop()]
