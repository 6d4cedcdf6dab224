"""What the server's sales and stock rules answer, in words (both apps' sync-issue pages)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: Rejection and refusal reasons of sales documents, decisions and stock moves.
WORKFLOW_REASONS = {
    "frozen": _l("The document was already submitted or approved; this change was not applied."),
    "changed_since_seen": _l("The document changed after the approver opened it; the decision was not applied."),
    "not_submitted": _l("The document was no longer waiting for approval; the decision was not applied."),
    "already_decided": _l("A decision on this document is already waiting to sync."),
    "invalid_transition": _l("This change of status is not allowed."),
    "invalid_status": _l("A new document must start as a draft or submitted."),
    "server_owned": _l("Only the server sets this field (number, approval, owner)."),
    "total_mismatch": _l("The total did not match the lines; the lines and total were restored."),
    "over_allocated": _l("The receipt allocates more than the order still owes."),
    "bad_allocation": _l("The receipt pays an order of another customer or an unknown order."),
    "order_not_approved": _l("The receipt pays an order that is not approved."),
    "other_warehouse": _l("This kiosk records moves of its own warehouse only."),
    "operator_not_allowed": _l("The user who recorded this move may not record stock moves."),
    "unknown_warehouse": _l("The warehouse does not exist."),
    "unknown_product": _l("The product does not exist."),
    "unknown_move": _l("The move to reverse does not exist (or is itself a reversal)."),
    "reversal_mismatch": _l("A reversal must repeat the original move exactly."),
    "already_reversed": _l("This move was already reversed."),
    "not_found": _l("The document no longer exists."),
}

#: The sales and stock entities as sync issues name them.
WORKFLOW_ENTITIES = {
    "sales_order": _l("Sales order"), "receipt": _l("Receipt"), "quote": _l("Quote"), "opportunity": _l("Opportunity"),
    "approval": _l("Approval"), "product": _l("Product"), "product_category": _l("Product category"),
    "sales_target": _l("Sales target"), "stock_move": _l("Stock move"), "purchase_request": _l("Purchase request"),
}
