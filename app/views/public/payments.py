"""The citizen's payment pages: the slip (phone page and PDF), the receipt, the refund
request, and the payment gateway's callback.

Every page is for the registration's owner only; anyone else gets a 404 (never a hint
that the id exists), and the attempt is recorded in the audit trail.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import csrf, db
from ...models import PaymentSlip, Refund
from ...services import audit, payments, receipts, reconciliation, refunds, slips
from ...services import registration as engine
from ...services.accounts import FieldError
from ...services.audit import Actor
from ...services.collection_files import verify_check_mac_value
from ...services.errors import DomainError, NotFound
from .auth import request_actor, require_citizen

bp = Blueprint("payments", __name__, url_prefix="/payments")

SVG = "image/svg+xml"


def _refuse(kind: str, ident: int) -> NotFound:
    """Record a request for someone else's (or no) document, and answer 404."""
    db.session.rollback()
    audit.record(db.session, "payment_access_refused", request_actor(), target=f"{kind}:{ident}",
                 detail={"path": request.path})
    db.session.commit()
    return NotFound(_("No such registration on your account."), code="unknown_registration")


def _own_registration(reg_id: int):
    try:
        return engine.for_citizen(db.session, g.citizen, reg_id)
    except NotFound:
        raise _refuse("registration", reg_id)


def _own_slip(slip_id: int) -> PaymentSlip:
    slip = db.session.get(PaymentSlip, slip_id)
    if slip is None or slip.registration.citizen_id != g.citizen.id:
        raise _refuse("slip", slip_id)
    return slip


def _current_slip(reg) -> PaymentSlip:
    slip = payments.current_slip(db.session, reg)
    if slip is None:
        raise NotFound(_("This registration has no payment slip."), code="no_slip")
    return slip


def _file(body: bytes | str, mimetype: str, filename: str | None = None) -> Response:
    headers = {"Cache-Control": "private, no-store"}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(body, mimetype=mimetype, headers=headers)


# ---- the slip ----------------------------------------------------------------------

@bp.route("/registrations/<int:reg_id>/slip")
@require_citizen
def slip(reg_id: int):
    """The slip as a page for phones: amount, deadline, account, QR and barcodes."""
    reg = _own_registration(reg_id)
    current = _current_slip(reg)
    return render_template("public/payments/slip.html", reg=reg, slip=current,
                           data=slips.slip_data(current), state_label=engine.state_label)


@bp.route("/slips/<int:slip_id>.pdf")
@require_citizen
def slip_pdf(slip_id: int):
    found = _own_slip(slip_id)
    return _file(slips.render_slip(found), "application/pdf",
                 f"slip-{found.registration.entry_no}.pdf")


@bp.route("/slips/<int:slip_id>/qr.svg")
@require_citizen
def slip_qr(slip_id: int):
    return _file(slips.qr_svg(slips.qr_payload(_own_slip(slip_id))), SVG)


@bp.route("/slips/<int:slip_id>/barcode-<int:number>.svg")
@require_citizen
def slip_barcode(slip_id: int, number: int):
    found = _own_slip(slip_id)
    codes = (found.barcode1, found.barcode2, found.barcode3)
    if not 1 <= number <= 3:
        raise NotFound(_("The page you asked for does not exist."))
    return _file(slips.barcode_svg(codes[number - 1]), SVG)


# ---- the receipt -------------------------------------------------------------------

@bp.route("/registrations/<int:reg_id>/receipt.pdf")
@require_citizen
def receipt(reg_id: int):
    reg = _own_registration(reg_id)
    found = receipts.valid_receipt(db.session, reg)
    if found is None:
        raise NotFound(_("There is no receipt for this registration yet."), code="no_receipt")
    return _file(slips.render_receipt(db.session, found), "application/pdf",
                 f"receipt-{found.number}.pdf")


# ---- refunds -----------------------------------------------------------------------

ACCOUNT_FIELDS = ("bank_code", "branch_code", "account_number", "account_holder")


def _quoted_amount() -> int | None:
    """The amount the form showed, sent back in a hidden field (None if absent)."""
    raw = request.form.get("amount")
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise DomainError(_("The refund amount was altered. Nothing was changed."),
                          code="amount_changed")
    return int(raw)


def _refund_page(reg, errors=None, status=200):
    """One form at a time: the bank account of an automatic refund first (it is money
    already owed), else the refund request of a paid registration."""
    pending = refunds.awaiting_account(db.session, reg)
    offer = refunds.quote(db.session, reg) if reg.state == "paid" and pending is None else None
    history = db.session.execute(select(Refund).where(Refund.registration_id == reg.id)
                                 .order_by(Refund.id)).scalars().all()
    return render_template("public/payments/refund.html", reg=reg, offer=offer, pending=pending,
                           history=history, errors=errors or {}, form=request.form,
                           state_label=engine.state_label), status


@bp.route("/registrations/<int:reg_id>/refund", methods=["GET", "POST"])
@require_citizen
def refund(reg_id: int):
    """Ask for a refund (password, reason, bank account), or give the bank account of
    an automatic refund (course cancelled, payment after the deadline)."""
    reg = _own_registration(reg_id)
    if request.method == "GET":
        return _refund_page(reg)
    form = request.form
    actor = request_actor()
    try:
        account = refunds.clean_account(*(form.get(f, "") for f in ACCOUNT_FIELDS))
        pending = refunds.awaiting_account(db.session, reg)
        if pending is not None:
            refunds.give_account(db.session, pending, g.citizen, password=form.get("password", ""),
                                 account=account, actor=actor)
            message = _("Thank you. The refund will be remitted to this account.")
        else:
            refunds.request_refund(db.session, reg, g.citizen, password=form.get("password", ""),
                                   reason=form.get("reason", ""), account=account,
                                   quoted_amount=_quoted_amount(), actor=actor)
            message = _("Your refund request was sent. The venue will review it.")
        db.session.commit()
    except FieldError as exc:
        db.session.rollback()
        if exc.field == "password":
            audit.record(db.session, "refund_password_failed", actor,
                         target=f"registration:{reg.id}")
            db.session.commit()
        return _refund_page(reg, {exc.field: str(exc)}, 400)
    except DomainError as exc:
        db.session.rollback()
        if exc.code == "amount_changed":
            audit.record(db.session, "refund_amount_mismatch", actor, target=f"registration:{reg.id}",
                         detail={"sent": (form.get("amount") or "")[:20]})
            db.session.commit()
        return _refund_page(reg, {"form": str(exc)}, exc.status)
    flash(message, "success")
    return redirect(url_for("payments.refund", reg_id=reg.id))


# ---- the payment gateway -------------------------------------------------------------

@bp.route("/gateway/callback", methods=["POST"])
@csrf.exempt
def gateway_callback():
    """ECPay-style server notification: ``1|OK`` when taken (or already known);
    400 for a bad signature or a malformed notification, which change nothing."""
    params = request.form.to_dict()
    cfg = current_app.config
    actor = Actor(type="system", name="gateway", ip=request.remote_addr or "",
                  user_agent=request.headers.get("User-Agent", "")[:256])
    if not verify_check_mac_value(params, cfg["PAYMENT_GATEWAY_HASH_KEY"],
                                  cfg["PAYMENT_GATEWAY_HASH_IV"]):
        audit.record(db.session, "gateway_signature_refused", actor,
                     target=str(params.get("MerchantTradeNo", ""))[:40],
                     detail={"TradeNo": str(params.get("TradeNo", ""))[:40],
                             "TradeAmt": str(params.get("TradeAmt", ""))[:20],
                             "fields": sorted(params)[:40]})
        db.session.commit()
        return Response("0|CheckMacValue error", status=400, mimetype="text/plain")
    try:
        reconciliation.receive_gateway_notification(db.session, params, actor)
    except DomainError as exc:
        db.session.rollback()
        audit.record(db.session, "gateway_notification_refused", actor,
                     target=str(params.get("MerchantTradeNo", ""))[:40], detail={"code": exc.code})
        db.session.commit()
        return Response(f"0|{exc.code}", status=400, mimetype="text/plain")
    return Response("1|OK", mimetype="text/plain")
