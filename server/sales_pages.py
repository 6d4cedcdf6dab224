"""The server's sales pages: the workbench, orders, quotes and receipts (with approve / reject and
print views), receivables with aging, and the funnel. Products, categories, purchase costs,
numbering rules, stages and targets are in ``server.sales_setup_pages`` (same blueprint).

Views are thin: they read the request, call ``SalesService`` (as the logged-in page user, with
the server's hooks) and render. A decision posts the version the approver saw; a stale version is
refused by the service and shown as an error on the document page (409), never applied.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shared.sales.money import fen, yuan
from shared.sales.receivables import BUCKETS
from shared.sales import workflow
from shared.web.errors import ApiError, NotFound
from shared.web.export import XLSX_MIMETYPE, to_xlsx
from shared.web.sales_service import SalesService

from . import org, sales, sales_web, users
from .auth import can, login_required, me, require
from .db import get_store
from .pages import _page_number, _pager

bp = Blueprint("sales_pages", __name__)

STATUS_LABELS = {
    "draft": _l("Draft"), "submitted": _l("Submitted"), "approved": _l("Approved"), "rejected": _l("Rejected"),
    "sent": _l("Sent"), "converted": _l("Converted"), "lost": _l("Lost"),
}
ENTITY_LABELS = {"sales_order": _l("Sales order"), "receipt": _l("Receipt"), "quote": _l("Quotation")}
BUCKET_LABELS = {
    "not_yet_due": _l("Not yet due"), "0_30": _l("0–30 days"), "30_60": _l("30–60 days"), "60_90": _l("60–90 days"),
    "90_180": _l("90–180 days"), "180_plus": _l("Over 180 days"),
}
METHOD_LABELS = {
    "cash": _l("Cash"), "bank_transfer": _l("Bank transfer"), "wechat_pay": _l("WeChat Pay"), "alipay": _l("Alipay"),
    "cheque": _l("Cheque"), "other": _l("Other"),
}
DOC_STATUSES = ("draft", "submitted", "approved", "rejected")
QUOTE_STATUSES = ("draft", "sent", "converted", "lost")
#: entity → (list endpoint, page endpoint, template of its page)
DOCS = {
    "sales_order": ("sales_pages.orders", "sales_pages.order", "sales/order.html"),
    "receipt": ("sales_pages.receipts", "sales_pages.receipt", "sales/receipt.html"),
    "quote": ("sales_pages.quotes", "sales_pages.quote", "sales/quote.html"),
}


def decision_message(code: str) -> str:
    """A refused decision's reason, for the approver."""
    known = {
        "changed_since_seen": _("This document changed since you opened it (edited or resubmitted). "
                                "Nothing was decided: look at it again, then approve or reject."),
        "not_submitted": _("Only a submitted document can be approved or rejected; it was decided or withdrawn meanwhile."),
        "already_decided": _("A decision on this document is already waiting."),
        "no_permission": _("You may not approve this kind of document."),
        "order_not_approved": _("The receipt pays an order that is not approved."),
        "over_allocated": _("The receipt allocates more than the order still owes."),
        "not_found": _("No such document."),
    }
    return known.get(code, _("The decision was refused (%(code)s).", code=code))


@bp.app_template_filter("money")
def money(value: Any) -> str:
    """An amount with two decimals and thousands separators (``–`` when missing)."""
    if value is None or value == "":
        return "–"
    return f"{yuan(fen(value)):,.2f}"


@bp.app_template_filter("qty")
def qty(value: Any) -> str:
    """A quantity or rate without a trailing ``.0`` (3, 2.5, 0.125)."""
    if value is None or value == "":
        return "0"
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")


def local_date(iso: str | None) -> str | None:
    """The calendar day of an ISO time in the server's time zone."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(str(iso)).astimezone(sales.TIMEZONE).date().isoformat()
    except ValueError:
        return str(iso)[:10]


@bp.app_context_processor
def _sales_labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "entity_labels": ENTITY_LABELS, "bucket_labels": BUCKET_LABELS,
            "method_labels": METHOD_LABELS}


def service() -> SalesService:
    """The sales service as the logged-in page user (rights and scope from the server's rules)."""
    store = get_store()
    return SalesService(store, me(), sales_web.hooks(store))


def company_name() -> str:
    """The company shown on printouts: ``COMPANY_NAME`` config, else the root department's name."""
    return str(current_app.config.get("COMPANY_NAME") or org.root(get_store())["name"])


def paged(fetch: Any, page: int, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``fetch(page, size)`` and its pager; past the last page shows the last one."""
    found = fetch(page, size)
    pager = _pager(found["total"], page, size)
    if pager["page"] != page:
        found = fetch(pager["page"], size)
    return found, pager


def by_customer(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Receivable items summed per customer (in fen, shown in yuan), largest outstanding first."""
    groups: dict[str, dict[str, Any]] = {}
    for item in items:
        row = groups.setdefault(item["customer_id"], {
            "customer_id": item["customer_id"], "customer_name": item.get("customer_name"), "orders": 0,
            "total": 0, "received": 0, "outstanding": 0, "buckets": {b: 0 for b in BUCKETS}})
        row["orders"] += 1
        for name in ("total", "received", "outstanding"):
            row[name] += fen(item[name])
        row["buckets"][item["bucket"]] += fen(item["outstanding"])
    out = []
    for row in sorted(groups.values(), key=lambda r: (-r["outstanding"], r["customer_name"] or "")):
        out.append({**row, **{n: yuan(row[n]) for n in ("total", "received", "outstanding")},
                    "buckets": {b: yuan(v) for b, v in row["buckets"].items()}})
    return out


def bars(values: Mapping[str, float]) -> dict[str, float]:
    """Each value as a percentage of the largest (for CSS bars)."""
    top = max([abs(v) for v in values.values()] + [0])
    return {k: (round(abs(v) * 100 / top, 1) if top else 0.0) for k, v in values.items()}


# ---- workbench ------------------------------------------------------------------------------------
@bp.get("/workbench")
@login_required
def workbench() -> ResponseReturnValue:
    data = service().workbench()
    target = data.get("target") or {}
    progress = target.get("progress")
    return render_template("sales/workbench.html", w=data, target=target,
                           percent=None if progress is None else min(100.0, round(progress * 100, 1)),
                           links={e: DOCS[e][1] for e in DOCS})


# ---- documents ------------------------------------------------------------------------------------
def _list(entity: str, statuses: tuple[str, ...]) -> ResponseReturnValue:
    q = request.args.get("q", "").strip()[:100]
    status = request.args.get("status") or None
    if status not in statuses:
        status = None
    svc = service()
    found, pager = paged(lambda page, size: svc.list_documents(entity, q=q, status=status, page=page, per_page=size),
                         _page_number(), int(current_app.config["PAGE_SIZE"]))
    return render_template("sales/documents.html", entity=entity, rows=found["items"], pager=pager, q=q, status=status,
                           statuses=statuses, list_endpoint=DOCS[entity][0], page_endpoint=DOCS[entity][1],
                           names=users.display_names(get_store()))


@bp.get("/orders")
@login_required
def orders() -> ResponseReturnValue:
    return _list("sales_order", DOC_STATUSES)


@bp.get("/quotes")
@login_required
def quotes() -> ResponseReturnValue:
    return _list("quote", QUOTE_STATUSES)


@bp.get("/receipts")
@login_required
def receipts() -> ResponseReturnValue:
    return _list("receipt", DOC_STATUSES)


def _document(svc: SalesService, entity: str, record_id: str) -> dict[str, Any]:
    return {"sales_order": svc.order, "receipt": svc.receipt, "quote": svc.quote}[entity](record_id)


def _product_names(svc: SalesService, lines: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        pid = line.get("product_id")
        if pid and pid not in found:
            try:
                found[pid] = svc.product(pid)
            except NotFound:
                found[pid] = {"id": pid, "code": "", "name": pid, "spec": None, "unit": None}
    return found


def _render_document(entity: str, record_id: str, error: str | None = None, status: int = 200,
                     reason: str = "") -> ResponseReturnValue:
    svc = service()
    doc = _document(svc, entity, record_id)
    customer = svc.customer(doc["customer_id"])
    context: dict[str, Any] = {
        "doc": doc, "entity": entity, "customer": customer, "names": users.display_names(get_store()),
        "products": _product_names(svc, doc.get("lines") or []), "error": error, "reason": reason,
        "list_endpoint": DOCS[entity][0],
    }
    if entity in ("sales_order", "receipt"):
        module = "orders" if entity == "sales_order" else "receipts"
        context["history"] = svc.approvals_of(record_id)
        context["may_decide"] = can(module, "approve") and doc["status"] == "submitted"
    if entity == "receipt":
        context["orders"] = {}
        for allocation in doc.get("allocations") or []:
            try:
                context["orders"][allocation["order_id"]] = svc.order(allocation["order_id"])
            except ApiError:
                pass
    if entity == "sales_order" and doc["status"] == "approved" and can("receipts", "view"):
        ledger = svc.receivables(customer_id=doc["customer_id"])
        context["receivable"] = next((i for i in ledger["items"] if i["order_id"] == record_id), None)
    return render_template(DOCS[entity][2], **context), status


@bp.get("/orders/<record_id>")
@login_required
def order(record_id: str) -> ResponseReturnValue:
    return _render_document("sales_order", record_id)


@bp.get("/quotes/<record_id>")
@login_required
def quote(record_id: str) -> ResponseReturnValue:
    return _render_document("quote", record_id)


@bp.get("/receipts/<record_id>")
@login_required
def receipt(record_id: str) -> ResponseReturnValue:
    return _render_document("receipt", record_id)


def _decide(entity: str, record_id: str) -> ResponseReturnValue:
    require(workflow.APPROVE_MODULE[entity], "approve")
    action = request.form.get("action")
    if action not in ("approve", "reject"):
        abort(400)
    version = (request.form.get("version") or "").strip()
    reason = (request.form.get("reason") or "").strip()[:1000]
    if not version:
        abort(400)  # a page decision always says which version the approver saw
    if action == "reject" and not reason:
        return _render_document(entity, record_id, _("Say why you reject it: the reason is required."), 422, reason)
    try:
        service().decide(entity, record_id, action, version=version, reason=reason or None)
    except NotFound:
        abort(404)
    except ApiError as exc:
        return _render_document(entity, record_id, decision_message(exc.code), exc.status, reason)
    flash(_("Approved.") if action == "approve" else _("Rejected; the owner is notified."), "success")
    return redirect(url_for(DOCS[entity][1], record_id=record_id), code=303)


@bp.post("/orders/<record_id>/decision")
@login_required
def order_decision(record_id: str) -> ResponseReturnValue:
    return _decide("sales_order", record_id)


@bp.post("/receipts/<record_id>/decision")
@login_required
def receipt_decision(record_id: str) -> ResponseReturnValue:
    return _decide("receipt", record_id)


def _print(entity: str, record_id: str) -> ResponseReturnValue:
    svc = service()
    doc = _document(svc, entity, record_id)
    return render_template("sales/print.html", doc=doc, entity=entity, customer=svc.customer(doc["customer_id"]),
                           products=_product_names(svc, doc.get("lines") or []), company=company_name(),
                           names=users.display_names(get_store()),
                           doc_date=local_date(doc.get("created_at")) or svc.hooks.today().isoformat())


@bp.get("/orders/<record_id>/print")
@login_required
def order_print(record_id: str) -> ResponseReturnValue:
    return _print("sales_order", record_id)


@bp.get("/quotes/<record_id>/print")
@login_required
def quote_print(record_id: str) -> ResponseReturnValue:
    return _print("quote", record_id)


# ---- receivables ----------------------------------------------------------------------------------
@bp.get("/receivables")
@login_required
def receivables() -> ResponseReturnValue:
    svc = service()
    customer_id = request.args.get("customer_id") or None
    open_only = request.args.get("open", "1") != "0"
    ledger = svc.receivables(customer_id=customer_id, open_only=open_only)
    customer = svc.customer(customer_id) if customer_id else None
    items = ledger["items"]
    if request.args.get("format") == "xlsx":
        headers = [_("Sales order"), _("Customer"), _("Total"), _("Received"), _("Outstanding"), _("Due date"),
                   _("Days overdue"), _("Aging")]
        rows = [[i["number"], i["customer_name"], i["total"], i["received"], i["outstanding"], i["due_date"],
                 i["days_overdue"], str(BUCKET_LABELS[i["bucket"]])] for i in items]
        return current_app.response_class(
            to_xlsx(_("Receivables"), headers, rows), mimetype=XLSX_MIMETYPE,
            headers={"Content-Disposition": "attachment; filename=receivables.xlsx"})
    size = int(current_app.config["PAGE_SIZE"])
    pager = _pager(len(items), _page_number(), size)
    summary = ledger["summary"]
    return render_template("sales/receivables.html", items=items[pager["offset"]:pager["offset"] + size], pager=pager,
                           summary=summary, widths=bars(summary["buckets"]), customers=by_customer(items),
                           customer=customer, open_only=open_only, buckets=BUCKETS)


# ---- funnel ---------------------------------------------------------------------------------------
@bp.get("/funnel")
@login_required
def funnel() -> ResponseReturnValue:
    stages = service().funnel()
    return render_template("sales/funnel.html", stages=stages,
                           widths=bars({s["code"]: s["amount"] for s in stages}),
                           count_widths=bars({s["code"]: s["count"] for s in stages}))


from . import sales_setup_pages  # noqa: E402,F401  (products, categories, costs, numbering, targets)
