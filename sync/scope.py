"""The scope hook: which records a user may hold. Children follow their parent (registry).

A ``Scope`` answers for records of entities without a parent; the engine resolves children
through the parent field declared in the registry.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from .authority import Principal


class Scope(Protocol):
    def visible(self, principal: Principal, entity: str, values: Mapping[str, Any]) -> bool: ...


class Everything:
    """Every replica sees every record."""

    def visible(self, principal: Principal, entity: str, values: Mapping[str, Any]) -> bool:
        return True


class OwnerScope:
    """Records whose ``owner_field`` is the user (or any owner, for users in ``see_all``)."""

    def __init__(self, owner_field: str = "owner_id", see_all: frozenset[str] = frozenset()) -> None:
        self.owner_field = owner_field
        self.see_all = see_all

    def visible(self, principal: Principal, entity: str, values: Mapping[str, Any]) -> bool:
        if principal.user_id in self.see_all:
            return True
        if self.owner_field not in values:
            return True
        return values.get(self.owner_field) == principal.user_id
