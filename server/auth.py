"""Authentication at the HTTP edge: API login and bearer tokens, page sessions, CSRF for forms.

``current_user()`` serves the REST API (``Authorization: Bearer <token>``); pages use the session
through ``login_required``. Every page POST must carry the session's CSRF token (``csrf_token()``
in templates); ``/api/`` and ``/sync/`` are exempt because they authenticate with headers, not
cookies, so a foreign site cannot make a browser send them.
"""
from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields

from . import oplog, org, users
from .db import get_store
from shared.web.errors import Invalid, Unauthorized
from shared.web.security import bearer_token, csrf_ok, csrf_token

bp = Blueprint("auth", __name__)
_CSRF_EXEMPT = ("/api/", "/sync/")


class LoginSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True)
    password = fields.String(required=True)


def current_user() -> dict[str, Any]:
    """The API caller from ``Authorization: Bearer``; raise ``Unauthorized`` otherwise."""
    if "api_user" in g:
        return g.api_user
    token = bearer_token()
    user = users.verify_token(get_store(), token) if token else None
    if user is None:
        if token:  # a token that is not ours (forged, revoked, expired): worth an admin's eye
            oplog.record(get_store(), None, "api_refused", f"{request.method} {request.path}", {"reason": "bad_token"})
        raise Unauthorized("Log in first: send Authorization: Bearer <token> from POST /api/login.")
    user = org.enrich(get_store(), user)  # rights are read on every request: a change applies at once
    g.api_user = user
    return user


@bp.post("/api/login")
def api_login() -> ResponseReturnValue:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise Invalid("Send a JSON object with username and password.")
    try:
        creds = LoginSchema().load(payload)
    except ValidationError as exc:
        raise Invalid("The login request is invalid.", fields=exc.normalized_messages()) from exc
    user = users.authenticate(get_store(), creds["username"], creds["password"])
    if user is None:
        oplog.record(get_store(), None, "login_failed", creds["username"], {"via": "api", "ip": request.remote_addr},
                     username=creds["username"])
        raise Unauthorized("Wrong username or password.")
    oplog.record(get_store(), user["id"], "login", None, {"via": "api", "ip": request.remote_addr})
    token = users.issue_token(get_store(), user["id"])
    return {"token": token, "user": public_user(user)}


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user.get(k) for k in ("id", "username", "display_name", "role", "department")}


# ---- pages: session login ---------------------------------------------------------------------
def page_user() -> dict[str, Any] | None:
    """The logged-in page user (cached on ``g``), or None."""
    if "user" not in g:
        user_id = session.get("user_id")
        user = users.get_user(get_store(), user_id) if user_id else None
        g.user = org.enrich(get_store(), user) if user and user["active"] else None
        if g.user and g.user.get("lang"):
            g.user_lang = g.user["lang"]
    return g.user


def me() -> dict[str, Any]:
    """The logged-in page user, in a view behind ``login_required``."""
    user = page_user()
    if user is None:
        abort(401)
    return user


def can(module: str, action: str) -> bool:
    """Whether the page user holds ``module.action``."""
    return f"{module}.{action}" in (me().get("rights") or ())


def require(module: str, action: str) -> None:
    """403 unless the page user holds ``module.action``."""
    if not can(module, action):
        abort(403)


def login_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Send anonymous visitors to the login page, then back here."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if page_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: str) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Logged in and holding one of ``roles`` (403 otherwise)."""

    def decorator(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = page_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if user["role"] not in roles and user["role"] != "admin":
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapped)

    return decorator


def rights_required(module: str, action: str) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Logged in and holding ``module.action`` (403 otherwise)."""

    def decorator(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = page_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if f"{module}.{action}" not in user["rights"]:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("pages.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        user = users.authenticate(get_store(), username, request.form.get("password", ""))
        if user is None:
            error = _("Wrong username or password.")
            oplog.record(get_store(), None, "login_failed", username, {"via": "page", "ip": request.remote_addr},
                         username=username)
        else:
            oplog.record(get_store(), user["id"], "login", None, {"via": "page", "ip": request.remote_addr})
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            session["user_id"] = user["id"]
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


# ---- CSRF -------------------------------------------------------------------------------------
def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith(_CSRF_EXEMPT):
        return
    if not csrf_ok():
        abort(400, description=_("The form has expired. Reload the page and try again."))


def init_app(app: Flask) -> None:
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_page_user"] = page_user
    app.register_blueprint(bp)
