"""Contact plans (联系客户计划): customers due today, this week, overdue, or not contacted for N
days; a bulk change of next contact time; and ``GET/POST /api/contact-plans`` (JSON or .xlsx).

``contact_plan(store, kind, now, days, scope)`` is HTTP-free and takes ``now`` (aware); the
blueprint factory takes the same injections as ``shared.web.api`` (store, current user, scope).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Callable, Mapping

from flask import Blueprint, Response, request
from flask_babel import gettext as _
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from shared.schemas.fields import IsoDateTime
from sync import ReplicaStore

from .api import ScopeSql, User, _all_visible, json_body, load
from .errors import Forbidden, NotFound
from .export import XLSX_MIMETYPE, to_xlsx

KINDS = ("today", "week", "overdue", "idle")
PLAN_FIELDS = ("id", "name", "kind", "level", "phone", "mobile", "owner_id", "next_contact_at", "last_visit_at")


def _bounds(kind: str, now: datetime, days: int) -> tuple[datetime, datetime]:
    start_of_day = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    if kind == "today":
        return start_of_day, start_of_day + timedelta(days=1)
    if kind == "week":  # Monday to Sunday of now's week
        monday = start_of_day - timedelta(days=now.weekday())
        return monday, monday + timedelta(days=7)
    if kind == "overdue":
        return datetime.min.replace(tzinfo=now.tzinfo), now
    return datetime.min.replace(tzinfo=now.tzinfo), now - timedelta(days=days)


def _aware(value: Any, tz: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def contact_plan(store: ReplicaStore, kind: str, now: datetime, days: int = 30,
                 scope: tuple[str, list[Any]] = ("1", [])) -> list[dict[str, Any]]:
    """The customers of one plan, soonest (or longest idle) first.

    today / week: next contact within the day / Monday-to-Sunday week; overdue: next contact
    before ``now``; idle: no visit (not voided) in the last ``days`` days, nor created since.
    """
    if kind not in KINDS:
        raise ValueError(kind)
    where, params = scope
    lo, hi = _bounds(kind, now, days)
    rows = store.db.query(
        "SELECT c.*, (SELECT max(v.visited_at) FROM visits v WHERE v.customer_id = c.id"
        "  AND NOT EXISTS (SELECT 1 FROM visit_voids w WHERE w.visit_id = v.id)) AS last_visit_at"
        f" FROM customers c WHERE coalesce(c.deleted, 0) = 0 AND ({where})", list(params))
    found = []
    for row in rows:
        if kind == "idle":
            moments = [m for m in (_aware(row.get("last_visit_at"), now.tzinfo), _aware(row.get("created_at"), now.tzinfo)) if m]
            when = max(moments) if moments else None
            if when is not None and when >= hi:
                continue
            row["_sort"] = when or lo
        else:
            when = _aware(row.get("next_contact_at"), now.tzinfo)
            if when is None or not (lo <= when < hi):
                continue
            row["_sort"] = when
        found.append(row)
    found.sort(key=lambda r: (r["_sort"], r["id"]))
    return [{k: r.get(k) for k in PLAN_FIELDS} for r in found]


def reschedule(store: ReplicaStore, ids: list[str], next_contact_at: str, author: str,
               scope: tuple[str, list[Any]] = ("1", [])) -> int:
    """Set many customers' next contact time in one transaction; any unknown id: none change."""
    where, params = scope
    with store.write():
        unique = list(dict.fromkeys(ids))
        marks = ", ".join("?" for _ in unique)
        (seen,) = store.db.execute(
            f"SELECT count(*) FROM customers WHERE id IN ({marks}) AND coalesce(deleted, 0) = 0 AND ({where})",
            [*unique, *params]).fetchone()
        if seen != len(unique):
            raise NotFound("Some of these customers do not exist or are not yours.")
        for customer_id in unique:
            store.update("customer", customer_id, {"next_contact_at": next_contact_at}, author)
    return len(unique)


def plan_headers() -> list[str]:
    return [_("Name"), _("Type"), _("Level"), _("Phone"), _("Mobile"), _("Next contact"), _("Last visit")]


def plan_xlsx(items: list[dict[str, Any]], kind: str) -> bytes:
    kinds = {"company": _("Company"), "person": _("Person")}
    rows = ([i["name"], kinds.get(i["kind"], i["kind"]), i["level"], i["phone"], i["mobile"], i["next_contact_at"],
             i["last_visit_at"]] for i in items)
    return to_xlsx(_("Contact plan"), plan_headers(), rows)


class PlanArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(load_default="today", validate=validate.OneOf(KINDS))
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=3650))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "xlsx")))


class RescheduleArgs(Schema):
    class Meta:
        unknown = RAISE

    ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                      validate=validate.Length(min=1, max=500))
    next_contact_at = IsoDateTime(required=True)


def create_plans_blueprint(get_store: Callable[[], ReplicaStore], current_user: Callable[[], User],
                           now: Callable[[], datetime], scope_sql: ScopeSql | None = None,
                           permits: Callable[[User, str, str], bool] | None = None) -> Blueprint:
    """``GET /api/contact-plans?kind=&days=&format=json|xlsx`` and ``POST /api/contact-plans/reschedule``."""
    bp = Blueprint("plans_api", __name__, url_prefix="/api")

    def scope(user: Mapping[str, Any]) -> tuple[str, list[Any]]:
        return (scope_sql or _all_visible)(user, "customer")

    @bp.get("/contact-plans")
    def plans() -> Any:
        user = current_user()
        args = load(PlanArgs(), request.args.to_dict())
        items = contact_plan(get_store(), args["kind"], now(), args["days"], scope(user))
        if args["format"] == "xlsx":
            name = f"contact-plan-{args['kind']}.xlsx"
            return Response(plan_xlsx(items, args["kind"]), mimetype=XLSX_MIMETYPE,
                            headers={"Content-Disposition": f"attachment; filename={name}"})
        return {"items": items, "total": len(items)}

    @bp.post("/contact-plans/reschedule")
    def plans_reschedule() -> Any:
        user = current_user()
        if permits is not None and not permits(user, "customers", "edit"):
            raise Forbidden("You lack the permission customers.edit.", code="no_permission")
        args = load(RescheduleArgs(), json_body())
        changed = reschedule(get_store(), args["ids"], args["next_contact_at"], user["id"], scope(user))
        return {"updated": changed}

    return bp
