"""The rep's sales pages on the device, working offline (issue 5).

Workbench, products, opportunities and the funnel, quotes, orders, receipts and receivables. Every
read and write goes through ``SalesService`` on the local replica with the device's hooks
(``client.sales_web``); the sync worker pushes the changes later and the server judges decisions.
Forms are parsed and validated here (the entity schemas), errors are shown next to the fields, and
bad input writes nothing: the service is called only with valid values, and it refuses whole.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError

from shared.schemas.sales import OpportunitySchema, QuoteSchema, ReceiptSchema, SalesOrderSchema
from shared.sales.receivables import BUCKETS
from shared.web.errors import ApiError, Conflict, NotFound
from shared.web.sales_service import SalesService

from . import crm, kiosk_pages, sales_web
from .auth import me
from .db import get_store
from .forms import translate_message

bp = Blueprint("sales_pages", __name__, template_folder="templates")

STATUS_LABELS = {
    "draft": _l("Draft"), "submitted": _l("Submitted"), "approved": _l("Approved"), "rejected": _l("Rejected"),
    "sent": _l("Sent"), "converted": _l("Converted"), "lost": _l("Lost"),
}
ORDER_STATUSES = ("draft", "submitted", "approved", "rejected")
QUOTE_STATUSES = ("draft", "sent", "converted", "lost")
METHOD_LABELS = {
    "cash": _l("Cash"), "bank_transfer": _l("Bank transfer"), "wechat_pay": _l("WeChat Pay"), "alipay": _l("Alipay"),
    "cheque": _l("Cheque"), "other": _l("Other"),
}
BUCKET_LABELS = {
    "not_yet_due": _l("Not yet due"), "0_30": _l("0–30 days"), "30_60": _l("30–60 days"), "60_90": _l("60–90 days"),
    "90_180": _l("90–180 days"), "180_plus": _l("Over 180 days"),
}
ENTITY_LABELS = {"sales_order": _l("Sales order"), "receipt": _l("Receipt"), "quote": _l("Quote")}
SALES_FIELD_LABELS = {
    "customer_id": _l("Customer"), "opportunity_id": _l("Opportunity"), "name": _l("Name"), "stage": _l("Stage"),
    "amount": _l("Amount"), "expected_date": _l("Expected date"), "probability": _l("Probability"),
    "remark": _l("Remark"), "valid_until": _l("Valid until"), "status": _l("Status"),
    "delivery_date": _l("Delivery date"), "due_date": _l("Payment due date"),
    "outbound_requested": _l("Request outbound delivery"), "payer": _l("Payer"), "method": _l("Payment method"),
    "received_at": _l("Date received"), "reason": _l("Reason"), "lines": _l("Lines"), "allocations": _l("Allocations"),
    "product_id": _l("Product"), "quantity": _l("Quantity"), "unit_price": _l("Unit price"), "discount": _l("Discount"),
    "tax_rate": _l("Tax rate"),
}
LINE_FIELDS = ("product_id", "quantity", "unit_price", "discount", "tax_rate")
ORDER_FORM_FIELDS = ("customer_id", "delivery_date", "due_date", "outbound_requested", "remark")
QUOTE_FORM_FIELDS = ("customer_id", "opportunity_id", "valid_until", "remark")
RECEIPT_FORM_FIELDS = ("customer_id", "payer", "method", "amount", "received_at", "remark")
OPPORTUNITY_FORM_FIELDS = ("customer_id", "name", "stage", "amount", "expected_date", "probability", "remark")
_LINE_KEY = re.compile(r"^lines-(\d{1,3})-(product_id|quantity|unit_price|discount|tax_rate)$")
_ALLOC_KEY = re.compile(r"^alloc-(.{1,64})$")


def code_messages() -> dict[str, str]:
    """The service's refusals by code, in the reader's language."""
    return {
        "frozen": _("This document is submitted or approved and cannot be changed."),
        "changed_since_seen": _("The document changed since you opened it; look at it again before deciding."),
        "already_decided": _("A decision on this document is waiting to sync."),
        "no_permission": _("You do not have the right to do this."),
        "not_submitted": _("Only a submitted document can be approved or rejected."),
        "order_not_approved": _("Only an approved order can be paid."),
        "over_allocated": _("The receipt allocates more than the order still owes."),
        "already_converted": _("This quote was already converted to an order."),
        "paid": _("This order is paid in full."),
        "invalid_transition": _("The document cannot be submitted in its current state."),
    }


def explain(exc: ApiError) -> str:
    return code_messages().get(exc.code, exc.message)


# ---- helpers -------------------------------------------------------------------------------------
def service() -> SalesService:
    store = get_store()
    return SalesService(store, me(), sales_web.hooks(store))


def can(module: str, action: str) -> bool:
    return sales_web.can(get_store(), me(), module, action)


def money(value: Any) -> str:
    """Money with two decimals and thousands separators ('' for None)."""
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def today() -> date:
    return sales_web.today()


def per_page() -> int:
    return int(current_app.config["PER_PAGE"])


def page_arg() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))


def pager(total: int, page: int, size: int) -> dict[str, Any]:
    pages = max(1, -(-total // size))
    return {"page": min(page, pages), "pages": pages, "total": total}


def q_arg() -> str:
    return (request.args.get("q") or "").strip()[:100]


def customer_options(selected: str | None = None) -> list[tuple[str, str]]:
    """Live customers on this device by name (the selected one always among them)."""
    rows, _total = crm.search_customers(get_store(), "", 1, 2000)
    options = sorted(((r["id"], r["name"]) for r in rows), key=lambda o: o[1])
    if selected and selected not in {o[0] for o in options}:
        try:
            options.insert(0, (selected, service().customer(selected)["name"]))
        except NotFound:
            pass
    return options


def customer_name(customer_id: str | None) -> str:
    if not customer_id:
        return ""
    try:
        return str(service().customer(customer_id)["name"])
    except NotFound:
        return ""


def stage_label(stage: Mapping[str, Any]) -> str:
    return str(stage["name_zh"] if str(get_locale() or "").startswith("zh") else stage["name_en"])


def products_for(product_ids: Any) -> dict[str, dict[str, Any]]:
    """Products by id for these lines (a deleted product is shown by its id)."""
    svc = service()
    out: dict[str, dict[str, Any]] = {}
    for product_id in {p for p in product_ids if p}:
        try:
            out[product_id] = svc.product(product_id)
        except NotFound:
            out[product_id] = {"id": product_id, "code": "?", "name": product_id, "unit": "", "price": None, "spec": ""}
    return out


def field_errors(messages: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[int, dict[str, list[str]]]]:
    """Marshmallow / service field messages → (field errors, line or allocation errors by index)."""
    errors: dict[str, list[str]] = {}
    nested: dict[int, dict[str, list[str]]] = {}
    for name, found in messages.items():
        if isinstance(found, Mapping) and name in ("lines", "allocations"):
            for index, sub in found.items():
                try:
                    i = int(index)
                except (TypeError, ValueError):
                    errors.setdefault(str(name), []).extend(translate_message(str(m)) for m in _flat(sub))
                    continue
                if isinstance(sub, Mapping):
                    for sub_name, sub_messages in sub.items():
                        nested.setdefault(i, {})[str(sub_name)] = [translate_message(str(m)) for m in _flat(sub_messages)]
                else:
                    nested.setdefault(i, {})["_"] = [translate_message(str(m)) for m in _flat(sub)]
        else:
            errors[str(name)] = [translate_message(str(m)) for m in _flat(found)]
    return errors, nested


def _flat(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [m for v in value.values() for m in _flat(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _flat(v)]
    return [value]


def form_data(form: Mapping[str, str], names: tuple[str, ...], schema: Schema) -> dict[str, Any]:
    """Schema input from a form: blanks → None (or '' when required), checkboxes → bool."""
    from marshmallow import fields as mfields

    data: dict[str, Any] = {}
    for name in names:
        field = schema.fields[name]
        if isinstance(field, mfields.Boolean):
            data[name] = form.get(name) in ("1", "on", "true", "yes")
            continue
        raw = (form.get(name) or "")
        raw = raw.rstrip() if name == "remark" else raw.strip()
        if raw == "":
            if field.required:
                data[name] = ""
            elif field.allow_none:
                data[name] = None
            continue
        data[name] = raw
    return data


def parse_lines(form: Mapping[str, str]) -> list[dict[str, str]]:
    """The line editor's rows in order (``lines-N-field``); wholly empty rows are left out."""
    rows: dict[int, dict[str, str]] = {}
    for key in form.keys():
        found = _LINE_KEY.match(key)
        if found:
            rows.setdefault(int(found.group(1)), {})[found.group(2)] = (form.get(key) or "").strip()
    out = []
    for index in sorted(rows):
        row = rows[index]
        if not any(row.get(name) for name in ("product_id", "quantity", "unit_price")):
            continue
        out.append({name: row.get(name, "") for name in LINE_FIELDS})
    return out


def line_input(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item: dict[str, Any] = {"product_id": row["product_id"], "quantity": row["quantity"], "unit_price": row["unit_price"]}
        for name in ("discount", "tax_rate"):
            if row.get(name):
                item[name] = row[name]
        out.append(item)
    return out


def load_document(schema: Schema, form: Mapping[str, str], names: tuple[str, ...],
                  lines: list[dict[str, str]] | None) -> tuple[dict[str, Any], dict[str, list[str]], dict[int, dict[str, list[str]]]]:
    """Validate a document form (with its lines); (values, field errors, line errors)."""
    data = form_data(form, names, schema)
    if lines is not None:
        data["lines"] = line_input(lines)
    try:
        values = schema.load(data)
    except ValidationError as exc:
        errors, nested = field_errors(exc.normalized_messages())
        for name, value in data.items():
            if value == "" and name in errors:
                errors[name] = [_("This field is required.")]
        return data, errors, nested
    errors = {}
    if lines is not None and not values.get("lines"):
        errors["lines"] = [_("Add at least one line.")]
    return values, errors, {}


def service_errors(exc: ApiError) -> tuple[dict[str, list[str]], dict[int, dict[str, list[str]]]]:
    errors, nested = field_errors(exc.fields or {})
    return errors, nested


def line_rows(lines: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored lines as editor rows (strings as the inputs show them)."""
    out = []
    for line in lines:
        out.append({"product_id": line.get("product_id") or "", "quantity": _num(line.get("quantity")),
                    "unit_price": _num(line.get("unit_price")), "discount": _num(line.get("discount")),
                    "tax_rate": _num(line.get("tax_rate"))})
    return out


def _num(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.3f}".rstrip("0").rstrip(".") if number != int(number) else str(int(number))


def company_name() -> str:
    """The company on printouts: ``COMPANY_NAME`` config, else the top of the user's department path."""
    configured = current_app.config.get("COMPANY_NAME")
    if configured:
        return str(configured)
    row = get_store().db.execute("SELECT department_path FROM directory_users WHERE id = ? OR user_id = ? LIMIT 1",
                                 [me()["id"], me()["id"]]).fetchone()
    top = str(row[0] or "").split("/")[0].strip() if row else ""
    return top or _("Fieldbook")


# ---- workbench -----------------------------------------------------------------------------------
@bp.get("/workbench")
def workbench() -> Any:
    svc = service()
    data = svc.workbench()
    approver = {"sales_order": can("orders", "approve"), "receipt": can("receipts", "approve")}
    return render_template("sales/workbench.html", wb=data, approver=approver, month=today().strftime("%Y-%m"))


# ---- products ------------------------------------------------------------------------------------
@bp.get("/products")
def products() -> Any:
    svc = service()
    q = q_arg()
    category_id = (request.args.get("category_id") or "").strip()[:64] or None
    page = page_arg()
    found = svc.list_products(q, category_id, page, per_page())
    return render_template("sales/products.html", items=found["items"], q=q, category_id=category_id,
                           categories=svc.categories(), p=pager(found["total"], page, per_page()))


@bp.get("/products/pick")
def products_pick() -> Any:
    """The line editor's product picker: products matching a code, name, spec or barcode (JSON)."""
    q = q_arg()
    found = service().list_products(q, None, 1, 15)
    stock = kiosk_pages.stock_hints(get_store(), (p["id"] for p in found["items"]))  # as of the last sync
    return jsonify({"items": [{**{k: p[k] for k in ("id", "code", "name", "spec", "unit", "price")},
                               "available": stock.get(p["id"], {}).get("available"), "stock_as_of": stock.get(p["id"], {}).get("as_of")}
                              for p in found["items"]],
                    "total": found["total"]})


# ---- opportunities and the funnel ----------------------------------------------------------------
@bp.get("/opportunities")
def opportunities() -> Any:
    svc = service()
    q = q_arg()
    customer_id = (request.args.get("customer_id") or "").strip()[:64] or None
    stage = (request.args.get("stage") or "").strip()[:40] or None
    page = page_arg()
    found = svc.list_opportunities(customer_id, stage, q, page, per_page())
    stages = svc.stages()
    names = {c: customer_name(c) for c in {i["customer_id"] for i in found["items"]}}
    return render_template("sales/opportunities.html", items=found["items"], q=q, customer_id=customer_id, stage=stage,
                           stages=stages, stage_names={s["code"]: stage_label(s) for s in stages}, names=names,
                           customer=customer_name(customer_id) if customer_id else None,
                           p=pager(found["total"], page, per_page()))


def _opportunity_form(row: dict[str, Any] | None) -> Any:
    svc = service()
    stages = svc.stages()
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form: Any = request.form
        values, errors, _nested = load_document(OpportunitySchema(), request.form, OPPORTUNITY_FORM_FIELDS, None)
        if not errors:
            try:
                if row is None:
                    saved = svc.create_opportunity(values)
                    flash(_("Opportunity created."), "success")
                else:
                    saved = svc.update_opportunity(row["id"], values)
                    flash(_("Opportunity saved."), "success")
                return redirect(url_for("sales_pages.opportunities", customer_id=saved["customer_id"]))
            except ApiError as exc:
                if exc.status in (403, 404) and not exc.fields:
                    raise
                errors, _nested = service_errors(exc)
                errors.setdefault("_", [explain(exc)])
                status = exc.status
        status = status if status != 200 else 422
    else:
        form = row or {"customer_id": request.args.get("customer_id", ""), "stage": stages[0]["code"] if stages else ""}
    return render_template("sales/opportunity_form.html", o=row, form=form, errors=errors,
                           customers=customer_options(form.get("customer_id")),
                           stages=[(s["code"], stage_label(s)) for s in stages]), status


@bp.route("/opportunities/new", methods=["GET", "POST"])
def opportunity_new() -> Any:
    return _opportunity_form(None)


@bp.route("/opportunities/<opportunity_id>/edit", methods=["GET", "POST"])
def opportunity_edit(opportunity_id: str) -> Any:
    return _opportunity_form(service().opportunity(opportunity_id))


@bp.get("/funnel")
def funnel() -> Any:
    items = service().funnel()
    most = max([i["amount"] for i in items] + [0.01])
    most_count = max([i["count"] for i in items] + [1])
    for item in items:
        item["label"] = stage_label(item)
        item["width"] = round(100 * item["amount"] / most, 1)
        item["count_width"] = round(100 * item["count"] / most_count, 1)
    return render_template("sales/funnel.html", items=items)


# ---- the line editor (quotes and orders) ---------------------------------------------------------
def editor_context(rows: list[dict[str, Any]], line_errors: dict[int, dict[str, list[str]]]) -> dict[str, Any]:
    products = products_for(r.get("product_id") for r in rows)
    return {"rows": rows, "line_errors": line_errors, "products": products,
            "stock": kiosk_pages.stock_hints(get_store(), products)}


# ---- quotes --------------------------------------------------------------------------------------
def _list_documents(entity: str, template: str, statuses: tuple[str, ...]) -> Any:
    svc = service()
    q = q_arg()
    status = request.args.get("status") or None
    status = status if status in statuses else None
    customer_id = (request.args.get("customer_id") or "").strip()[:64] or None
    page = page_arg()
    found = svc.list_documents(entity, customer_id, status, q, None, page, per_page())
    return render_template(template, items=found["items"], q=q, status=status, statuses=statuses,
                           customer_id=customer_id, customer=customer_name(customer_id) if customer_id else None,
                           p=pager(found["total"], page, per_page()))


@bp.get("/quotes")
def quotes() -> Any:
    return _list_documents("quote", "sales/quotes.html", QUOTE_STATUSES)


def _quote_form(row: dict[str, Any] | None) -> Any:
    svc = service()
    if row is not None and row.get("status") == "converted":
        flash(_("A converted quote is kept as it was; edit the order instead."), "error")
        return render_template("sales/quote.html", d=row, **_quote_view_context(row)), 409
    errors: dict[str, list[str]] = {}
    line_errors: dict[int, dict[str, list[str]]] = {}
    status = 200
    if request.method == "POST":
        form: Any = request.form
        rows = parse_lines(request.form)
        names = QUOTE_FORM_FIELDS + (("status",) if row is not None else ())
        values, errors, line_errors = load_document(QuoteSchema(), request.form, names, rows)
        if row is not None and values.get("status") == "converted":
            errors["status"] = [_("Choose one of the offered values.")]
        if not errors and not line_errors:
            try:
                if row is None:
                    saved = svc.create_quote(values)
                    flash(_("Quote saved."), "success")
                else:
                    saved = svc.update_quote(row["id"], values)
                    flash(_("Quote saved."), "success")
                return redirect(url_for("sales_pages.quote", quote_id=saved["id"]))
            except ApiError as exc:
                if exc.status in (403,) or (exc.status == 404 and not exc.fields):
                    raise
                errors, line_errors = service_errors(exc)
                errors.setdefault("_", [explain(exc)])
                status = exc.status
        status = status if status != 200 else 422
    else:
        form = row or {"customer_id": request.args.get("customer_id", ""),
                       "opportunity_id": request.args.get("opportunity_id", "")}
        rows = line_rows(row["lines"]) if row else []
    opportunities = []
    if form.get("customer_id"):
        try:
            opportunities = [(o["id"], o["name"]) for o in svc.list_opportunities(form.get("customer_id"), per_page=200)["items"]]
        except ApiError:
            opportunities = []
    return render_template("sales/quote_form.html", d=row, form=form, errors=errors,
                           customers=customer_options(form.get("customer_id")), opportunities=opportunities,
                           **editor_context(rows, line_errors)), status


@bp.route("/quotes/new", methods=["GET", "POST"])
def quote_new() -> Any:
    return _quote_form(None)


@bp.route("/quotes/<quote_id>/edit", methods=["GET", "POST"])
def quote_edit(quote_id: str) -> Any:
    return _quote_form(service().quote(quote_id))


def _quote_view_context(row: dict[str, Any]) -> dict[str, Any]:
    return {"products": products_for(l["product_id"] for l in row["lines"]), "customer": customer_name(row["customer_id"])}


@bp.get("/quotes/<quote_id>")
def quote(quote_id: str) -> Any:
    row = service().quote(quote_id)
    return render_template("sales/quote.html", d=row, **_quote_view_context(row))


@bp.get("/quotes/<quote_id>/print")
def quote_print(quote_id: str) -> Any:
    row = service().quote(quote_id)
    return render_template("sales/print.html", d=row, kind="quote", company=company_name(), **_quote_view_context(row))


@bp.post("/quotes/<quote_id>/convert")
def quote_convert(quote_id: str) -> Any:
    svc = service()
    row = svc.quote(quote_id)
    try:
        order = svc.convert_quote(quote_id)
    except Conflict as exc:
        flash(explain(exc), "error")
        return render_template("sales/quote.html", d=row, **_quote_view_context(row)), exc.status
    flash(_("The quote was copied into a draft order. Check it and submit it."), "success")
    return redirect(url_for("sales_pages.order", order_id=order["id"]))


@bp.route("/quotes/<quote_id>/delete", methods=["GET", "POST"])
def quote_delete(quote_id: str) -> Any:
    svc = service()
    row = svc.quote(quote_id)
    back = url_for("sales_pages.quote", quote_id=quote_id)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("confirm_delete.html", what=_("quote"), name=row["number"], cancel_url=back), (
            200 if request.method == "GET" else 400)
    svc.delete_quote(quote_id)
    flash(_("Quote “%(name)s” deleted.", name=row["number"]), "success")
    return redirect(url_for("sales_pages.quotes"))


# ---- orders --------------------------------------------------------------------------------------
@bp.get("/orders")
def orders() -> Any:
    return _list_documents("sales_order", "sales/orders.html", ORDER_STATUSES)


def editable(row: Mapping[str, Any]) -> bool:
    return row.get("status") in ("draft", "rejected") and not row.get("pending_decision")


def _order_form(row: dict[str, Any] | None) -> Any:
    svc = service()
    if row is not None and not editable(row):
        message = code_messages()["already_decided" if row.get("pending_decision") else "frozen"]
        flash(message, "error")
        return render_template("sales/order.html", **_order_view_context(row)), 409
    errors: dict[str, list[str]] = {}
    line_errors: dict[int, dict[str, list[str]]] = {}
    status = 200
    if request.method == "POST":
        form: Any = request.form
        rows = parse_lines(request.form)
        values, errors, line_errors = load_document(SalesOrderSchema(), request.form, ORDER_FORM_FIELDS, rows)
        if not errors and not line_errors:
            try:
                saved = svc.create_order(values) if row is None else svc.update_order(row["id"], values)
                if request.form.get("then") == "submit":
                    try:
                        svc.submit("sales_order", saved["id"])
                        flash(_("Order saved and submitted for approval. It goes to the server with the next sync."), "success")
                    except ApiError as exc:
                        flash(_("Order saved, but not submitted: %(reason)s", reason=explain(exc)), "error")
                else:
                    flash(_("Order saved as a draft."), "success")
                return redirect(url_for("sales_pages.order", order_id=saved["id"]))
            except ApiError as exc:
                if exc.status == 403 or (exc.status == 404 and not exc.fields):
                    raise
                errors, line_errors = service_errors(exc)
                errors.setdefault("_", [explain(exc)])
                status = exc.status
        status = status if status != 200 else 422
    else:
        form = row or {"customer_id": request.args.get("customer_id", "")}
        rows = line_rows(row["lines"]) if row else []
    return render_template("sales/order_form.html", d=row, form=form, errors=errors,
                           customers=customer_options(form.get("customer_id")), **editor_context(rows, line_errors)), status


@bp.route("/orders/new", methods=["GET", "POST"])
def order_new() -> Any:
    return _order_form(None)


@bp.route("/orders/<order_id>/edit", methods=["GET", "POST"])
def order_edit(order_id: str) -> Any:
    return _order_form(service().order(order_id))


def _order_view_context(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    svc = service()
    outstanding = None
    if row.get("status") == "approved" and can("receipts", "view"):
        ledger = svc.receivables(row["customer_id"])
        outstanding = next((i["outstanding"] for i in ledger["items"] if i["order_id"] == row["id"]), None)
    return {"d": row, "products": products_for(l["product_id"] for l in row["lines"]),
            "customer": customer_name(row["customer_id"]), "outstanding": outstanding,
            "approver": can("orders", "approve"), "may_receive": can("receipts", "edit"),
            "approvals": svc.approvals_of(row["id"]), "decision_errors": {}, **extra}


@bp.get("/orders/<order_id>")
def order(order_id: str) -> Any:
    return render_template("sales/order.html", **_order_view_context(service().order(order_id)))


@bp.get("/orders/<order_id>/print")
def order_print(order_id: str) -> Any:
    row = service().order(order_id)
    return render_template("sales/print.html", d=row, kind="order", company=company_name(),
                           products=products_for(l["product_id"] for l in row["lines"]), customer=customer_name(row["customer_id"]))


def _document_action(entity: str, record_id: str, action: str) -> Any:
    """Submit, approve or reject an order or receipt from its page (or the workbench)."""
    svc = service()
    row = svc.document(entity, record_id)
    view = "sales_pages.order" if entity == "sales_order" else "sales_pages.receipt"
    key = "order_id" if entity == "sales_order" else "receipt_id"
    try:
        if action == "submit":
            svc.submit(entity, record_id)
            flash(_("Submitted for approval. It goes to the server with the next sync."), "success")
        else:
            version = (request.form.get("version") or "").strip()[:64] or None
            if version is None:
                raise Conflict(code_messages()["changed_since_seen"], code="changed_since_seen")
            reason = (request.form.get("reason") or "").strip()[:1000]
            svc.decide(entity, record_id, action, version, reason)
            flash(_("Approved. The decision goes to the server with the next sync.") if action == "approve"
                  else _("Rejected. The decision goes to the server with the next sync."), "success")
    except ApiError as exc:
        if exc.status == 403 and exc.code == "no_permission":
            flash(code_messages()["no_permission"], "error")
        elif exc.status == 404:
            raise
        else:
            flash(explain(exc), "error")
        errors, _nested = service_errors(exc)
        if request.form.get("back") == "workbench":
            return redirect(url_for("sales_pages.workbench"))
        current = svc.document(entity, record_id)
        if entity == "sales_order":
            return render_template("sales/order.html", **_order_view_context(current, decision_errors=errors)), exc.status
        return render_template("sales/receipt.html", **_receipt_view_context(current, decision_errors=errors)), exc.status
    if request.form.get("back") == "workbench":
        return redirect(url_for("sales_pages.workbench"))
    return redirect(url_for(view, **{key: row["id"]}))


@bp.post("/orders/<order_id>/<any(submit, approve, reject):action>")
def order_action(order_id: str, action: str) -> Any:
    return _document_action("sales_order", order_id, action)


@bp.route("/orders/<order_id>/delete", methods=["GET", "POST"])
def order_delete(order_id: str) -> Any:
    return _delete_document("sales_order", order_id)


def _delete_document(entity: str, record_id: str) -> Any:
    svc = service()
    row = svc.document(entity, record_id)
    view, key, listing = (("sales_pages.order", "order_id", "sales_pages.orders") if entity == "sales_order"
                          else ("sales_pages.receipt", "receipt_id", "sales_pages.receipts"))
    back = url_for(view, **{key: record_id})
    what = _("order") if entity == "sales_order" else _("receipt")
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("confirm_delete.html", what=what, name=row["number"], cancel_url=back), (
            200 if request.method == "GET" else 400)
    try:
        svc.delete_document(entity, record_id)
    except Conflict as exc:
        flash(explain(exc), "error")
        return redirect(back)
    flash(_("“%(name)s” deleted.", name=row["number"]), "success")
    return redirect(url_for(listing))


@bp.route("/orders/<order_id>/receive", methods=["GET", "POST"])
def order_receive(order_id: str) -> Any:
    """Quick receive: a receipt for what an approved order still owes (or part of it)."""
    svc = service()
    row = svc.order(order_id)
    context = _order_view_context(row)
    errors: dict[str, list[str]] = {}
    form: Any = {"amount": _num(context["outstanding"]), "method": "bank_transfer", "received_at": today().isoformat(),
                 "submit": "1"}
    status = 200
    if request.method == "POST":
        form = request.form
        data = form_data(request.form, ("payer", "method", "amount", "received_at", "remark"), ReceiptSchema())
        data.update({"customer_id": row["customer_id"], "allocations": []})
        try:
            values = ReceiptSchema().load(data)
        except ValidationError as exc:
            errors, _nested = field_errors(exc.normalized_messages())
            status = 422
        else:
            try:
                receipt = svc.receive(order_id, {**values, "submit": request.form.get("submit") in ("1", "on")})
            except ApiError as exc:
                if exc.status in (403, 404) and not exc.fields:
                    raise
                errors, nested = service_errors(exc)
                for sub in nested.values():
                    for messages in sub.values():
                        errors.setdefault("amount", []).extend(messages)
                errors.setdefault("_", [explain(exc)])
                status = exc.status
            else:
                flash(_("Payment recorded."), "success")
                return redirect(url_for("sales_pages.receipt", receipt_id=receipt["id"]))
    return render_template("sales/receive.html", form=form, errors=errors, methods=METHOD_LABELS, **context), status


# ---- receipts ------------------------------------------------------------------------------------
@bp.get("/receipts")
def receipts() -> Any:
    return _list_documents("receipt", "sales/receipts.html", ORDER_STATUSES)


def open_orders(customer_id: str | None) -> list[dict[str, Any]]:
    """The customer's approved orders with what they still owe."""
    if not customer_id:
        return []
    try:
        ledger = service().receivables(customer_id)
    except NotFound:
        return []
    return ledger["items"]


def parse_allocations(form: Mapping[str, str]) -> list[dict[str, str]]:
    out = []
    for key in form.keys():
        found = _ALLOC_KEY.match(key)
        value = (form.get(key) or "").strip()
        if found and value and value not in ("0", "0.0", "0.00"):
            out.append({"order_id": found.group(1), "amount": value})
    return out


def _receipt_form(row: dict[str, Any] | None) -> Any:
    svc = service()
    if row is not None and not editable(row):
        flash(code_messages()["already_decided" if row.get("pending_decision") else "frozen"], "error")
        return render_template("sales/receipt.html", **_receipt_view_context(row)), 409
    errors: dict[str, list[str]] = {}
    alloc_errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form: Any = request.form
        allocations = parse_allocations(request.form)
        data = form_data(request.form, RECEIPT_FORM_FIELDS, ReceiptSchema())
        data["allocations"] = allocations
        try:
            values = ReceiptSchema().load(data)
        except ValidationError as exc:
            errors, nested = field_errors(exc.normalized_messages())
            for name, value in data.items():
                if value == "" and name in errors:
                    errors[name] = [_("This field is required.")]
            for index, sub in nested.items():
                if index < len(allocations):
                    alloc_errors[allocations[index]["order_id"]] = [m for ms in sub.values() for m in ms]
            status = 422
        else:
            try:
                saved = svc.create_receipt(values) if row is None else svc.update_receipt(row["id"], values)
            except ApiError as exc:
                if exc.status == 403 or (exc.status == 404 and not exc.fields):
                    raise
                errors, nested = service_errors(exc)
                for index, sub in nested.items():
                    if index < len(allocations):
                        alloc_errors[allocations[index]["order_id"]] = [m for ms in sub.values() for m in ms]
                errors.setdefault("_", [explain(exc)])
                status = exc.status
            else:
                if request.form.get("then") == "submit":
                    try:
                        svc.submit("receipt", saved["id"])
                        flash(_("Receipt saved and submitted for approval. It goes to the server with the next sync."), "success")
                    except ApiError as exc:
                        flash(_("Receipt saved, but not submitted: %(reason)s", reason=explain(exc)), "error")
                else:
                    flash(_("Receipt saved as a draft."), "success")
                return redirect(url_for("sales_pages.receipt", receipt_id=saved["id"]))
        allocated = {a["order_id"]: a["amount"] for a in allocations}
    else:
        form = row or {"customer_id": request.args.get("customer_id", ""), "method": "bank_transfer",
                       "received_at": today().isoformat()}
        allocated = {a["order_id"]: _num(a["amount"]) for a in (row or {}).get("allocations", [])}
        if row is None and request.args.get("order_id"):
            allocated[request.args["order_id"]] = ""
    return render_template("sales/receipt_form.html", d=row, form=form, errors=errors, alloc_errors=alloc_errors,
                           customers=customer_options(form.get("customer_id")), methods=METHOD_LABELS,
                           orders=_allocation_rows(form.get("customer_id"), allocated, row)), status


def _allocation_rows(customer_id: str | None, allocated: Mapping[str, str],
                     row: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Allocation rows: the customer's orders still owing, plus any order this receipt already pays."""
    items = [i for i in open_orders(customer_id) if i["outstanding"] > 0 or i["order_id"] in allocated]
    return [{**i, "allocated": allocated.get(i["order_id"], "")} for i in items]


@bp.route("/receipts/new", methods=["GET", "POST"])
def receipt_new() -> Any:
    return _receipt_form(None)


@bp.route("/receipts/<receipt_id>/edit", methods=["GET", "POST"])
def receipt_edit(receipt_id: str) -> Any:
    return _receipt_form(service().receipt(receipt_id))


@bp.get("/receipts/allocations")
def receipt_allocations() -> Any:
    """The allocation rows for a customer (htmx swaps them in when the customer changes)."""
    customer_id = (request.args.get("customer_id") or "").strip()[:64]
    return render_template("sales/_allocations.html", orders=_allocation_rows(customer_id, {}), alloc_errors={})


def _receipt_view_context(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    svc = service()
    numbers = {}
    for allocation in row["allocations"]:
        try:
            numbers[allocation["order_id"]] = svc.order(allocation["order_id"])["number"]
        except ApiError:
            numbers[allocation["order_id"]] = allocation["order_id"]
    return {"d": row, "customer": customer_name(row["customer_id"]), "order_numbers": numbers,
            "approver": can("receipts", "approve"), "approvals": svc.approvals_of(row["id"]), "methods": METHOD_LABELS,
            "decision_errors": {}, **extra}


@bp.get("/receipts/<receipt_id>")
def receipt(receipt_id: str) -> Any:
    return render_template("sales/receipt.html", **_receipt_view_context(service().receipt(receipt_id)))


@bp.post("/receipts/<receipt_id>/<any(submit, approve, reject):action>")
def receipt_action(receipt_id: str, action: str) -> Any:
    return _document_action("receipt", receipt_id, action)


@bp.route("/receipts/<receipt_id>/delete", methods=["GET", "POST"])
def receipt_delete(receipt_id: str) -> Any:
    return _delete_document("receipt", receipt_id)


# ---- receivables ---------------------------------------------------------------------------------
@bp.get("/receivables")
def receivables() -> Any:
    svc = service()
    customer_id = (request.args.get("customer_id") or "").strip()[:64] or None
    bucket = request.args.get("bucket")
    bucket = bucket if bucket in BUCKETS else None
    open_only = request.args.get("all") != "1"
    ledger = svc.receivables(customer_id, open_only)
    items = [i for i in ledger["items"] if bucket is None or i["bucket"] == bucket]
    page = page_arg()
    p = pager(len(items), page, per_page())
    start = (p["page"] - 1) * per_page()
    return render_template("sales/receivables.html", items=items[start:start + per_page()], summary=ledger["summary"],
                           customer_id=customer_id, customer=customer_name(customer_id) if customer_id else None,
                           customers=customer_options(customer_id), bucket=bucket, open_only=open_only, p=p)


# ---- wiring --------------------------------------------------------------------------------------
def _context() -> dict[str, Any]:
    return {"STATUS_LABELS": STATUS_LABELS, "METHOD_LABELS_S": METHOD_LABELS, "BUCKET_LABELS": BUCKET_LABELS,
            "BUCKETS": BUCKETS, "SALES_FIELD_LABELS": SALES_FIELD_LABELS, "DOC_LABELS": ENTITY_LABELS}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(_context)
    app.jinja_env.filters["money"] = money
