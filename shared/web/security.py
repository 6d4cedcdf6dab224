"""What both apps need to keep sessions and forms safe: the session key, bearer tokens, CSRF.

Which requests need a CSRF token differs per app (each app's ``auth`` decides); how the token is
made and checked does not.
"""
from __future__ import annotations

import hmac
import os
import secrets

from flask import request, session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def secret_key(data_dir: str) -> str:
    """The session signing key, created once and kept (0600) in the data directory."""
    path = os.path.join(data_dir, "secret_key")
    try:
        with open(path, encoding="ascii") as f:
            key = f.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    return key


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok() -> bool:
    """Whether the request carries this session's CSRF token (form field or header)."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_FIELD) or ""
    return bool(expected) and hmac.compare_digest(str(sent), str(expected))
