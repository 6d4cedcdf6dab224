"""Customer text search, one way everywhere: FTS5 trigram from 3 characters, LIKE below that.

The trigram index (``customers_fts``, declared in the registry) finds Chinese substrings;
queries shorter than a trigram fall back to LIKE on name, phone and mobile. Control characters
(a NUL ends an FTS5 string early) are refused at the API edge and dropped from page input.
"""
from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TRIGRAM = 3


def no_control_characters(value: str) -> None:
    """Marshmallow validator for search text."""
    if _CONTROL.search(value):
        raise ValidationError("The search text contains control characters.")


def clean(q: str | None) -> str:
    """Search text from a page: control characters dropped, spaces trimmed."""
    return _CONTROL.sub("", q or "").strip()


def like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def customer_match(q: str, alias: str = "c") -> tuple[str, list[Any]]:
    """A SQL condition on ``customers AS alias`` matching ``q`` in name, phone or mobile."""
    q = clean(q)
    if len(q) >= TRIGRAM:
        return (f"{alias}.rowid IN (SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?)",
                ['"' + q.replace('"', '""') + '"'])
    like = like_pattern(q)
    return (f"({alias}.name LIKE ? ESCAPE '\\' OR {alias}.phone LIKE ? ESCAPE '\\' OR {alias}.mobile LIKE ? ESCAPE '\\')",
            [like, like, like])
