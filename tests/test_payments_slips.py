"""Issued slips carry valid codes (property tests), and slip/receipt PDFs read back."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.models import Receipt
from app.services import accounts, payment_codes, privacy, reconciliation, slips
from tests.test_payments_helpers import admitted, bank_file, bank_line


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fee=st.integers(0, 300_000), materials=st.integers(0, 20_000),
       percent=st.integers(1, 100), senior=st.booleans(), days=st.integers(1, 10))
def test_every_issued_slip_has_verifying_codes(make, db, fee, materials, percent, senior, days):
    try:
        _check_issued_slip(make, fee, materials, percent, senior, days)
    finally:
        make.session.rollback()  # every example starts from an empty database


def _check_issued_slip(make, fee, materials, percent, senior, days):
    venue = make.venue(code="PV", name="性質測試館", payment_days=days)
    make.discount(venue, "senior", percent)
    course = make.course(venue, fee=fee, materials_fee=materials)
    birth = dt.date(1940, 1, 1) if senior else dt.date(1990, 1, 1)
    reg, slip = admitted(make, course, make.citizen(birth=birth))

    factor = Decimal(percent if senior else 100) / 100
    expected = int((Decimal(fee) * factor).quantize(Decimal(1), ROUND_HALF_UP)) + materials
    assert slip.amount == expected
    assert payment_codes.verify_virtual_account(slip.virtual_account, slip.amount)
    assert slip.virtual_account.startswith(venue.collection_code)
    assert payment_codes.verify_store_barcodes(slip.barcode1, slip.barcode2, slip.barcode3)
    assert payment_codes.store_barcode_amount(slip.barcode3) == slip.amount
    assert slip.barcode2 == slip.virtual_account.rjust(16, "0")
    assert slip.barcode1.endswith(venue.store_item_code)
    qr = payment_codes.parse_qr_payload(slips.qr_payload(slip))
    assert qr == ("004", slip.virtual_account, slip.amount)


needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils")


def _text(content: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@needs_pdftotext
def test_slip_and_receipt_pdfs_read_back(make, db, tmp_path):
    venue = make.venue(code="DD", name="大墩文化中心")
    course = make.course(venue, title="水墨山水畫班", fee=3000, materials_fee=200)
    reg, slip = admitted(make, course, make.citizen(name="王小明"))
    make.commit()

    text = _text(slips.render_slip(slip), tmp_path)
    for expected in ("大墩文化中心", "水墨山水畫班", course.code, "3,200", slip.virtual_account,
                     slip.barcode1, slip.barcode2, slip.barcode3, "臺灣銀行", reg.entry_no,
                     "王○明"):
        assert expected in text, expected
    national_id = accounts.cipher().decrypt(reg.citizen.national_id_enc)
    assert national_id not in text and privacy.mask_national_id(national_id) in text

    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "pay.txt")
    receipt = db.session.execute(select(Receipt)).scalar_one()
    text = _text(slips.render_receipt(db.session, receipt), tmp_path)
    for expected in ("大墩文化中心", "水墨山水畫班", receipt.number, "3,200", "新臺幣參仟貳佰元整",
                     "ATM 轉帳", reg.entry_no):
        assert expected in text, expected
    batch = slips.render_receipts(db.session, [receipt, receipt])
    assert _text(batch, tmp_path).count(receipt.number) == 2


def test_phone_pictures_are_svg(make, db):
    venue = make.venue()
    _, slip = admitted(make, make.course(venue))
    qr = slips.qr_svg(slips.qr_payload(slip))
    bar = slips.barcode_svg(slip.barcode3)
    assert qr.lstrip().startswith("<?xml") and "<svg" in qr
    assert "<svg" in bar and "<script" not in bar
