"""The warehouse kiosk on the device (issue 6): pages for a barcode scanner and a touch screen.

A kiosk is a client enrolled with ``--warehouse CODE`` (``client.stock_web.kiosk_warehouse``) and
shared by the warehouse staff, who switch user on it (``client.auth.authenticate_kiosk``). It works
offline: every read and write goes through ``StockService`` on the local replica with the device's
hooks, moves are recorded as events with ``operator_id`` = the logged-in user, and the sync worker
pushes them later. Pages:

- ``/kiosk``: the scan field (a keyboard-wedge scanner types the code and Enter), the product with
  this warehouse's quantity and big move buttons (in, out, transfer, borrow, return, stocktake),
  today's moves with Reverse (after a confirmation), pending outbound and inbound;
- ``/kiosk/outbound`` and ``/kiosk/outbound/<id>``: count by scanning (+1 a scan) or typing, ship
  whole or in part, shortages → purchase requests in one click;
- ``/kiosk/inbound`` and ``/kiosk/inbound/<id>``: receive against a purchase order;
- ``/kiosk/stock`` (levels, searchable) and ``/kiosk/ledger?product_id=`` (the stock ledger).

Forms are parsed here; bad input is answered next to the field and writes nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shared.web.errors import ApiError, NotFound
from shared.web.sales_service import SalesService
from shared.web.stock_service import StockService
from sync import ReplicaStore

from . import sales_web, stock_web
from .auth import me, page_user
from .db import get_device, get_store

bp = Blueprint("kiosk", __name__, template_folder="templates", url_prefix="/kiosk")

KINDS = ("in", "out", "transfer", "borrow", "return", "adjustment")
KIND_LABELS = {"in": _l("In"), "out": _l("Out"), "transfer": _l("Stock transfer"), "borrow": _l("Borrow"),
               "return": _l("Return"), "adjustment": _l("Stocktake")}
STATUS_LABELS = {"open": _l("Not started"), "partial": _l("Partly done"), "done": _l("Done")}
MAX_QTY = Decimal("1000000000")


def code_messages() -> dict[str, str]:
    """The service's refusals by code, in the reader's language."""
    return {
        "other_warehouse": _("This kiosk records moves of its own warehouse only."),
        "already_reversed": _("This move was already reversed."),
        "is_reversal": _("A reversal is not reversed; record a new move instead."),
        "already_shipped": _("Everything on this request has shipped."),
        "already_received": _("Everything on this purchase order was received."),
        "no_permission": _("You do not have the right to do this."),
    }


def explain(exc: ApiError) -> str:
    return code_messages().get(exc.code, exc.message)


# ---- helpers ---------------------------------------------------------------------------------------
def service() -> StockService:
    store = get_store()
    return StockService(store, me(), stock_web.hooks(store))


def sales() -> SalesService:
    store = get_store()
    return SalesService(store, me(), sales_web.hooks(store))


def tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_today() -> str:
    return datetime.fromtimestamp(get_store().now_ms() / 1000, tz=tz()).date().isoformat()


def qty(value: Any) -> str:
    """A quantity without trailing zeros (3, 2.5, -1.25); '' for None."""
    if value is None or value == "":
        return ""
    try:
        text = f"{Decimal(str(value)).quantize(Decimal('0.001')):f}"
    except InvalidOperation:
        return str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_qty(raw: Any, allow_zero: bool = False) -> tuple[Decimal | None, str | None]:
    """A typed quantity: (value, None) or (None, error message). Empty is 0 when ``allow_zero``."""
    text = str(raw or "").strip().replace(",", "")
    if text == "":
        return (Decimal(0), None) if allow_zero else (None, _("Enter a quantity."))
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, _("Enter a number.")
    if not value.is_finite() or value.as_tuple().exponent < -3:  # type: ignore[operator]
        return None, _("Enter a number with at most 3 decimals.")
    if value < 0 or (value == 0 and not allow_zero):
        return None, _("Must be more than 0.")
    if value > MAX_QTY:
        return None, _("This is too large.")
    return value, None


def parse_cost(raw: Any) -> tuple[Decimal | None, str | None]:
    text = str(raw or "").strip().replace(",", "")
    if text == "":
        return None, None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, _("Enter a number.")
    if not value.is_finite() or value < 0 or value > MAX_QTY or value.as_tuple().exponent < -4:  # type: ignore[operator]
        return None, _("Enter a cost of 0 or more with at most 4 decimals.")
    return value, None


def kiosk_warehouse() -> dict[str, Any] | None:
    store = get_store()
    warehouse_id = stock_web.kiosk_warehouse(store)
    if warehouse_id is None:
        return None
    try:
        return service().warehouse(warehouse_id)
    except NotFound:
        return None


def on_hand(svc: StockService, warehouse_id: str, product_id: str) -> dict[str, Any]:
    """This warehouse's quantity of a product on this kiosk: the ledger over the moves it holds
    (its own unsynced moves included), else the level as of the last sync."""
    rows = svc.ledger(warehouse_id, product_id)["items"]
    level = svc.levels(warehouse_id=warehouse_id, product_id=product_id, per_page=1)["items"]
    synced = level[0] if level else None
    if rows:
        last = rows[-1]
        return {"quantity": last["balance"], "average_cost": last["average_cost"], "negative": last["negative"],
                "as_of": synced["as_of"] if synced else None, "synced_quantity": synced["quantity"] if synced else None}
    if synced:
        return {"quantity": synced["quantity"], "average_cost": synced["average_cost"], "negative": synced["negative"],
                "as_of": synced["as_of"], "synced_quantity": synced["quantity"]}
    return {"quantity": 0.0, "average_cost": None, "negative": False, "as_of": None, "synced_quantity": None}


def todays_moves(svc: StockService, warehouse_id: str) -> list[dict[str, Any]]:
    """This warehouse's moves of today (in the kiosk's time zone), newest first."""
    zone = tz()
    day = local_today()
    start = datetime.fromisoformat(day).replace(tzinfo=zone)
    utc_days = sorted({start.astimezone(timezone.utc).date().isoformat(),
                       (start + timedelta(days=1) - timedelta(seconds=1)).astimezone(timezone.utc).date().isoformat(), day})
    seen: dict[str, dict[str, Any]] = {}
    for utc_day in utc_days:
        for move in svc.moves(warehouse_id=warehouse_id, day=utc_day, per_page=500)["items"]:
            try:
                moved = datetime.fromisoformat(str(move["moved_at"]))
            except ValueError:
                continue
            if moved.tzinfo is None:
                moved = moved.replace(tzinfo=timezone.utc)
            if moved.astimezone(zone).date().isoformat() == day:
                move["local_time"] = moved.astimezone(zone).strftime("%H:%M")
                seen[move["id"]] = move
    return sorted(seen.values(), key=lambda m: (str(m.get("hlc") or ""), m["id"]), reverse=True)


def products_by_id(product_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    svc = sales()
    out: dict[str, dict[str, Any]] = {}
    for product_id in {p for p in product_ids if p}:
        try:
            out[product_id] = svc.product(product_id)
        except NotFound:
            out[product_id] = {"id": product_id, "code": "?", "name": product_id, "unit": "", "barcode": None}
    return out


def warehouse_names() -> dict[str, str]:
    return {w["id"]: f"{w['code']} {w['name']}" for w in service().warehouses()}


def operator_names(store: ReplicaStore) -> dict[str, str]:
    """Who is who for the operator column: the org directory the server replicates, then the users
    who logged in on this device."""
    names: dict[str, str] = {}
    for row in store.db.query("SELECT user_id, username, display_name FROM directory_users WHERE coalesce(deleted, 0) = 0"):
        names[row["user_id"]] = row["display_name"] or row["username"]
    for table in ("local_users", "kiosk_users"):
        for row in store.db.query(f"SELECT id, username, display_name FROM {table}"):
            names[row["id"]] = row["display_name"] or row["username"]
    return names


def stock_hints(store: ReplicaStore, product_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For reps' order forms: available quantity per product over all warehouses as of the last
    sync (the replicated ``stock_levels``), and when the server last changed it."""
    ids = sorted({p for p in product_ids if p})
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in store.db.query(f"SELECT product_id, sum(quantity) AS quantity, max(as_of) AS as_of FROM stock_levels"
                                  f" WHERE product_id IN ({marks}) GROUP BY product_id", chunk):
            out[row["product_id"]] = {"available": float(row["quantity"] or 0), "as_of": row["as_of"]}
    return out


def _pager(total: int, page: int, size: int) -> dict[str, Any]:
    pages = max(1, -(-total // size))
    return {"page": min(page, pages), "pages": pages, "total": total}


def _page_arg() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))


def _per_page() -> int:
    return int(current_app.config["PER_PAGE"])


@bp.before_request
def _only_on_a_kiosk() -> Any:
    """Kiosk pages need a device enrolled for a warehouse whose record has synced."""
    if page_user() is None:  # the app's gate sends to /login first
        return None
    device = get_device(get_store())
    if not device or not device.get("warehouse"):
        return render_template("kiosk/not_kiosk.html", code=None), 404
    if kiosk_warehouse() is None:
        return render_template("kiosk/not_kiosk.html", code=device["warehouse"]), 409
    return None


@bp.context_processor
def _context() -> dict[str, Any]:
    device = get_device(get_store())
    return {"KIND_LABELS": KIND_LABELS, "KIOSK_STATUS": STATUS_LABELS, "kiosk_code": device.get("warehouse") if device else None}


# ---- home: scan, move, today's moves ----------------------------------------------------------------
def _home(product: dict[str, Any] | None = None, kind: str | None = None, form: Mapping[str, Any] | None = None,
          errors: dict[str, str] | None = None, error: str | None = None, code: str = "", status: int = 200) -> Any:
    svc = service()
    wh = kiosk_warehouse()
    assert wh is not None
    stock = on_hand(svc, wh["id"], product["id"]) if product else None
    outbound = svc.outbound_requests(wh["id"], status="pending", per_page=5)
    inbound = svc.purchase_orders(wh["id"], status="pending", per_page=5)
    others = [w for w in svc.warehouses() if w["id"] != wh["id"]]
    return render_template("kiosk/home.html", wh=wh, product=product, stock=stock, kind=kind, form=form or {},
                           errors=errors or {}, error=error, code=code, moves=todays_moves(svc, wh["id"]),
                           outbound=outbound, inbound=inbound, others=others, today=local_today(),
                           operators=operator_names(get_store())), status


def _lookup(code: str) -> tuple[dict[str, Any] | None, str | None]:
    code = code.strip()[:100]
    if not code:
        return None, None
    try:
        return sales().product_by_code(code), None
    except NotFound:
        return None, _("No product has the code or barcode %(code)s.", code=code)


@bp.get("")
def home() -> Any:
    code = (request.args.get("code") or "").strip()[:100]
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    product, error = _lookup(code)
    if product is None and request.args.get("product_id"):
        try:
            product = sales().product(request.args["product_id"][:64])
        except NotFound:
            error = _("No such product.")
    return _home(product, kind if product else None, error=error, code=code, status=404 if error else 200)


@bp.post("/move")
def move() -> Any:
    form = request.form
    svc = service()
    wh = kiosk_warehouse()
    assert wh is not None
    kind = form.get("kind", "")
    try:
        product = sales().product(form.get("product_id", "")[:64])
    except NotFound:
        return _home(None, None, error=_("No such product."), status=422)
    if kind not in KINDS:
        return _home(product, None, error=_("Choose a kind of move."), status=422)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"kind": kind, "warehouse_id": (form.get("warehouse_id") or wh["id"])[:64],
                              "product_id": product["id"]}
    stock = on_hand(svc, wh["id"], product["id"])
    if kind == "adjustment":
        counted, message = parse_qty(form.get("counted"), allow_zero=True)
        if not str(form.get("counted") or "").strip():
            errors["counted"] = _("Enter the quantity you counted (0 if there is none).")
        elif message or counted is None:
            errors["counted"] = message or _("Enter a quantity.")
        else:
            delta = counted - Decimal(str(stock["quantity"]))
            if delta == 0:
                errors["counted"] = _("The count equals the booked quantity: there is nothing to adjust.")
            values.update(quantity=float(delta), ref_type="stocktake",
                          reason=_("Stocktake: counted %(counted)s, booked %(booked)s", counted=qty(counted), booked=qty(stock["quantity"])))
            if delta > 0 and stock["average_cost"] is not None:
                values["unit_cost"] = stock["average_cost"]
    else:
        quantity, message = parse_qty(form.get("quantity"))
        if message or quantity is None:
            errors["quantity"] = message or _("Enter a quantity.")
        else:
            values["quantity"] = float(quantity)
    if kind == "in":
        unit_cost, message = parse_cost(form.get("unit_cost"))
        if message:
            errors["unit_cost"] = message
        elif unit_cost is not None:
            values["unit_cost"] = float(unit_cost)
    if kind in ("transfer", "return") and stock["average_cost"] is not None:
        values["unit_cost"] = stock["average_cost"]
    if kind == "transfer":
        target = (form.get("to_warehouse_id") or "").strip()[:64]
        if not target:
            errors["to_warehouse_id"] = _("Choose the warehouse it goes to.")
        elif target == values["warehouse_id"]:
            errors["to_warehouse_id"] = _("A transfer goes to another warehouse.")
        values["to_warehouse_id"] = target
        values["ref_type"] = "transfer"
    if kind in ("borrow", "return"):
        borrower = (form.get("borrower") or "").strip()
        if not borrower:
            errors["borrower"] = _("Who borrows it (or brings it back)?")
        elif len(borrower) > 64:
            errors["borrower"] = _("This is too long.")
        values.update(ref_type="borrower", ref_id=borrower)
    note = (form.get("reason") or "").strip()
    if len(note) > 300:
        errors["reason"] = _("This is too long.")
    elif note:
        values["reason"] = f"{values['reason']}; {note}" if values.get("reason") else note
    if errors:
        return _home(product, kind, form, errors, _("Nothing was recorded: correct the marked fields."), status=422)
    try:
        recorded = svc.record_move(values)
    except ApiError as exc:
        return _home(product, kind, form, {}, explain(exc), status=exc.status)
    flash(_("Recorded: %(kind)s %(quantity)s × %(product)s.", kind=KIND_LABELS[kind], quantity=qty(recorded["quantity"]),
            product=f"{product['code']} {product['name']}"), "success")
    return redirect(url_for("kiosk.home", product_id=product["id"]))


@bp.route("/moves/<move_id>/reverse", methods=["GET", "POST"])
def reverse(move_id: str) -> Any:
    svc = service()
    try:
        original = svc.move(move_id)
    except NotFound:
        abort(404)
    product = products_by_id([original["product_id"]])[original["product_id"]]
    if request.method == "POST":
        reason = (request.form.get("reason") or "").strip()[:300]
        try:
            svc.reverse(move_id, reason or None)
        except ApiError as exc:
            flash(explain(exc), "error")
            return redirect(url_for("kiosk.home"))
        flash(_("The move was reversed."), "success")
        return redirect(url_for("kiosk.home"))
    return render_template("kiosk/reverse.html", m=original, product=product, warehouses=warehouse_names())


@bp.post("/switch")
def switch_user() -> Any:
    """Hand the kiosk to another staff member: end this session, keep the language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login", next=url_for("kiosk.home")))


# ---- outbound ----------------------------------------------------------------------------------------
def _own(record: Mapping[str, Any]) -> None:
    wh = kiosk_warehouse()
    if wh is None or record["warehouse_id"] != wh["id"]:
        abort(404)


@bp.get("/outbound")
def outbound_list() -> Any:
    svc = service()
    wh = kiosk_warehouse()
    assert wh is not None
    show_all = request.args.get("all") == "1"
    page = _page_arg()
    found = svc.outbound_requests(wh["id"], status=None if show_all else "pending", page=page, per_page=_per_page())
    return render_template("kiosk/outbound_list.html", wh=wh, items=found["items"], show_all=show_all,
                           p=_pager(found["total"], page, _per_page()))


def _counts(lines: list[dict[str, Any]], form: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The counted quantities typed or scanned so far (by product id), and their errors."""
    counts: dict[str, str] = {}
    errors: dict[str, str] = {}
    for line in lines:
        raw = (form.get(f"qty-{line['product_id']}") or "").strip()
        counts[line["product_id"]] = raw
        if raw:
            value, message = parse_qty(raw, allow_zero=True)
            if message or value is None:
                errors[line["product_id"]] = message or _("Enter a number.")
            elif value > Decimal(str(line["remaining"])):
                errors[line["product_id"]] = _("More than what is left (%(left)s).", left=qty(line["remaining"]))
            else:
                counts[line["product_id"]] = qty(value)  # normalized: "1,000" → "1000"
    return counts, errors


def _scan(lines: list[dict[str, Any]], products: Mapping[str, Mapping[str, Any]], counts: dict[str, str],
          code: str) -> str | None:
    """One scan counts one unit on the line of that product; an error message if it cannot."""
    code = code.strip()
    if not code:
        return _("Scan or type a product code.")
    for line in lines:
        product = products.get(line["product_id"]) or {}
        if code in (product.get("code"), product.get("barcode")):
            value, message = parse_qty(counts.get(line["product_id"]), allow_zero=True)
            current = value if value is not None and not message else Decimal(0)
            if current + 1 > Decimal(str(line["remaining"])):
                return _("%(product)s: nothing more is left to count (%(left)s).", product=product.get("code") or code,
                         left=qty(line["remaining"]))
            counts[line["product_id"]] = qty(current + 1)
            return None
    return _("%(code)s is not on this list.", code=code)


def _open(load: Any, record_id: str) -> dict[str, Any]:
    """An outbound request or purchase order of this kiosk's warehouse (404 otherwise)."""
    try:
        doc = load(record_id)
    except NotFound:
        abort(404)
    _own(doc)
    return dict(doc)


def _counted(counts: Mapping[str, str], errors: Mapping[str, str],
             extra: Callable[[str], dict[str, Any]] = lambda product_id: {}) -> list[dict[str, Any]]:
    """The lines the clerk counted (typed or scanned), valid and above zero, as service lines."""
    return [{"product_id": p, "quantity": float(Decimal(v)), **extra(p)} for p, v in counts.items()
            if v and p not in errors and Decimal(v) > 0]


@bp.route("/outbound/<request_id>", methods=["GET", "POST"])
def outbound(request_id: str) -> Any:
    svc = service()
    req = _open(svc.outbound_request, request_id)
    products = products_by_id(l["product_id"] for l in req["lines"])
    form = request.form if request.method == "POST" else {}
    counts, errors = _counts(req["lines"], form)
    error = None
    status = 200
    action = form.get("action")
    if action == "scan":
        error = _scan(req["lines"], products, counts, form.get("scan", ""))
        status = 422 if error else 200
    elif action in ("ship", "ship_all"):
        lines: list[Mapping[str, Any]] | None = None
        if action == "ship":
            lines = _counted(counts, errors)
            if errors:
                error = _("Nothing was shipped: correct the marked lines.")
            elif not lines:
                error = _("Count what you ship first: scan the products or type the quantities.")
        if error is None:
            try:
                done = svc.ship(request_id, lines)
            except ApiError as exc:
                error = explain(exc)
                if exc.fields and isinstance(exc.fields.get("lines"), Mapping):
                    error = _("Nothing was shipped: a line is more than what is left to ship.")
            else:
                left = sum(l["remaining"] for l in done["request"]["lines"])
                flash(_("Shipped %(count)d line(s).", count=len(done["moves"])) + " " +
                      (_("The request is done.") if done["request"]["status"] == "done"
                       else _("%(left)s still to ship.", left=qty(left))), "success")
                return redirect(url_for("kiosk.outbound", request_id=request_id))
        status = 422
    shortages = svc.shortages(request_id)
    return render_template("kiosk/outbound.html", r=req, products=products, counts=counts, errors=errors, error=error,
                           shortages={s["product_id"]: s for s in shortages},
                           requested=svc.purchase_requests(req["warehouse_id"], status="open", per_page=200)["items"]), status


@bp.post("/outbound/<request_id>/purchase")
def outbound_purchase(request_id: str) -> Any:
    svc = service()
    _open(svc.outbound_request, request_id)
    try:
        made = svc.shortage_to_purchase(request_id)
    except ApiError as exc:
        flash(explain(exc), "error")
    else:
        if made:
            flash(_("%(count)d purchase request(s) created.", count=len(made)), "success")
        else:
            flash(_("No new purchase request: nothing is short, or it was already requested."), "info")
    return redirect(url_for("kiosk.outbound", request_id=request_id))


# ---- inbound -----------------------------------------------------------------------------------------
@bp.get("/inbound")
def inbound_list() -> Any:
    svc = service()
    wh = kiosk_warehouse()
    assert wh is not None
    show_all = request.args.get("all") == "1"
    page = _page_arg()
    found = svc.purchase_orders(wh["id"], status=None if show_all else "pending", page=page, per_page=_per_page())
    return render_template("kiosk/inbound_list.html", wh=wh, items=found["items"], show_all=show_all,
                           p=_pager(found["total"], page, _per_page()))


@bp.route("/inbound/<po_id>", methods=["GET", "POST"])
def inbound(po_id: str) -> Any:
    svc = service()
    po = _open(svc.purchase_order, po_id)
    products = products_by_id(l["product_id"] for l in po["lines"])
    form = request.form if request.method == "POST" else {}
    counts, errors = _counts(po["lines"], form)
    costs = {l["product_id"]: (form.get(f"cost-{l['product_id']}") if form else None) for l in po["lines"]}
    for line in po["lines"]:
        if costs[line["product_id"]] is None:
            costs[line["product_id"]] = "" if line.get("unit_cost") is None else qty(line["unit_cost"])
    error = None
    status = 200
    action = form.get("action")
    if action == "scan":
        error = _scan(po["lines"], products, counts, form.get("scan", ""))
        status = 422 if error else 200
    elif action in ("receive", "receive_all"):
        parsed_costs: dict[str, float | None] = {}
        for product_id, raw in costs.items():
            value, message = parse_cost(raw)
            if message:
                errors[product_id] = message
            parsed_costs[product_id] = None if value is None else float(value)
        lines: list[Mapping[str, Any]] | None
        if action == "receive_all":
            lines = [{"product_id": l["product_id"], "quantity": l["remaining"], "unit_cost": parsed_costs[l["product_id"]]}
                     for l in po["lines"] if l["remaining"] > 0]
        else:
            lines = _counted(counts, errors, lambda p: {"unit_cost": parsed_costs.get(p)})
        if errors:
            error = _("Nothing was received: correct the marked lines.")
        elif not lines:
            error = _("Count what arrived first: scan the products or type the quantities.") if action == "receive" \
                else _("Everything on this purchase order was received.")
        else:
            try:
                done = svc.receive(po_id, lines)
            except ApiError as exc:
                error = explain(exc)
                if exc.fields and isinstance(exc.fields.get("lines"), Mapping):
                    error = _("Nothing was received: a line is more than what is left to receive.")
            else:
                flash(_("Received %(count)d line(s).", count=len(done["moves"])) + " " +
                      (_("The purchase order is complete.") if done["purchase_order"]["status"] == "done"
                       else _("More is still to come.")), "success")
                return redirect(url_for("kiosk.inbound", po_id=po_id))
        status = 422
    return render_template("kiosk/inbound.html", po=po, products=products, counts=counts, costs=costs, errors=errors,
                           error=error), status


# ---- stock and the ledger ----------------------------------------------------------------------------
@bp.get("/stock")
def stock() -> Any:
    svc = service()
    wh = kiosk_warehouse()
    assert wh is not None
    q = (request.args.get("q") or "").strip()[:100]
    page = _page_arg()
    found = svc.levels(warehouse_id=wh["id"], q=q or None, page=page, per_page=_per_page())
    return render_template("kiosk/stock.html", wh=wh, items=found["items"], q=q, p=_pager(found["total"], page, _per_page()))


@bp.get("/ledger")
def ledger_page() -> Any:
    svc = service()
    wh = kiosk_warehouse()
    assert wh is not None
    product = None
    error = None
    product_id = (request.args.get("product_id") or "").strip()[:64]
    code = (request.args.get("code") or "").strip()[:100]
    if product_id:
        try:
            product = sales().product(product_id)
        except NotFound:
            error = _("No such product.")
    elif code:
        product, error = _lookup(code)
    rows = svc.ledger(wh["id"], product["id"])["items"] if product else []
    moves = {}
    if product:
        for row in svc.moves(warehouse_id=wh["id"], product_id=product["id"], per_page=10_000)["items"]:
            moves[row["id"]] = row
    return render_template("kiosk/ledger.html", wh=wh, product=product, rows=rows, moves=moves, code=code, error=error,
                           negative=any(r["negative"] for r in rows), operators=operator_names(get_store()),
                           warehouses=warehouse_names()), (404 if error else 200)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.filters["qty"] = qty

    def local_time(value: str | None) -> str:
        if not value:
            return ""
        try:
            moved = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moved.tzinfo is None:
            moved = moved.replace(tzinfo=timezone.utc)
        return moved.astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%d %H:%M")

    app.jinja_env.filters["local_time"] = local_time
