"""The org directory replicated to every device: one ``directory_user`` document per user.

The server writes these documents (never a device: the server's rules refuse pushes of them) so
that a client can look users up offline for assign and transfer. They hold no secrets: no
password hash, no rights, no tokens.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .registry import Registry


class DirectoryUserSchema(Schema):
    """A user as every device sees them in the org directory."""

    class Meta:
        unknown = RAISE

    id = fields.String(dump_only=True)
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    display_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    role = fields.String(allow_none=True, validate=validate.Length(max=64))
    department_path = fields.String(allow_none=True, validate=validate.Length(max=500))
    active = fields.Boolean()


def register(registry: Registry) -> None:
    """Declare the org directory entity (no parent: ``Scope.visible`` decides; the server shows it to all)."""
    registry.register("directory_user", "directory_users", "document", DirectoryUserSchema,
                      indexes=(("username",),))
