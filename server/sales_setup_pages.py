"""The server's sales set-up pages (routes on the ``sales_pages`` blueprint): products with their
purchase costs, the category tree, numbering rules and stages, and monthly sales targets.

Purchase costs are the server-owned ``product_cost`` record (id = the product's id); only users
holding ``purchasing.view`` or ``finance.view``, or a boss or admin, see or change them
(``may_see_costs``, the same rule that decides which devices receive them).
"""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from marshmallow import ValidationError

from shared.schemas.sales import ProductCategorySchema, ProductCostSchema, ProductSchema
from shared.web.errors import ApiError, NotFound

from . import rules, sales, sales_web, users
from .auth import login_required, roles_required
from .db import get_store
from .pages import _page_number
from .auth import can, me, require
from .sales_pages import bp, paged, service

PRODUCT_TEXT = ("code", "name", "spec", "unit", "price", "barcode", "category_id")
TARGET_ROLES = ("sales_rep", "sales_manager")


# ---- purchase costs (no HTTP) ---------------------------------------------------------------------
may_see_costs = rules.sees_costs
product_cost = sales.product_cost
save_product_cost = sales.save_product_cost


def field_errors(exc: ValidationError | ApiError) -> dict[str, str]:
    """Messages per form field, and under ``_`` what a refused write means as a whole."""
    messages = exc.normalized_messages() if isinstance(exc, ValidationError) else exc.fields
    out = {k: "; ".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in (messages or {}).items()}
    if isinstance(exc, ApiError):
        known = {"duplicate_code": _("Another product has this code."), "not_found": _("No such category.")}
        out["_"] = known.get(exc.code, exc.message)
    return out


def error_status(exc: ValidationError | ApiError) -> int:
    return 422 if isinstance(exc, ValidationError) else exc.status


# ---- products ---------------------------------------------------------------------------------------
@bp.get("/products")
@login_required
def products() -> ResponseReturnValue:
    require("products", "view")
    svc = service()
    q = request.args.get("q", "").strip()[:100]
    category_id = request.args.get("category_id") or None
    found, pager = paged(lambda page, size: svc.list_products(q, category_id, page, size), _page_number(),
                         int(current_app.config["PAGE_SIZE"]))
    categories = svc.categories()
    show_costs = may_see_costs(me())
    costs = {p["id"]: product_cost(get_store(), p["id"]) for p in found["items"]} if show_costs else {}
    return render_template("sales/products.html", rows=found["items"], pager=pager, q=q, category_id=category_id,
                           categories=categories, paths={c["id"]: c["path"] for c in categories},
                           show_costs=show_costs, costs=costs, may_edit=can("products", "edit"))


def _product_form(product: dict[str, Any] | None, errors: dict[str, str] | None = None, values: Mapping[str, Any] | None = None,
                  status: int = 200) -> ResponseReturnValue:
    show_costs = may_see_costs(me())
    cost = product_cost(get_store(), product["id"]) if product and show_costs else None
    if values is None and product is not None:
        values = {**product, "price": f"{product['price']:.2f}" if product.get("price") is not None else ""}
    return render_template("sales/product_form.html", product=product, values=values or {},
                           errors=errors or {}, categories=service().categories(), show_costs=show_costs, cost=cost,
                           may_edit=can("products", "edit")), status


def _product_values() -> dict[str, Any]:
    raw = {k: (request.form.get(k) or "").strip() for k in PRODUCT_TEXT}
    return {k: (v or None) if k in ("spec", "unit", "barcode", "category_id") else v for k, v in raw.items()}


@bp.route("/products/new", methods=["GET", "POST"])
@login_required
def product_new() -> ResponseReturnValue:
    require("products", "edit")
    if request.method == "GET":
        return _product_form(None)
    raw = _product_values()
    cost = (request.form.get("cost") or "").strip()
    try:
        values = ProductSchema().load(raw)
        if cost and may_see_costs(me()):
            ProductCostSchema().load({"product_id": "check", "cost": cost})
        created = service().create_product(values)
        if cost and may_see_costs(me()):
            save_product_cost(get_store(), created["id"], cost, me()["id"])
    except (ValidationError, ApiError) as exc:
        return _product_form(None, field_errors(exc), {**raw, "cost": cost}, error_status(exc))
    flash(_("Product %(code)s saved.", code=created["code"]), "success")
    return redirect(url_for("sales_pages.products"), code=303)


@bp.route("/products/<product_id>", methods=["GET", "POST"])
@login_required
def product(product_id: str) -> ResponseReturnValue:
    require("products", "view")
    current = service().product(product_id)
    if request.method == "GET":
        return _product_form(current)
    require("products", "edit")
    raw = _product_values()
    try:
        service().update_product(product_id, ProductSchema().load(raw))
    except (ValidationError, ApiError) as exc:
        return _product_form(current, field_errors(exc), raw, error_status(exc))
    flash(_("Product %(code)s saved.", code=raw["code"]), "success")
    return redirect(url_for("sales_pages.products"), code=303)


@bp.post("/products/<product_id>/cost")
@login_required
def product_cost_page(product_id: str) -> ResponseReturnValue:
    if not may_see_costs(me()):
        abort(403)
    current = service().product(product_id)
    cost = (request.form.get("cost") or "").strip()
    try:
        save_product_cost(get_store(), product_id, cost, me()["id"])
    except ValidationError as exc:
        return _product_form(current, {"cost": "; ".join(exc.normalized_messages().get("cost", []))}, current, 422)
    flash(_("Purchase cost saved."), "success")
    return redirect(url_for("sales_pages.product", product_id=product_id), code=303)


@bp.route("/products/<product_id>/delete", methods=["GET", "POST"])
@login_required
def product_delete(product_id: str) -> ResponseReturnValue:
    require("products", "edit")
    current = service().product(product_id)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        service().delete_product(product_id)
        flash(_("Product %(code)s deleted.", code=current["code"]), "success")
        return redirect(url_for("sales_pages.products"), code=303)
    return render_template("sales/confirm.html", title=_("Delete product"),
                           message=_("Delete the product %(code)s %(name)s? Devices remove it at their next sync.",
                                     code=current["code"], name=current["name"]),
                           action=url_for("sales_pages.product_delete", product_id=product_id),
                           back=url_for("sales_pages.product", product_id=product_id))


# ---- categories -------------------------------------------------------------------------------------
@bp.route("/products/categories", methods=["GET", "POST"])
@login_required
def categories() -> ResponseReturnValue:
    require("products", "view")
    svc = service()
    if request.method == "POST":
        require("products", "edit")
        op = request.form.get("op")
        category_id = request.form.get("category_id") or None
        try:
            if op == "add":
                values = ProductCategorySchema().load({"name": (request.form.get("name") or "").strip(),
                                                       "parent_id": request.form.get("parent_id") or None})
                svc.save_category(values)
            elif op == "rename" and category_id:
                name = ProductCategorySchema(partial=True).load({"name": (request.form.get("name") or "").strip()})
                svc.save_category(name, category_id)
            elif op == "move" and category_id:
                svc.save_category({"parent_id": request.form.get("parent_id") or None}, category_id)
            else:
                abort(400)
        except ValidationError:
            flash(_("A category needs a name of at most 100 characters."), "error")
        except NotFound:
            flash(_("That category no longer exists."), "error")
        except ApiError as exc:
            flash(_("A category cannot move under itself or its sub-categories.") if exc.code == "cycle" else exc.message,
                  "error")
        else:
            flash(_("Saved."), "success")
        return redirect(url_for("sales_pages.categories"), code=303)
    return render_template("sales/categories.html", categories=svc.categories(), may_edit=can("products", "edit"))


@bp.route("/products/categories/<category_id>/delete", methods=["GET", "POST"])
@login_required
def category_delete(category_id: str) -> ResponseReturnValue:
    require("products", "edit")
    svc = service()
    current = next((c for c in svc.categories() if c["id"] == category_id), None)
    if current is None:
        abort(404)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        try:
            svc.delete_category(category_id)
        except ApiError as exc:
            flash(_("The category still holds products or sub-categories; move or delete them first.")
                  if exc.code == "category_in_use" else exc.message, "error")
        else:
            flash(_("Category %(name)s deleted.", name=current["name"]), "success")
        return redirect(url_for("sales_pages.categories"), code=303)
    return render_template("sales/confirm.html", title=_("Delete category"),
                           message=_("Delete the category %(path)s?", path=current["path"]),
                           action=url_for("sales_pages.category_delete", category_id=category_id),
                           back=url_for("sales_pages.categories"))


# ---- numbering rules and stages ---------------------------------------------------------------------
@bp.route("/settings/numbering", methods=["GET", "POST"])
@roles_required("admin", "boss")
def numbering() -> ResponseReturnValue:
    store = get_store()
    if request.method == "POST":
        try:
            sales.save_numbering_rule(store, request.form.get("doc_type", ""), (request.form.get("prefix") or "").strip(),
                                      request.form.get("date_format", ""), int(request.form.get("digits") or 0))
        except (sales.SalesError, ValueError):
            flash(_("Not saved: a prefix is 1–10 letters or digits, a sequence has 3–8 digits."), "error")
        else:
            flash(_("Numbering rule saved; new documents use it."), "success")
        return redirect(url_for("sales_pages.numbering"), code=303)
    today = sales_web.server_today(store)
    rules_ = [{**r, "example": r["prefix"] + (today.strftime(sales.DATE_FORMATS[r["date_format"]]) if r["date_format"] else "")
               + "1".zfill(int(r["digits"]))} for r in sales.numbering_rules(store)]
    return render_template("sales/numbering.html", rules=rules_, date_formats=list(sales.DATE_FORMATS),
                           stages=service().stages())


# ---- targets ----------------------------------------------------------------------------------------
def _month(raw: str | None, default: date) -> str:
    raw = (raw or "").strip()
    try:
        if len(raw) == 7 and 1 <= int(raw[5:]) <= 12 and raw[4] == "-":
            return f"{int(raw[:4]):04d}-{int(raw[5:]):02d}"
    except ValueError:
        pass
    return default.strftime("%Y-%m")


@bp.route("/targets", methods=["GET", "POST"])
@login_required
def targets() -> ResponseReturnValue:
    require("targets", "view")
    svc = service()
    month = _month(request.values.get("month"), svc.hooks.today())
    team = [u for u in users.find_users(get_store(), None, 1000)[0]
            if u["role"] in TARGET_ROLES and rules.owner_in_scope(me(), u["id"])]
    if request.method == "POST":
        require("targets", "edit")
        try:
            amount = ProductSchema(only=("price",)).load({"price": (request.form.get("amount") or "").strip()})["price"]
            svc.set_target(request.form.get("user_id", ""), month, amount)
        except ValidationError:
            flash(_("Not saved: the amount must be a number of at most two decimals, 0 or more."), "error")
        except ApiError as exc:
            flash(_("You may set targets only for your own team.") if exc.status == 403 else exc.message, "error")
        else:
            flash(_("Target saved."), "success")
        return redirect(url_for("sales_pages.targets", month=month), code=303)
    rows = svc.targets(month)
    return render_template("sales/targets.html", rows=rows, month=month, team=team, may_edit=can("targets", "edit"))
