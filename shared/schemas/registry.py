"""The entity registry: which entities exist, their kind, fields and parent.

The sync engine reads only this registry, so adding an entity is a marshmallow schema plus one
``register`` call, never engine code. The registry knows nothing of storage or HTTP.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal

from marshmallow import Schema, fields

EntityKind = Literal["document", "event"]
ColumnType = Literal["str", "int", "float", "bool"]

#: Fields every record has that are not written by users through the document's field map.
DERIVED_FIELDS = frozenset({"id", "conflicts", "updated_at"})


def _column_type(f: fields.Field) -> ColumnType:
    if isinstance(f, fields.Boolean):
        return "bool"
    if isinstance(f, fields.Integer):
        return "int"
    if isinstance(f, (fields.Float, fields.Decimal)):
        return "float"
    return "str"


@dataclass(frozen=True)
class Entity:
    """One synced entity: a document (Automerge, mutable) or an event (immutable row)."""

    name: str
    plural: str
    kind: EntityKind
    schema: type[Schema]
    text_fields: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None  # (parent entity name, field holding the parent id)
    scope_fields: tuple[str, ...] = ()  # a change to one of these may move the record between scopes
    search_fields: tuple[str, ...] = ()  # indexed for substring search (FTS5 trigram)
    indexes: tuple[tuple[str, ...], ...] = ()  # extra indexes for how lists sort and filter
    columns: dict[str, ColumnType] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.plural

    @property
    def field_names(self) -> list[str]:
        return list(self.columns)


class Registry:
    """Entities by name; iteration order is registration order (parents before children)."""

    def __init__(self) -> None:
        self._entities: dict[str, Entity] = {}

    def register(
        self,
        name: str,
        plural: str,
        kind: EntityKind,
        schema: type[Schema],
        *,
        text_fields: tuple[str, ...] = (),
        parent: tuple[str, str] | None = None,
        scope_fields: tuple[str, ...] = (),
        search_fields: tuple[str, ...] = (),
        indexes: tuple[tuple[str, ...], ...] = (),
    ) -> Entity:
        """Declare an entity; its columns come from the schema's declared fields."""
        if name in self._entities:
            raise ValueError(f"entity {name!r} is already registered")
        if parent is not None and parent[0] not in self._entities:
            raise ValueError(f"parent {parent[0]!r} of {name!r} must be registered first")
        declared = schema._declared_fields
        columns: dict[str, ColumnType] = {
            n: _column_type(f)
            for n, f in declared.items()
            if n not in DERIVED_FIELDS and not f.metadata.get("derived")
        }
        if kind == "document":
            columns.setdefault("deleted", "bool")
        for tf in text_fields:
            if columns.get(tf) != "str":
                raise ValueError(f"text field {tf!r} of {name!r} must be a string field")
        for sf in search_fields:
            if columns.get(sf) != "str":
                raise ValueError(f"search field {sf!r} of {name!r} must be a string field")
        for index in indexes:
            for column in index:
                if column not in columns and column not in ("updated_at", "hlc"):
                    raise ValueError(f"index column {column!r} of {name!r} is not a field")
        entity = Entity(name, plural, kind, schema, text_fields, parent, scope_fields, search_fields, indexes, columns)
        self._entities[name] = entity
        return entity

    def __getitem__(self, name: str) -> Entity:
        return self._entities[name]

    def get(self, name: str) -> Entity | None:
        return self._entities.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entities

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._entities.values())

    def by_plural(self, plural: str) -> Entity | None:
        return next((e for e in self._entities.values() if e.plural == plural), None)

    def children_of(self, name: str) -> list[Entity]:
        return [e for e in self._entities.values() if e.parent and e.parent[0] == name]
