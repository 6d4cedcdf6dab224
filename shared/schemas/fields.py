"""Field types shared by the entity schemas: ISO 8601 times with offset, kept as strings."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError, fields


class IsoDateTime(fields.String):
    """An ISO 8601 date-time that must carry a UTC offset; stored and sent as the string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValidationError("Not a valid ISO 8601 date-time.") from exc
        if parsed.tzinfo is None:
            raise ValidationError("The date-time must carry a UTC offset, e.g. +08:00.")
        return parsed.isoformat()


class IsoDate(fields.String):
    """An ISO 8601 calendar date (YYYY-MM-DD) kept as the string."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise ValidationError("Not a valid date (YYYY-MM-DD).") from exc
