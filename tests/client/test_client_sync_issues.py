"""The sync issues page shows, next to the reason, the value the server did not accept (a field
rejection's ``detail.value``, a whole-record refusal's ``detail.values``), escaped."""
from __future__ import annotations

HOSTILE = '<script>alert("x")</script>0571-8888'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;0571-8888"


def _cell(html: str, rejection_id: str) -> str:
    """The row of one rejection (up to its dismiss form)."""
    end = html.index(f"/sync-issues/{rejection_id}/dismiss")
    return html[html.rindex("<tr>", 0, end):end]


def test_kept_values_are_shown_next_to_the_reason_and_escaped(pages, store):
    with store.write():
        store.add_rejection({"id": "rej-field", "entity": "customer", "record_id": "c-1", "field": "phone", "kind": "field",
                             "reason": "no_permission", "detail": {"value": HOSTILE},
                             "created_at": "2026-01-01T08:00:00+00:00"})
        store.add_rejection({"id": "rej-record", "entity": "customer", "record_id": "c-2", "field": None, "kind": "record",
                             "reason": "out_of_scope",
                             "detail": {"drop": True, "values": {"name": "温州<b>东瓯</b>电器", "remark": "A离线补充",
                                                                 "mobile": None, "id": "c-2"}},
                             "created_at": "2026-01-01T08:01:00+00:00"})
        store.add_rejection({"id": "rej-none", "entity": "customer", "record_id": "c-3", "field": "owner_id", "kind": "field",
                             "reason": "already_claimed", "detail": None, "created_at": "2026-01-01T08:02:00+00:00"})
    html = pages.get("/sync-issues").get_data(as_text=True)
    assert "<script>alert" not in html and "<b>东瓯" not in html

    field_row = _cell(html, "rej-field")
    assert ESCAPED in field_row and 'class="kept-value"' in field_row

    record_row = _cell(html, "rej-record")
    assert "温州&lt;b&gt;东瓯&lt;/b&gt;电器" in record_row and "A离线补充" in record_row
    assert ">c-2<" not in record_row.split('class="kept-value"', 1)[1]  # the record id is not a kept value

    assert 'class="kept-value"' not in _cell(html, "rej-none")  # nothing kept: nothing shown
