"""Page forms validated by the entity marshmallow schemas (``shared.schemas``).

Turns HTML form values into schema input (empty → None, checkbox → bool, ``datetime-local`` →
ISO 8601 with the client's offset), loads it with the entity schema and returns values or
translated field errors to show next to the fields. No database access here.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Iterable, Mapping

from flask_babel import gettext
from marshmallow import Schema, ValidationError, fields

from shared.schemas.fields import IsoDate, IsoDateTime

# marshmallow's and the schemas' messages, so they can be shown translated (see the catalogues).
_KNOWN_MESSAGES = (
    "Missing data for required field.",
    "Not a valid email address.",
    "Not a valid ISO 8601 date-time.",
    "Not a valid date (YYYY-MM-DD).",
    "The date-time must carry a UTC offset, e.g. +08:00.",
    "Field may not be null.",
    "Not a valid string.",
    "Not a valid boolean.",
)


def translate_message(message: str) -> str:
    if message in _KNOWN_MESSAGES:
        return gettext(message)
    if message.startswith("Must be one of:"):
        return gettext("Choose one of the offered values.")
    if message.startswith("Shorter than minimum length"):
        return gettext("This field is required.")
    if message.startswith("Longer than maximum length"):
        return gettext("This is too long.")
    return message


def to_local_input(value: str | None, tz: tzinfo) -> str:
    """ISO 8601 with offset → the ``datetime-local`` input's value in the client's time zone."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz)
    return parsed.strftime("%Y-%m-%dT%H:%M")


def _from_local_input(raw: str, tz: tzinfo) -> str:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return raw  # the schema reports it
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat(timespec="seconds")


def form_input(schema: Schema, form: Mapping[str, str], names: Iterable[str], tz: tzinfo) -> dict[str, Any]:
    """The schema input for the named fields of a submitted form."""
    data: dict[str, Any] = {}
    for name in names:
        field = schema.fields[name]
        if isinstance(field, fields.Boolean):
            data[name] = form.get(name) in ("1", "on", "true", "yes")
            continue
        raw = form.get(name)
        raw = "" if raw is None else (raw.rstrip() if name in ("remark", "content") else raw.strip())
        if raw == "":
            if field.required:
                data[name] = ""
            elif field.allow_none:
                data[name] = None
            continue
        if isinstance(field, IsoDateTime):
            raw = _from_local_input(raw, tz)
        elif isinstance(field, IsoDate):
            raw = raw[:10]
        data[name] = raw
    return data


def validate_form(schema_cls: type[Schema], form: Mapping[str, str], names: Iterable[str],
                  tz: tzinfo) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load a form with an entity schema; return (values, {field: [translated messages]})."""
    schema = schema_cls()
    data = form_input(schema, form, list(names), tz)
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        messages = exc.normalized_messages()
        errors: dict[str, list[str]] = {}
        for name, found in messages.items():
            listed = found if isinstance(found, list) else [str(found)]
            errors[str(name)] = [translate_message(str(m)) for m in listed]
        for name, value in data.items():
            if value == "" and schema.fields[name].required and name in errors:
                errors[name] = [gettext("This field is required.")]
        return data, errors
