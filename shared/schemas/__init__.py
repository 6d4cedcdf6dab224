"""The product's marshmallow schemas and the entity registry built from them."""
from __future__ import annotations

from . import org, policy, sales, stock
from .crm import ContactSchema, CustomerSchema, VisitSchema, VisitVoidSchema
from .registry import DERIVED_FIELDS, Entity, Registry


def build_registry() -> Registry:
    """Return the registry of every synced entity, parents first."""
    registry = Registry()
    registry.register(
        "customer", "customers", "document", CustomerSchema,
        text_fields=("remark",), scope_fields=("owner_id", "deleted"), search_fields=("name", "phone", "mobile"),
        indexes=(("updated_at",), ("is_hot", "updated_at"), ("owner_id",), ("next_contact_at",)),
    )
    registry.register(
        "contact", "contacts", "document", ContactSchema,
        text_fields=("remark",), parent=("customer", "customer_id"),
    )
    registry.register(
        "visit", "visits", "event", VisitSchema, parent=("customer", "customer_id"),
        indexes=(("customer_id", "visited_at"), ("visited_at",)),
    )
    registry.register(
        "visit_void", "visit_voids", "event", VisitVoidSchema, parent=("customer", "customer_id")
    )
    policy.register(registry)
    org.register(registry)
    sales.register(registry)
    stock.register(registry)
    return registry


REGISTRY = build_registry()

__all__ = ["DERIVED_FIELDS", "Entity", "REGISTRY", "Registry", "build_registry"]
