"""Page plumbing shared by the server and client Flask apps.

Owns the base layout (``fb_base.html``), the vendored static assets (htmx,
stylesheet), the translation catalogues and their Flask wiring. It must not
import ``server`` or ``client``: both apps import it, never each other.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def template_folder() -> str:
    """Return the absolute path of the shared Jinja templates."""
    return str(_HERE / "templates")


def static_folder() -> str:
    """Return the absolute path of the shared static assets."""
    return str(_HERE / "static")


def translations_folder() -> str:
    """Return the absolute path of the shared gettext catalogues."""
    return str(_HERE / "translations")


from shared.web.i18n import (  # noqa: E402  (the helpers above are used by i18n)
    LANGUAGES,
    init_babel,
    register_static,
)

__all__ = [
    "LANGUAGES",
    "init_babel",
    "register_static",
    "static_folder",
    "template_folder",
    "translations_folder",
]
