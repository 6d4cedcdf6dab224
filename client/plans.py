"""The client's contact plans page (lists, bulk next-contact change, Excel export) and its
online-only proxies to the server: public search (``GET /api/public-search``).

Plans work offline on the local replica (``shared.web.plans``). Public search needs the server:
it is forwarded with the device token, and answers 503 ``online_only`` when the server cannot be
reached or this device is not enrolled.
"""
from __future__ import annotations

from typing import Any

import requests
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shared.web.errors import ApiError, Invalid, Unauthorized, Unavailable
from shared.web.plans import KINDS, contact_plan, create_plans_blueprint, reschedule

from . import db
from .auth import current_user
from .pages import now, tz

bp = Blueprint("plans", __name__)
PUBLIC_SEARCH_PATH = "/api/public-search"


def public_search(store: Any, q: str, page: int = 1, timeout: float = 10.0) -> dict[str, Any]:
    """Ask the server's public search; ``Unavailable(online_only)`` when it cannot be reached."""
    device = db.get_device(store)
    if device is None:
        raise Unavailable("Public search needs the server; this device is not enrolled.", code="online_only")
    try:
        response = requests.get(f"{device['server_url']}{PUBLIC_SEARCH_PATH}", params={"q": q, "page": page},
                                headers={"Authorization": f"Device {device['device_token']}"}, timeout=timeout)
    except (requests.RequestException, OSError) as exc:
        raise Unavailable("Public search is online only and the server cannot be reached.", code="online_only") from exc
    if response.status_code >= 500:
        raise Unavailable("Public search is online only and the server cannot be reached.", code="online_only")
    if response.status_code == 401:
        raise Unauthorized("The server no longer accepts this device; enroll it again.")
    if response.status_code >= 400:
        raise ApiError("The server refused the search.", code="bad_request")
    return response.json()


@bp.get(PUBLIC_SEARCH_PATH)
def public_search_api() -> Any:
    current_user()
    q = request.args.get("q", "")
    if len(q) > 100:
        raise Invalid("Some fields are invalid.", fields={"q": ["Longer than maximum length 100."]})
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    return public_search(db.get_store(), q, page, float(current_app.config.get("SYNC_TIMEOUT", 10.0)))


@bp.get("/plans")
def plans_page() -> Any:
    kind = request.args.get("kind", "today")
    kind = kind if kind in KINDS else "today"
    try:
        days = min(3650, max(1, int(request.args.get("days", "30"))))
    except ValueError:
        days = 30
    items = contact_plan(db.get_store(), kind, now(), days)
    return render_template("plans.html", items=items, kind=kind, days=days, kinds=KINDS)


@bp.post("/plans/reschedule")
def plans_reschedule() -> Any:
    ids = request.form.getlist("ids")
    back = url_for("plans.plans_page", kind=request.form.get("kind", "today"), days=request.form.get("days", "30"))
    from datetime import datetime

    try:
        when = datetime.fromisoformat(request.form.get("next_contact_at", ""))
    except ValueError:
        when = None
    if not ids or when is None:
        flash(_("Choose customers and a new next contact time."), "error")
        return redirect(back)
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz())
    try:
        done = reschedule(db.get_store(), ids, when.isoformat(timespec="seconds"), current_user()["id"])
    except ApiError:
        flash(_("Some of these customers are no longer on this device."), "error")
        return redirect(back)
    flash(_("Next contact time changed for %(num)d customers.", num=done), "success")
    return redirect(back)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(create_plans_blueprint(db.get_store, current_user, now))
