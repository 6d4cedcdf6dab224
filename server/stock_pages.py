"""The server's warehouse pages: warehouses (with their kiosks), stock levels, the stock ledger (with
the negative-balance flag and a rebuild for boss/admin), stock moves (reversal, never an edit),
negative balances, outbound requests, and purchasing (purchase requests, purchase orders).

Views are thin: they read the request, call ``StockService`` as the logged-in page user with the
server's hooks (``server.stock_web.hooks``) and render. Rights: every page needs ``stock.view``
(purchasing pages ``purchasing.view``); moves, the ledger, outbound and negative balances are for
the roles whose devices receive moves (``server.stock.visible``): a rep sees levels only, never
costs (``stock_cost`` scope: ``server.stock.COST_ROLES``). The few reads the service does not offer
(kiosks per warehouse, negative levels, product look-up by code, reference numbers, a purchase
request's status) are small helpers below, free of HTTP.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from flask import Blueprint, abort, current_app, flash, has_request_context, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from marshmallow import ValidationError

from shared.schemas.stock import MOVE_KINDS, WarehouseSchema
from shared.web.errors import ApiError, NotFound
from shared.web.export import XLSX_MIMETYPE, to_xlsx
from shared.web.stock_api import PurchaseOrderBody
from shared.web.stock_service import StockService
from sync import ServerStore

from . import rules, stock, stock_web, users
from .auth import can, login_required, me, page_user, require
from .db import get_store
from .pages import _page_number, _pager

bp = Blueprint("stock_pages", __name__)

KIND_LABELS = {
    "in": _l("In"), "out": _l("Out"), "transfer": _l("Stock transfer"), "borrow": _l("Borrow"), "return": _l("Return"),
    "adjustment": _l("Stocktake adjustment"),
}
REF_LABELS = {
    "order": _l("Sales order"), "purchase": _l("Purchase order"), "borrower": _l("Borrower"), "stocktake": _l("Stocktake"),
    "transfer": _l("Stock transfer"), "other": _l("Other"),
}
PROGRESS_LABELS = {"open": _l("Not started"), "partial": _l("Partly done"), "done": _l("Done"), "ordered": _l("Ordered"),
                   "closed": _l("Closed")}
OUTBOUND_STATUSES = ("pending", "open", "partial", "done")
PO_STATUSES = ("pending", "open", "partial", "done")
PR_STATUSES = ("open", "ordered", "closed")
PO_FORM_LINES = 6
REBUILD_ROLES = ("boss", "admin")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---- helpers (no HTTP) ------------------------------------------------------------------------------
def sees_moves(user: Mapping[str, Any]) -> bool:
    """Whether the user sees moves, the ledger and outbound (the rule that decides which devices get them)."""
    return rules.can(user, "stock", "view") and bool(stock.visible(user, "stock_move", {}))


def sees_costs(user: Mapping[str, Any]) -> bool:
    """Whether the user sees moving-average costs (the ``stock_cost`` scope)."""
    return bool(stock.visible(user, "stock_cost", {}))


def kiosks(store: ServerStore) -> dict[str, list[dict[str, Any]]]:
    """Enrolled, not revoked devices per warehouse code (``fieldbook enroll --warehouse CODE``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for device in users.list_devices(store):
        if device["warehouse"] and not device["revoked"]:
            out.setdefault(device["warehouse"], []).append(dict(device))
    return out


def find_product(store: ServerStore, code: str) -> dict[str, Any] | None:
    """A product by its code or barcode (None: no such product)."""
    code = code.strip()
    if not code:
        return None
    row = store.db.execute("SELECT id, code, name, unit FROM products WHERE (code = ? OR barcode = ?) AND coalesce(deleted, 0) = 0"
                           " ORDER BY code = ? DESC LIMIT 1", [code, code, code]).fetchone()
    return None if row is None else {"id": row[0], "code": row[1], "name": row[2], "unit": row[3]}


def products_of(store: ServerStore, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """id → {code, name, unit} for the products named (deleted ones too: the ledger keeps them)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = store.db.query(f"SELECT id, code, name, unit FROM products WHERE id IN ({', '.join('?' for _ in wanted)})", wanted)
    return {r["id"]: dict(r) for r in rows}


def negative_levels(store: ServerStore, warehouse_id: str | None = None) -> list[dict[str, Any]]:
    """The warehouse × product balances below zero now (``stock_levels.negative``)."""
    where, params = "l.negative = 1", []
    if warehouse_id:
        where += " AND l.warehouse_id = ?"
        params.append(warehouse_id)
    return [dict(r) for r in store.db.query(
        "SELECT l.warehouse_id, l.product_id, l.quantity, l.as_of, p.code AS product_code, p.name AS product_name, p.unit"
        f" FROM stock_levels l LEFT JOIN products p ON p.id = l.product_id WHERE {where} ORDER BY l.quantity, p.code", params)]


def reference_numbers(store: ServerStore, moves: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(ref_type, ref_id) → the number people know it by (sales order or purchase order number)."""
    out: dict[tuple[str, str], str] = {}
    for move in moves:
        kind, ref = str(move.get("ref_type") or ""), str(move.get("ref_id") or "")
        if not ref or (kind, ref) in out:
            continue
        row = None
        if kind == "order":
            row = store.db.execute("SELECT number FROM sales_orders WHERE id = ?", [ref]).fetchone()
        elif kind == "purchase":
            row = store.db.execute("SELECT number FROM purchase_orders WHERE id = ?", [ref]).fetchone()
        out[(kind, ref)] = row[0] if row and row[0] else ref
    return out


def set_request_status(svc: StockService, request_id: str, status: str) -> dict[str, Any]:
    """Mark a purchase request ordered or closed (purchasing.edit). StockService has no such call yet."""
    svc.require("purchasing", "edit")
    if status not in ("ordered", "closed"):
        raise ValueError(status)
    store = svc.store
    with store.write():
        row = store.db.execute("SELECT status FROM purchase_requests WHERE id = ? AND coalesce(deleted, 0) = 0",
                               [request_id]).fetchone()
        if row is None:
            raise NotFound("No such purchase request.")
        if row[0] != status:
            store.update("purchase_request", request_id, {"status": status}, svc.me)
            svc.hooks.after_write("purchase_request", request_id)
    return dict(store.get("purchase_request", request_id))


def progress(lines: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Done / wanted over all lines, and the percentage (for progress bars)."""
    wanted = sum(float(l.get("quantity") or 0) for l in lines)
    done = sum(min(float(l.get("done") or 0), float(l.get("quantity") or 0)) for l in lines)
    return {"wanted": wanted, "done": done, "percent": round(done * 100 / wanted, 1) if wanted else 0.0}


# ---- request plumbing ---------------------------------------------------------------------------------
def service() -> StockService:
    store = get_store()
    return StockService(store, me(), stock_web.hooks(store))


def require_moves() -> None:
    if not sees_moves(me()):
        abort(403)


def page_size() -> int:
    return int(current_app.config["PAGE_SIZE"])


def paged(fetch: Any, page: int, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    found = fetch(page, size)
    pager = _pager(found["total"], page, size)
    if pager["page"] != page:
        found = fetch(pager["page"], size)
    return found, pager


def arg(name: str, limit: int = 64) -> str | None:
    value = (request.args.get(name) or "").strip()[:limit]
    return value or None


def query() -> dict[str, Any]:
    """The request's query arguments (carried through a redirect or a confirmation)."""
    return dict(request.args.to_dict())


def warehouse_arg(svc: StockService) -> str | None:
    """The ``warehouse_id`` filter if it names a warehouse (else no filter)."""
    value = arg("warehouse_id")
    return value if value and any(w["id"] == value for w in svc.warehouses()) else None


@bp.app_context_processor
def _stock_context() -> dict[str, Any]:
    user = page_user() if has_request_context() else None
    return {"kind_labels": KIND_LABELS, "ref_labels": REF_LABELS, "progress_labels": PROGRESS_LABELS,
            "stock_sees_moves": bool(user and sees_moves(user))}


# ---- warehouses ---------------------------------------------------------------------------------------
def _warehouses_page(form: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
                     editing: str | None = None, status: int = 200) -> ResponseReturnValue:
    svc = service()
    return render_template("stock/warehouses.html", warehouses=svc.warehouses(), kiosks=kiosks(get_store()),
                           may_edit=can("stock", "approve"), form=form or {}, errors=errors or {}, editing=editing), status


def _save_warehouse(warehouse_id: str | None) -> ResponseReturnValue:
    require("stock", "approve")
    raw = {k: (request.form.get(k) or "").strip() for k in ("code", "name", "address")}
    values = {**raw, "address": raw["address"] or None}
    try:
        saved = service().save_warehouse(WarehouseSchema().load(values), warehouse_id)
    except ValidationError as exc:
        errors = {k: "; ".join(map(str, v)) for k, v in exc.normalized_messages().items()}
        return _warehouses_page(raw, errors, warehouse_id, 422)
    except ApiError as exc:
        if exc.status == 404:
            abort(404)
        message = _("Another warehouse has this code.") if exc.code == "duplicate_code" else exc.message
        return _warehouses_page(raw, {"code": message}, warehouse_id, exc.status)
    flash(_("Warehouse %(code)s saved.", code=saved["code"]), "success")
    return redirect(url_for("stock_pages.warehouses"), code=303)


@bp.route("/warehouses", methods=["GET", "POST"])
@login_required
def warehouses() -> ResponseReturnValue:
    require("stock", "view")
    if request.method == "POST":
        return _save_warehouse(None)
    return _warehouses_page()


@bp.route("/warehouses/<warehouse_id>", methods=["GET", "POST"])
@login_required
def warehouse(warehouse_id: str) -> ResponseReturnValue:
    require("stock", "approve")
    current = service().warehouse(warehouse_id)
    if request.method == "POST":
        return _save_warehouse(warehouse_id)
    return _warehouses_page({k: current.get(k) or "" for k in ("code", "name", "address")}, None, warehouse_id)


# ---- stock levels -------------------------------------------------------------------------------------
@bp.get("/stock")
@login_required
def levels() -> ResponseReturnValue:
    require("stock", "view")
    svc = service()
    warehouse_id = warehouse_arg(svc)
    q = (request.args.get("q") or "").strip()[:100]
    show_costs = sees_costs(me())
    names = {w["id"]: w for w in svc.warehouses()}
    if request.args.get("format") == "xlsx":
        items = svc.levels(warehouse_id, None, q, 1, 100_000)["items"]
        headers = [_("Warehouse"), _("Code"), _("Product"), _("Unit"), _("Quantity")] + ([_("Average cost")] if show_costs else []) \
            + [_("Negative"), _("As of")]
        rows = [[names.get(i["warehouse_id"], {}).get("code", i["warehouse_id"]), i["product_code"], i["product_name"], i["unit"],
                 i["quantity"]] + ([i["average_cost"]] if show_costs else []) + [_("Yes") if i["negative"] else "", i["as_of"]]
                for i in items]
        return current_app.response_class(to_xlsx(_("Stock"), headers, rows), mimetype=XLSX_MIMETYPE,
                                          headers={"Content-Disposition": "attachment; filename=stock.xlsx"})
    found, pager = paged(lambda page, size: svc.levels(warehouse_id, None, q, page, size), _page_number(), page_size())
    return render_template("stock/levels.html", rows=found["items"], pager=pager, q=q, warehouse_id=warehouse_id,
                           warehouses=list(names.values()), names=names, show_costs=show_costs,
                           negatives=len(negative_levels(get_store())) if sees_moves(me()) else 0)


# ---- the ledger ---------------------------------------------------------------------------------------
@bp.get("/stock/ledger")
@login_required
def ledger() -> ResponseReturnValue:
    require("stock", "view")
    require_moves()
    svc = service()
    store = get_store()
    warehouse_id = warehouse_arg(svc)
    product_id = arg("product_id")
    code = (request.args.get("code") or "").strip()[:64]
    if code and not product_id:
        found = find_product(store, code)
        product_id = found["id"] if found else "-"  # an unknown code matches no rows
    rows = svc.ledger(warehouse_id, product_id)["items"] if (warehouse_id or product_id) else []
    size = page_size()
    pager = _pager(len(rows), _page_number(), size)
    shown = rows[pager["offset"]:pager["offset"] + size]
    moves = {r["move_id"]: svc.move(r["move_id"]) for r in shown}
    return render_template("stock/ledger.html", rows=shown, pager=pager, moves=moves, warehouse_id=warehouse_id,
                           product_id=product_id if product_id != "-" else None, code=code,
                           warehouses=svc.warehouses(), names={w["id"]: w for w in svc.warehouses()},
                           products=products_of(store, [r["product_id"] for r in shown] + [product_id or ""]),
                           refs=reference_numbers(store, moves.values()), people=users.display_names(store),
                           negative=any(r["negative"] for r in rows), show_costs=sees_costs(me()),
                           may_rebuild=me().get("role") in REBUILD_ROLES)


@bp.route("/stock/ledger/rebuild", methods=["GET", "POST"])
@login_required
def ledger_rebuild() -> ResponseReturnValue:
    if me().get("role") not in REBUILD_ROLES:
        abort(403)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        count = stock.rebuild(get_store())
        flash(_("The stock ledger was rebuilt from the moves: %(count)s rows.", count=count), "success")
        return redirect(url_for("stock_pages.ledger", **query()), code=303)
    return render_template("stock/confirm.html", title=_("Rebuild the stock ledger"),
                           message=_("Recompute every ledger row from the stock moves? Balances and costs are "
                                     "computed again in event-time order; no move is changed or dropped."),
                           action=url_for("stock_pages.ledger_rebuild", **query()),
                           button=_("Yes, rebuild"), back=url_for("stock_pages.ledger", **query()))


# ---- moves --------------------------------------------------------------------------------------------
@bp.get("/stock/moves")
@login_required
def moves() -> ResponseReturnValue:
    require("stock", "view")
    require_moves()
    svc = service()
    store = get_store()
    warehouse_id = warehouse_arg(svc)
    kind = arg("kind")
    kind = kind if kind in MOVE_KINDS else None
    day = arg("day", 10)
    if day and not _DAY.match(day):
        day = None
    code = (request.args.get("code") or "").strip()[:64]
    product = find_product(store, code) if code else None
    product_id = product["id"] if product else ("-" if code else None)
    found, pager = paged(lambda page, size: svc.moves(warehouse_id, product_id, kind, day, page, size), _page_number(), page_size())
    return render_template("stock/moves.html", rows=found["items"], pager=pager, warehouse_id=warehouse_id, kind=kind, day=day,
                           code=code, warehouses=svc.warehouses(), names={w["id"]: w for w in svc.warehouses()},
                           refs=reference_numbers(store, found["items"]), people=users.display_names(store),
                           kinds=MOVE_KINDS, show_costs=sees_costs(me()), may_edit=can("stock", "edit"))


@bp.route("/stock/moves/<move_id>/reverse", methods=["GET", "POST"])
@login_required
def move_reverse(move_id: str) -> ResponseReturnValue:
    require("stock", "edit")
    require_moves()
    svc = service()
    move = svc.move(move_id)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        reason = (request.form.get("reason") or "").strip()[:500]
        try:
            svc.reverse(move_id, reason or None)
        except ApiError as exc:
            known = {"already_reversed": _("This move was already reversed."),
                     "is_reversal": _("A reversal is not reversed; record a new move instead.")}
            flash(known.get(exc.code, exc.message), "error")
        else:
            flash(_("The move was reversed; the ledger shows both."), "success")
        return redirect(url_for("stock_pages.moves"), code=303)
    product = products_of(get_store(), [move["product_id"]]).get(move["product_id"], {})
    names = {w["id"]: w for w in svc.warehouses()}
    wh = names.get(move["warehouse_id"], {}).get("code", move["warehouse_id"])
    return render_template("stock/confirm.html", title=_("Reverse a stock move"),
                           message=_("Reverse the move %(kind)s of %(quantity)s × %(product)s in %(warehouse)s? A reversal "
                                     "move with the opposite effect is recorded; the original stays in the ledger.",
                                     kind=KIND_LABELS.get(move["kind"], move["kind"]), quantity=f"{move['quantity']:g}",
                                     product=f"{product.get('code', '')} {product.get('name', move['product_id'])}", warehouse=wh),
                           action=url_for("stock_pages.move_reverse", move_id=move_id), button=_("Yes, reverse"),
                           back=url_for("stock_pages.moves"), reason=True)


# ---- negative balances --------------------------------------------------------------------------------
@bp.get("/stock/negative")
@login_required
def negative() -> ResponseReturnValue:
    require("stock", "view")
    require_moves()
    svc = service()
    warehouse_id = warehouse_arg(svc)
    return render_template("stock/negative.html", rows=negative_levels(get_store(), warehouse_id), warehouse_id=warehouse_id,
                           warehouses=svc.warehouses(), names={w["id"]: w for w in svc.warehouses()},
                           may_request=can("stock", "edit") or can("purchasing", "edit"))


@bp.post("/stock/negative/purchase")
@login_required
def negative_purchase() -> ResponseReturnValue:
    require_moves()
    if not (can("stock", "edit") or can("purchasing", "edit")):
        abort(403)
    warehouse_id, product_id = request.form.get("warehouse_id") or "", request.form.get("product_id") or ""
    level = next((l for l in negative_levels(get_store(), warehouse_id) if l["product_id"] == product_id), None)
    if level is None:
        flash(_("That balance is not negative any more."), "error")
    else:
        service().request_purchase({"product_id": product_id, "warehouse_id": warehouse_id,
                                    "quantity": round(-float(level["quantity"]), 3), "reason": "negative balance"})
        flash(_("Purchase request created."), "success")
    return redirect(url_for("stock_pages.negative"), code=303)


# ---- outbound -----------------------------------------------------------------------------------------
@bp.get("/outbound")
@login_required
def outbound() -> ResponseReturnValue:
    require("stock", "view")
    require_moves()
    svc = service()
    warehouse_id = warehouse_arg(svc)
    status = arg("status")
    status = status if status in OUTBOUND_STATUSES else None
    found, pager = paged(lambda page, size: svc.outbound_requests(warehouse_id, status, page, size), _page_number(), page_size())
    items = [{**r, "progress": progress(r["lines"]),
              "short": any(l["remaining"] > 0 and l["available"] < l["remaining"] for l in r["lines"])} for r in found["items"]]
    return render_template("stock/outbound.html", rows=items, pager=pager, warehouse_id=warehouse_id, status=status,
                           statuses=OUTBOUND_STATUSES, warehouses=svc.warehouses(), names={w["id"]: w for w in svc.warehouses()},
                           products=products_of(get_store(), [l["product_id"] for r in items for l in r["lines"]]),
                           may_request=can("stock", "edit") or can("purchasing", "edit"))


@bp.post("/outbound/<request_id>/purchase")
@login_required
def outbound_purchase(request_id: str) -> ResponseReturnValue:
    """Shortage → purchase request: one request per short line (never twice for the same open line)."""
    require_moves()
    if not (can("stock", "edit") or can("purchasing", "edit")):
        abort(403)
    made = service().shortage_to_purchase(request_id)
    if made:
        flash(ngettext("%(num)s purchase request created.", "%(num)s purchase requests created.", len(made)), "success")
    else:
        flash(_("Nothing to request: no line is short, or its purchase request is already open."), "info")
    return redirect(url_for("stock_pages.outbound", **query()), code=303)


# ---- purchasing ---------------------------------------------------------------------------------------
@bp.get("/purchasing/requests")
@login_required
def purchase_requests() -> ResponseReturnValue:
    require("purchasing", "view")
    svc = service()
    warehouse_id = warehouse_arg(svc)
    status = arg("status")
    status = status if status in PR_STATUSES else None
    found, pager = paged(lambda page, size: svc.purchase_requests(warehouse_id, status, page, size), _page_number(), page_size())
    return render_template("stock/purchase_requests.html", rows=found["items"], pager=pager, warehouse_id=warehouse_id,
                           status=status, statuses=PR_STATUSES, warehouses=svc.warehouses(),
                           names={w["id"]: w for w in svc.warehouses()}, people=users.display_names(get_store()),
                           products=products_of(get_store(), [r["product_id"] for r in found["items"]]),
                           may_edit=can("purchasing", "edit"))


@bp.post("/purchasing/requests/<request_id>/status")
@login_required
def purchase_request_status(request_id: str) -> ResponseReturnValue:
    require("purchasing", "edit")
    status = request.form.get("status")
    if status not in ("ordered", "closed"):
        abort(400)
    set_request_status(service(), request_id, status)
    flash(_("Purchase request marked %(status)s.", status=PROGRESS_LABELS[status]), "success")
    return redirect(url_for("stock_pages.purchase_requests", **query()), code=303)


@bp.get("/purchasing/orders")
@login_required
def purchase_orders() -> ResponseReturnValue:
    require("purchasing", "view")
    svc = service()
    warehouse_id = warehouse_arg(svc)
    status = arg("status")
    status = status if status in PO_STATUSES else None
    found, pager = paged(lambda page, size: svc.purchase_orders(warehouse_id, status, page, size), _page_number(), page_size())
    items = [{**r, "progress": progress(r["lines"])} for r in found["items"]]
    return render_template("stock/purchase_orders.html", rows=items, pager=pager, warehouse_id=warehouse_id, status=status,
                           statuses=PO_STATUSES, warehouses=svc.warehouses(), names={w["id"]: w for w in svc.warehouses()},
                           products=products_of(get_store(), [l["product_id"] for r in items for l in r["lines"]]),
                           may_edit=can("purchasing", "edit"))


def _po_form(values: Mapping[str, Any], lines: list[dict[str, str]], errors: Mapping[str, str],
             status: int = 200) -> ResponseReturnValue:
    while len(lines) < PO_FORM_LINES:
        lines.append({"code": "", "quantity": "", "unit_cost": ""})
    return render_template("stock/purchase_order_form.html", values=values, lines=lines, errors=errors,
                           warehouses=service().warehouses()), status


def _line_errors(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(_line_errors(v) for v in messages.values())
    if isinstance(messages, list):
        return "; ".join(map(str, messages))
    return str(messages)


@bp.route("/purchasing/orders/new", methods=["GET", "POST"])
@login_required
def purchase_order_new() -> ResponseReturnValue:
    require("purchasing", "edit")
    store = get_store()
    if request.method == "GET":
        values: dict[str, Any] = {"warehouse_id": arg("warehouse_id") or ""}
        lines: list[dict[str, str]] = []
        from_request = arg("request_id")
        if from_request:
            row = store.db.execute("SELECT product_id, quantity, warehouse_id FROM purchase_requests WHERE id = ?",
                                   [from_request]).fetchone()
            if row:
                wanted = products_of(store, [row[0]]).get(row[0], {})
                lines.append({"code": wanted.get("code", ""), "quantity": f"{row[1]:g}", "unit_cost": ""})
                values["warehouse_id"] = row[2]
        return _po_form(values, lines, {})
    form = {k: (request.form.get(k) or "").strip() for k in ("supplier", "number", "warehouse_id", "expected_at")}
    codes, quantities, costs = (request.form.getlist(n) for n in ("code", "quantity", "unit_cost"))
    lines = [{"code": (c or "").strip(), "quantity": (q or "").strip(), "unit_cost": (u or "").strip()}
             for c, q, u in zip(codes, quantities, costs)][:200]
    errors: dict[str, str] = {}
    body_lines = []
    for index, line in enumerate(lines):
        if not (line["code"] or line["quantity"] or line["unit_cost"]):
            continue
        product = find_product(store, line["code"])
        if product is None:
            errors[f"line-{index}"] = _("No product with this code.") if line["code"] else _("Enter a product code.")
            continue
        body_lines.append((index, {"product_id": product["id"], "quantity": line["quantity"],
                                   "unit_cost": line["unit_cost"] or None}))
    body = {"supplier": form["supplier"], "warehouse_id": form["warehouse_id"], "number": form["number"] or None,
            "expected_at": form["expected_at"] or None, "lines": [l for _i, l in body_lines]}
    try:
        loaded = PurchaseOrderBody().load(body)
    except ValidationError as exc:
        for name, messages in exc.normalized_messages().items():
            if name == "lines" and isinstance(messages, dict):
                for position, problem in messages.items():
                    errors[f"line-{body_lines[int(position)][0]}"] = _line_errors(problem)
            elif name == "lines":
                errors["lines"] = _("Add at least one line.") if not body_lines else _line_errors(messages)
            else:
                errors[name] = _line_errors(messages)
    if not body_lines and "lines" not in errors:
        errors["lines"] = _("Add at least one line.")
    if errors:
        return _po_form(form, lines, errors, 422)
    try:
        created = service().create_purchase_order(loaded)
    except ApiError as exc:
        if exc.status == 403:
            abort(403)
        return _po_form(form, lines, {"warehouse_id": _("No such warehouse.") if exc.status == 404 else exc.message}, 422)
    flash(_("Purchase order %(number)s created.", number=created.get("number") or created["supplier"]), "success")
    return redirect(url_for("stock_pages.purchase_orders"), code=303)


@bp.get("/purchasing/orders/<po_id>")
@login_required
def purchase_order(po_id: str) -> ResponseReturnValue:
    require("purchasing", "view")
    svc = service()
    po = svc.purchase_order(po_id)
    return render_template("stock/purchase_order.html", po=po, progress=progress(po["lines"]),
                           names={w["id"]: w for w in svc.warehouses()}, show_costs=sees_costs(me()),
                           products=products_of(get_store(), [l["product_id"] for l in po["lines"]]))
