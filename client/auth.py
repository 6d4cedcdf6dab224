"""Local authentication: users cached at enrollment log in offline, on pages and through the API.

Owns ``/login``, ``/logout``, ``POST /api/login`` (bearer tokens kept as hashes in
``local_tokens``), ``current_user()`` for the REST API and the CSRF token of page forms.
Password checks run against ``local_users``: the server is never asked. On a warehouse kiosk
(enrolled with ``--warehouse``) other staff share the device: a user the device does not know is
checked once against the server's ``POST /api/login`` while online, and the hash of the password
is then kept in ``kiosk_users`` so the same user logs in offline later (pages only; API tokens stay
the enrolled user's).
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Any

import requests

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from werkzeug.security import check_password_hash, generate_password_hash

from shared.web.errors import Forbidden, Invalid, Unauthorized
from shared.web.security import bearer_token, csrf_ok, csrf_token
from sync import ReplicaStore
from sync.clock import iso_from_ms
from sync.errors import TransportUnavailable

from . import db
from .db import get_store

bp = Blueprint("auth", __name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_USER_COLUMNS = "id, username, display_name, role, department"


# ---- domain: plain values in, plain values out -----------------------------------------------
def authenticate(store: ReplicaStore, username: str, password: str) -> dict[str, Any] | None:
    """Return the cached user if the password matches its locally stored hash."""
    rows = list(store.db.query("SELECT * FROM local_users WHERE username = ?", [username.strip()]))
    if not rows or not check_password_hash(rows[0]["password_hash"], password):
        return None
    user = rows[0]
    user.pop("password_hash")
    return user


def user_by_id(store: ReplicaStore, user_id: str) -> dict[str, Any] | None:
    rows = list(store.db.query(f"SELECT {_USER_COLUMNS} FROM local_users WHERE id = ?", [user_id]))
    if not rows:
        rows = list(store.db.query(f"SELECT {_USER_COLUMNS} FROM kiosk_users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


def is_kiosk(store: ReplicaStore) -> bool:
    device = db.get_device(store)
    return bool(device and device.get("warehouse"))


def server_login(server_url: str, username: str, password: str, timeout: float) -> dict[str, Any] | None:
    """Ask the server whether the password is right: its user, None if refused; ``TransportUnavailable`` offline."""
    try:
        response = requests.post(f"{server_url.rstrip('/')}/api/login", json={"username": username, "password": password},
                                 timeout=timeout)
    except requests.RequestException as exc:
        raise TransportUnavailable(f"cannot reach {server_url}", original=exc) from exc
    if response.status_code >= 500:
        raise TransportUnavailable(f"server error {response.status_code}")
    if response.status_code != 200:
        return None
    try:
        user = response.json()["user"]
        return {k: user.get(k) for k in ("id", "username", "display_name", "role", "department")} if user.get("id") else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def remember_kiosk_user(store: ReplicaStore, user: dict[str, Any], password: str) -> None:
    """Keep a server-verified kiosk user and a local hash of the password (offline login later)."""
    with store.write():
        store.db.execute("DELETE FROM kiosk_users WHERE username = ? AND id != ?", [user["username"], user["id"]])
        store.db.execute(
            "INSERT INTO kiosk_users (id, username, display_name, role, department, password_hash, verified_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
            " display_name = excluded.display_name, role = excluded.role, department = excluded.department,"
            " password_hash = excluded.password_hash, verified_at = excluded.verified_at",
            [user["id"], user["username"], user.get("display_name") or user["username"], user.get("role") or "warehouse",
             user.get("department"), generate_password_hash(password), iso_from_ms(store.now_ms())],
        )


def authenticate_kiosk(store: ReplicaStore, username: str, password: str, timeout: float) -> dict[str, Any] | None:
    """Another staff member on a kiosk: the cached hash, else the server (then cached).

    None for a wrong password or when this device is not a kiosk; ``TransportUnavailable`` when
    the user is not known here (or the password differs from the cached one) and the server
    cannot be reached."""
    username = username.strip()
    device = db.get_device(store)
    if not (device and device.get("warehouse")) or not username:
        return None
    if store.db.execute("SELECT 1 FROM local_users WHERE username = ?", [username]).fetchone():
        return None  # the enrolled user logs in with the local hash only
    rows = list(store.db.query("SELECT * FROM kiosk_users WHERE username = ?", [username]))
    if rows and check_password_hash(rows[0]["password_hash"], password):
        cached = rows[0]
        cached.pop("password_hash")
        cached.pop("verified_at")
        return cached
    verified = server_login(device["server_url"], username, password, timeout)
    if verified is None:
        return None
    remember_kiosk_user(store, verified, password)
    return user_by_id(store, verified["id"])


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: ReplicaStore, user_id: str) -> str:
    """Create an API token for a user; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    with store.write():
        store.db.execute(
            "INSERT INTO local_tokens (token_hash, user_id, created_at) VALUES (?, ?, ?)",
            [_token_hash(token), user_id, iso_from_ms(store.now_ms())],
        )
    return token


def user_for_token(store: ReplicaStore, token: str) -> dict[str, Any] | None:
    rows = list(store.db.query(
        f"SELECT {', '.join('u.' + c.strip() for c in _USER_COLUMNS.split(','))} FROM local_tokens t"
        " JOIN local_users u ON u.id = t.user_id WHERE t.token_hash = ?",
        [_token_hash(token)],
    ))
    return rows[0] if rows else None


# ---- request helpers -------------------------------------------------------------------------
def current_user() -> dict[str, Any]:
    """The API caller (bearer token, else the page session); raises ``Unauthorized``."""
    if "fb_user" in g:
        return g.fb_user
    store = get_store()
    token = bearer_token()
    user = None
    if token is not None:
        user = user_for_token(store, token)
    elif session.get("user_id"):
        user = user_by_id(store, session["user_id"])
    if user is None:
        raise Unauthorized(_("Log in first: POST /api/login, then send Authorization: Bearer <token>."))
    g.fb_user = user
    return user


def page_user() -> dict[str, Any] | None:
    """The user logged in to the pages (session), or None."""
    user_id = session.get("user_id")
    if not user_id:
        return None
    if "fb_page_user" not in g:
        g.fb_page_user = user_by_id(get_store(), user_id)
    return g.fb_page_user


def me() -> dict[str, Any]:
    """The page user, in a view only logged-in users reach (401 otherwise)."""
    user = page_user()
    if user is None:
        abort(401)
    return user


def login_session(user: dict[str, Any]) -> None:
    """Start a fresh page session for the user (keeping the chosen language)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["user_id"] = user["id"]
    session.permanent = True


def _check_csrf() -> None:
    """Unsafe requests authenticated by the session cookie must carry the form's CSRF token."""
    if request.method in SAFE_METHODS or bearer_token() is not None:
        return
    if request.path == "/api/login" or (request.path.startswith("/api/") and not session.get("user_id")):
        return  # no cookie authority to abuse
    if not csrf_ok():
        if request.path.startswith("/api/"):
            raise Forbidden(_("The form has expired; reload the page and try again."), code="csrf")
        abort(400, _("The form has expired; reload the page and try again."))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token


# ---- views -----------------------------------------------------------------------------------
class LoginSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    username = fields.String(required=True)
    password = fields.String(required=True)


@bp.post("/api/login")
def api_login() -> Any:
    try:
        data = LoginSchema().load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        raise Invalid(_("Username and password are required."), fields=exc.messages_dict) from exc
    store = get_store()
    user = authenticate(store, data["username"], data["password"])
    if user is None:
        raise Unauthorized(_("Wrong username or password."))
    return {"token": issue_token(store, user["id"]), "user": user}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = authenticate(get_store(), username, password)
        if user is None:
            try:
                user = authenticate_kiosk(get_store(), username, password, float(current_app.config["SYNC_TIMEOUT"]))
            except TransportUnavailable:
                error = _("The server cannot be reached: only users who logged in on this kiosk before can log in offline.")
        if user is not None:
            login_session(user)
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("kiosk.home") if is_kiosk(get_store()) else url_for("pages.customers")
            return redirect(target)
        error = error or _("Wrong username or password.")
    return render_template("login.html", error=error, username=username, kiosk=is_kiosk(get_store())), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))
