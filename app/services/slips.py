"""Documents built from database rows: the payment slip (繳款單) and receipts (收據).

Turns a :class:`PaymentSlip` / :class:`Receipt` into the plain data of
:mod:`app.services.pdf` (names masked, the national ID never in clear) and renders it.
Also the pictures of the phone page: the QR code and the three Code 39 barcodes as SVG.
"""
from __future__ import annotations

from typing import Sequence

from flask_babel import force_locale
from reportlab.graphics import renderSVG
from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing

from ..models import Payment, PaymentSlip, Receipt, Registration
from . import accounts, clock, payment_codes, payments, pdf, privacy
from .receipts import paying_credit

#: Receipt wording of each payment channel (the receipt is a Chinese document).
CHANNEL_NAMES = {
    "counter": "臺灣銀行臨櫃", "atm": "ATM 轉帳", "internet": "網路銀行", "webatm": "網路ATM",
    "711": "超商代收（7-ELEVEN）", "FAM": "超商代收（全家）", "HIL": "超商代收（萊爾富）",
    "OKM": "超商代收（OK）", "gateway": "線上金流", "cash": "臨櫃現金",
}


def channel_name(channel: str | None) -> str:
    if not channel:
        return ""
    if channel in CHANNEL_NAMES:
        return CHANNEL_NAMES[channel]
    return f"線上金流（{channel}）"


def masked_id(reg: Registration) -> str:
    """The learner's ID (or the account holder's) masked, e.g. ``A12****789``."""
    token = reg.learner.national_id_enc or reg.citizen.national_id_enc
    try:
        return privacy.mask_national_id(accounts.cipher().decrypt(token)) if token else ""
    except ValueError:  # a key rotation gone wrong must not leak or crash a slip
        return "**********"


def qr_payload(slip: PaymentSlip) -> str:
    return payment_codes.qr_payload(payments.BANK_CODE, slip.virtual_account, slip.amount)


def slip_data(slip: PaymentSlip) -> pdf.SlipData:
    reg: Registration = slip.registration
    course = reg.course
    with force_locale("zh_Hant_TW"):
        identity = payments.identity_labels(slip)
    return pdf.SlipData(
        venue_name=slip.venue.name, course_code=course.code, course_title=course.title,
        citizen_name_masked=privacy.mask_name(reg.learner.name), citizen_id_masked=masked_id(reg),
        entry_number=reg.entry_no, fee=slip.fee, amount=slip.amount,
        deadline=payments.deadline_date(slip), virtual_account=slip.virtual_account,
        barcodes=(slip.barcode1, slip.barcode2, slip.barcode3), qr_payload=qr_payload(slip),
        discount_percent=slip.discount_percent, identity=identity,
        materials_fee=slip.materials_fee, bank_name=payments.BANK_NAME,
        bank_code=payments.BANK_CODE, issued_on=clock.to_taipei(slip.issued_at).date(),
    )


def render_slip(slip: PaymentSlip) -> bytes:
    """The one-page A4 繳款單 of ``slip``."""
    return pdf.render_payment_slip(slip_data(slip))


def receipt_data(session, receipt: Receipt) -> pdf.ReceiptData:
    reg: Registration = receipt.registration
    credit: Payment | None = paying_credit(session, reg)
    paid_at = credit.paid_at if credit is not None and credit.paid_at else reg.paid_at
    return pdf.ReceiptData(
        receipt_number=receipt.number, venue_name=receipt.venue.name,
        course_code=reg.course.code, course_title=reg.course.title,
        payer_name_masked=privacy.mask_name(reg.learner.name), amount=receipt.amount,
        paid_on=clock.to_taipei(paid_at or receipt.issued_at).date(),
        channel=channel_name(credit.channel if credit is not None else None),
        issued_by=receipt.venue.name, issued_on=clock.to_taipei(receipt.issued_at).date(),
        entry_number=reg.entry_no,
    )


def render_receipt(session, receipt: Receipt) -> bytes:
    return pdf.render_receipt(receipt_data(session, receipt))


def render_receipts(session, receipts: Sequence[Receipt]) -> bytes:
    """Many receipts, one page each, for printing in a batch."""
    return pdf.render_receipts([receipt_data(session, r) for r in receipts])


# ---- pictures for the phone page -------------------------------------------------

def barcode_svg(value: str) -> str:
    """One Code 39 barcode (no added check character) as an SVG document."""
    drawing = createBarcodeDrawing("Standard39", value=value, checksum=0, barWidth=1.2,
                                   barHeight=50, humanReadable=False, quiet=1)
    return renderSVG.drawToString(drawing)


def qr_svg(payload: str, size: float = 180) -> str:
    widget = QrCodeWidget(payload, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return renderSVG.drawToString(drawing)
