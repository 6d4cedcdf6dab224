"""The customer page's owner form: transfer a customer to a user from the replicated org directory,
or release it to the pool. Works offline: the owner change is an ordinary edit the server arbitrates
when it syncs (a refusal shows under sync issues)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from shared.web.api import CrmService
from shared.web.errors import ApiError, NotFound

from .auth import current_user
from .db import get_store

bp = Blueprint("transfer_pages", __name__)


def directory_users() -> list[dict[str, Any]]:
    """Active users of the org directory held on this device, by display name."""
    return [dict(r) for r in get_store().db.query(
        "SELECT user_id, username, display_name, department_path FROM directory_users"
        " WHERE coalesce(deleted, 0) = 0 AND active = 1 ORDER BY display_name, username")]


@bp.post("/customers/<customer_id>/owner")
def customer_owner(customer_id: str) -> Any:
    """Transfer to ``owner_id`` (empty: release to the pool)."""
    owner_id = (request.form.get("owner_id") or "").strip()
    service = CrmService(get_store(), current_user())
    try:
        if owner_id:
            if owner_id not in {u["user_id"] for u in directory_users()}:
                abort(400)
            service.transfer(customer_id, owner_id)
        else:
            service.release(customer_id)
    except NotFound:
        abort(404)
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("pages.customer", customer_id=customer_id))
    flash(_("Saved."), "success")
    if owner_id == current_user().get("id"):
        return redirect(url_for("pages.customer", customer_id=customer_id))
    return redirect(url_for("pages.customers"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["directory_users"] = directory_users
