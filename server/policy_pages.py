"""The customer policy page (levels, duplicate-check fields, owner cap, idle days), the
notifications page and ``GET /api/notifications``, and public search (``GET /api/public-search``).

Views read the request and call ``server.policy`` / ``server.notifications``; public search
answers with list fields only (never contacts, phone numbers or remarks) for every customer.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from shared import policy as shared_policy
from shared.schemas.policy import DUPLICATE_FIELDS, CustomerLevelSchema
from shared.web.search import clean, customer_match, no_control_characters
from shared.web.errors import Invalid, Unauthorized

from . import notifications, org, policy, users
from .auth import current_user, login_required, page_user, roles_required
from .db import get_store

bp = Blueprint("policy", __name__)
MANAGE_ROLES = ("admin", "boss", "admin_staff")
PUBLIC_FIELDS = ("id", "name", "kind", "province", "city", "owner_name", "updated_at")


def server_now() -> datetime:
    """The server clock's now in the configured time zone (contact plans' "today")."""
    zone = ZoneInfo(str(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai"))
    return datetime.fromtimestamp(get_store().now_ms() / 1000, tz=zone)


def _int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


@bp.route("/policy", methods=["GET", "POST"])
@roles_required(*MANAGE_ROLES)
def policy_page() -> ResponseReturnValue:
    store = get_store()
    me = page_user()
    assert me is not None
    if request.method == "POST":
        form = request.form
        try:
            if form.get("action") == "settings":
                policy.save_settings(store, form.getlist("duplicate_fields"), _int_or_none(form.get("owner_cap")),
                                     _int_or_none(form.get("idle_days")), me["id"])
            elif form.get("action") == "delete_level":
                policy.delete_level(store, form["level_id"], me["id"])
            else:
                raw = {k: form.get(k, "").strip() for k in ("code", "name_zh", "name_en")}
                for k in ("reminder_days", "idle_days", "ordering"):
                    raw[k] = _int_or_none(form.get(k))  # type: ignore[assignment]
                raw["ordering"] = raw["ordering"] or 0  # type: ignore[assignment]
                values = CustomerLevelSchema().load(raw)
                policy.save_level(store, values, me["id"], form.get("level_id") or None)
            flash(_("Saved."), "success")
        except (ValueError, ValidationError):
            flash(_("Not saved: check the values (a level code must be unique, numbers must be 0 or more)."), "error")
        return redirect(url_for("policy.policy_page"))
    return render_template("policy.html", levels=shared_policy.levels(store), settings=shared_policy.settings(store),
                           all_fields=DUPLICATE_FIELDS)


@bp.get("/notifications")
@login_required
def notifications_page() -> ResponseReturnValue:
    me = page_user()
    assert me is not None
    rows, total = notifications.for_user(get_store(), me["id"], limit=100)
    notifications.mark_read(get_store(), me["id"])
    return render_template("notifications.html", rows=rows, total=total)


class PageArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=[validate.Length(max=100), no_control_characters])
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))  # OFFSET stays in range
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def _args() -> dict[str, Any]:
    try:
        return PageArgs().load(request.args.to_dict())
    except ValidationError as exc:
        raise Invalid("Some fields are invalid.", fields=exc.normalized_messages()) from exc


def api_or_device_user() -> dict[str, Any]:
    """The caller by ``Authorization: Bearer`` (API token) or ``Device`` (an enrolled client)."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "device" and token.strip():
        found = users.verify_device_token(get_store(), token.strip())
        if found is None:
            raise Unauthorized("This device is not enrolled or was revoked; enroll it again.")
        if "api_user" not in g:
            g.api_user = org.enrich(get_store(), found[1])
        return g.api_user
    return current_user()


@bp.get("/api/notifications")
def notifications_api() -> ResponseReturnValue:
    user = api_or_device_user()
    args = _args()
    rows, total = notifications.for_user(get_store(), user["id"], args["per_page"], (args["page"] - 1) * args["per_page"])
    keys = ("id", "at", "kind", "customer_id", "customer_name", "detail", "read")
    return {"items": [{k: r.get(k) for k in keys} for r in rows], "total": total}


def public_search(store: Any, q: str, page: int, per_page: int) -> dict[str, Any]:
    """Every live customer matching ``q`` (name, phone or mobile), list fields only."""
    q = clean(q)
    where, params = "coalesce(c.deleted, 0) = 0", []
    if q:
        condition, params = customer_match(q)
        where += f" AND {condition}"
    (total,) = store.db.execute(f"SELECT count(*) FROM customers c WHERE {where}", params).fetchone()
    rows = store.db.query(
        f"SELECT c.id, c.name, c.kind, c.province, c.city, u.display_name AS owner_name, c.updated_at"
        f" FROM customers c LEFT JOIN users u ON u.id = c.owner_id WHERE {where}"
        " ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page])
    return {"items": [{k: r.get(k) for k in PUBLIC_FIELDS} for r in rows], "total": int(total)}


@bp.get("/api/public-search")
def public_search_api() -> ResponseReturnValue:
    api_or_device_user()
    args = _args()
    return public_search(get_store(), args["q"], args["page"], args["per_page"])


@bp.get("/public-search")
@login_required
def public_search_page() -> ResponseReturnValue:
    args = _args()
    found = public_search(get_store(), args["q"], args["page"], 50) if args["q"].strip() else {"items": [], "total": 0}
    return render_template("public_search.html", q=args["q"], found=found)
