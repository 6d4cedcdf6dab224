"""The authority hook: what a pushed batch would change, and the verdict the server's rules give.

The engine computes a ``RecordDiff`` (field, old, new) per record and asks a ``Validator``. The
validator accepts, rejects single fields (the engine compensates), or refuses the whole record.
Server rules live in ``server/``; this module only defines the contract.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Principal:
    """Who is syncing: the user, their device, and whatever the server's rules need about them."""

    user_id: str
    device_id: str
    info: Any = None


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class RecordDiff:
    """The field-level difference a push would make to one record."""

    entity: str
    record_id: str
    is_new: bool
    before: dict[str, Any]
    changes: tuple[FieldChange, ...]


@dataclass
class Verdict:
    """Accept (the default), reject some fields with reasons, or refuse the record whole."""

    rejected_fields: dict[str, str] = field(default_factory=dict)
    refused: str | None = None

    @classmethod
    def accept(cls) -> Verdict:
        return cls()

    @classmethod
    def refuse(cls, reason: str) -> Verdict:
        return cls(refused=reason)

    @classmethod
    def reject(cls, **reasons: str) -> Verdict:
        return cls(rejected_fields=dict(reasons))


class Validator(Protocol):
    def __call__(self, principal: Principal, diff: RecordDiff) -> Verdict: ...


def accept_all(principal: Principal, diff: RecordDiff) -> Verdict:
    """A validator that accepts every change (for tests and single-user setups)."""
    return Verdict.accept()


class Effects(Protocol):
    """What the server does after it stored an accepted record or event, inside the push's
    transaction (assign a document number, apply an approval, post to a ledger)."""

    def __call__(self, principal: Principal, entity: str, record_id: str) -> None: ...
