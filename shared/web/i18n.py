"""Flask-Babel setup and the shared static/template blueprint for both apps.

Owns locale selection, the ``/lang/<code>`` switch and serving
``shared/web/static`` at ``/static/fb/``. It must not know about either app's
users or database: an app that has a user setting puts it in ``g.user_lang``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from babel import Locale
from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    has_request_context,
    redirect,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader
from werkzeug.wrappers import Response

from shared import web

#: Supported locales, best first; the first one is the default.
LANGUAGES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = LANGUAGES[0]
#: Session key holding the language picked with the switch.
SESSION_KEY = "lang"

bp = Blueprint(
    "fbstatic",
    __name__,
    static_folder=web.static_folder(),
    static_url_path="/static/fb",
)


def select_locale() -> str:
    """Pick the session's language, then the user's setting, then the browser's."""
    if not has_request_context():
        return DEFAULT_LOCALE
    for candidate in (session.get(SESSION_KEY), g.get("user_lang")):
        if candidate in LANGUAGES:
            return str(candidate)
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LOCALE


def html_lang(locale: str) -> str:
    """Return the BCP 47 tag for a gettext locale (``zh_CN`` -> ``zh-CN``)."""
    return locale.replace("_", "-")


def language_choices() -> list[dict[str, str]]:
    """Return each supported language with its own name (endonym) for the switch."""
    choices = []
    for code in LANGUAGES:
        loc = Locale.parse(code)
        # Endonym of the language alone ("中文", "English"), from CLDR via Babel.
        name = Locale(loc.language).get_display_name(Locale(loc.language)) or code
        choices.append({"code": code, "name": name, "tag": html_lang(code)})
    return choices


def init_babel(app: Flask) -> Babel:
    """Set up Flask-Babel with the shared catalogues and the locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel = Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=web.translations_folder(),
    )
    # Flask-Babel joins relative paths to app.root_path; ours is absolute and
    # always first so that both apps share one catalogue.
    dirs = [
        d
        for d in str(app.config.get("BABEL_TRANSLATION_DIRECTORIES", "")).split(";")
        if d
    ]
    if web.translations_folder() not in dirs:
        app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
            [web.translations_folder(), *dirs]
        )
    choices = language_choices()

    @app.context_processor
    def _inject_locale() -> dict[str, Any]:
        locale = str(get_locale() or DEFAULT_LOCALE)
        return {
            "fb_locale": locale,
            "fb_html_lang": html_lang(locale),
            "fb_languages": choices,
        }

    return babel


def _safe_return_url() -> str:
    """Return where to go back after switching language: same host only."""
    for candidate in (request.args.get("next"), request.referrer):
        if not candidate:
            continue
        parts = urlsplit(candidate)
        if parts.scheme and parts.scheme not in ("http", "https"):
            continue
        if parts.netloc and parts.netloc != request.host:
            continue
        path = parts.path or "/"
        if not path.startswith("/") or path.startswith("//"):
            continue
        return path + (f"?{parts.query}" if parts.query else "")
    return "/"


@bp.route("/lang/<code>", methods=["GET", "POST"])
def set_lang(code: str) -> ResponseReturnValue:
    """Store the chosen language in the session and go back to the page."""
    if code not in LANGUAGES:
        abort(400)
    session[SESSION_KEY] = code
    response: Response = redirect(_safe_return_url(), code=303)
    return response


def register_static(app: Flask) -> None:
    """Serve the shared assets at /static/fb/ and add the shared templates."""
    app.register_blueprint(bp)
    shared_loader = FileSystemLoader(web.template_folder())
    # The app's own templates win; fb_base.html is found as a fallback.
    loaders: list[BaseLoader] = [shared_loader]
    if app.jinja_loader is not None:
        loaders.insert(0, app.jinja_loader)
    app.jinja_loader = ChoiceLoader(loaders)
