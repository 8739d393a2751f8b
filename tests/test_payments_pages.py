"""The citizen's payment pages and the gateway callback: owners only, and nothing a
citizen (or a forger) can send changes money state."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Payment, Refund
from app.services import reconciliation
from app.services.collection_files import check_mac_value
from tests.factories import PASSWORD
from tests.test_payments_helpers import admitted, bank_file, bank_line, count, money_state

CALLBACK = "/payments/gateway/callback"


@pytest.fixture(autouse=True)
def _wired(app):
    if "payments" not in app.blueprints:  # pragma: no cover - wired by app.views.public
        pytest.skip("the payments blueprint is not registered")


def log_in(client, citizen):
    with client.session_transaction() as s:
        s["citizen_id"] = citizen.id
        s["citizen_sv"] = citizen.session_version


def last_event(db):
    return db.session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()


def _setup(make):
    v = make.venue(code="DD", name="大墩文化中心")
    reg, slip = admitted(make, make.course(v, title="書法入門"))
    make.commit()
    return reg, slip


def test_owner_sees_the_slip_page_and_downloads(make, db, client):
    reg, slip = _setup(make)
    log_in(client, reg.citizen)
    r = client.get(f"/payments/registrations/{reg.id}/slip")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for text in (slip.virtual_account, slip.barcode1, slip.barcode2, slip.barcode3, "書法入門",
                 "大墩文化中心", "2,800"):
        assert text in html, text
    assert "<script" not in html.split("</header>")[1] and " style=" not in html
    for img in re.findall(r"<img [^>]*>", html):
        assert 'alt="' in img
    r = client.get(f"/payments/slips/{slip.id}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data[:4] == b"%PDF"
    for path in (f"/payments/slips/{slip.id}/qr.svg", f"/payments/slips/{slip.id}/barcode-3.svg"):
        r = client.get(path)
        assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert client.get(f"/payments/slips/{slip.id}/barcode-4.svg").status_code == 404


def test_receipt_for_the_owner_once_paid(make, db, client):
    reg, slip = _setup(make)
    log_in(client, reg.citizen)
    assert client.get(f"/payments/registrations/{reg.id}/receipt.pdf").status_code == 404
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "pay.txt")
    r = client.get(f"/payments/registrations/{reg.id}/receipt.pdf")
    assert r.status_code == 200 and r.data[:4] == b"%PDF"


def test_another_citizens_documents_are_404_and_recorded(make, db, client):
    reg, slip = _setup(make)
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "pay.txt")
    stranger = make.citizen(name="李四")
    make.commit()
    before = money_state(db.session)
    log_in(client, stranger)
    paths = [f"/payments/registrations/{reg.id}/slip", f"/payments/slips/{slip.id}.pdf",
             f"/payments/slips/{slip.id}/qr.svg", f"/payments/registrations/{reg.id}/receipt.pdf",
             f"/payments/registrations/{reg.id}/refund", "/payments/slips/999999.pdf"]
    for path in paths:
        r = client.get(path)
        assert r.status_code == 404, path
        entry = last_event(db)
        assert (entry.event, entry.actor) == ("payment_access_refused", f"citizen:{stranger.id}")
    r = client.post(f"/payments/registrations/{reg.id}/refund", data={
        "password": PASSWORD, "reason": "x", "bank_code": "004", "branch_code": "0001",
        "account_number": "12345678", "account_holder": "李四"})
    assert r.status_code == 404
    assert money_state(db.session) == before


def test_anonymous_visitors_are_sent_to_log_in(make, db, client):
    reg, slip = _setup(make)
    r = client.get(f"/payments/registrations/{reg.id}/slip")
    assert r.status_code in (302, 303) and "login" in r.headers["Location"]


def _refund_form(**kw):
    data = {"password": PASSWORD, "reason": "工作調動", "bank_code": "004", "branch_code": "0123",
            "account_number": "123456789012", "account_holder": "王小明"}
    data.update(kw)
    return data


def test_refund_request_page_and_tampered_amount(make, db, client):
    reg, slip = _setup(make)
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "pay.txt")
    log_in(client, reg.citizen)
    page = client.get(f"/payments/registrations/{reg.id}/refund").get_data(as_text=True)
    assert "2,520" in page and 'name="amount" value="2520"' in page
    assert '<label for="account_number">' in page

    before = money_state(db.session)
    r = client.post(f"/payments/registrations/{reg.id}/refund", data=_refund_form(amount="2800"))
    assert r.status_code == 400
    assert last_event(db).event == "refund_amount_mismatch"
    assert money_state(db.session) == before

    r = client.post(f"/payments/registrations/{reg.id}/refund",
                    data=_refund_form(amount="2520", password="wrong-password-9"))
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and 'aria-describedby="password-error"' in html
    assert 'id="password-error"' in html
    assert last_event(db).event == "refund_password_failed"
    assert money_state(db.session) == before

    r = client.post(f"/payments/registrations/{reg.id}/refund", data=_refund_form(amount="2520"))
    assert r.status_code == 302
    refund = db.session.execute(select(Refund)).scalar_one()
    db.session.refresh(reg)
    assert (refund.amount, refund.percent, refund.state, reg.state) == \
        (2520, 90, "requested", "refund_requested")


# ---- the gateway callback ---------------------------------------------------------------

def _notification(app, slip, **kw):
    params = {"MerchantID": "3002607", "MerchantTradeNo": slip.virtual_account, "RtnCode": "1",
              "RtnMsg": "交易成功", "TradeNo": "2603021030001234", "TradeAmt": str(slip.amount),
              "PaymentDate": "2026/03/02 10:30:00", "PaymentType": "Credit_CreditCard",
              "PaymentTypeChargeFee": "0", "TradeDate": "2026/03/02 10:29:00",
              "SimulatePaid": "0"}
    params.update(kw)
    params["CheckMacValue"] = check_mac_value(params, app.config["PAYMENT_GATEWAY_HASH_KEY"],
                                              app.config["PAYMENT_GATEWAY_HASH_IV"])
    return params


def test_signed_callback_pays_once(app, make, db, client):
    reg, slip = _setup(make)
    params = _notification(app, slip)
    r = client.post(CALLBACK, data=params)
    assert (r.status_code, r.get_data(as_text=True)) == (200, "1|OK")
    db.session.refresh(reg)
    assert reg.state == "paid"
    payment = db.session.execute(select(Payment)).scalar_one()
    assert (payment.source, payment.external_serial, payment.status) == \
        ("gateway", "2603021030001234", "applied")
    before = money_state(db.session)
    r = client.post(CALLBACK, data=params)  # the gateway retries: same path, nothing new
    assert (r.status_code, r.get_data(as_text=True)) == (200, "1|OK")
    assert money_state(db.session) == before


def test_forged_or_tampered_callbacks_are_refused_and_recorded(app, make, db, client):
    reg, slip = _setup(make)
    before = money_state(db.session)
    forged = _notification(app, slip)
    forged["CheckMacValue"] = "0" * 64
    tampered = _notification(app, slip)
    tampered["TradeAmt"] = "1"  # signed for the real amount, then changed
    unsigned = {k: v for k, v in _notification(app, slip).items() if k != "CheckMacValue"}
    for data in (forged, tampered, unsigned):
        r = client.post(CALLBACK, data=data)
        assert r.status_code == 400
        entry = last_event(db)
        assert entry.event == "gateway_signature_refused"
        assert entry.target == slip.virtual_account
    assert money_state(db.session) == before
    assert count(db.session, Payment) == 0


def test_failed_payment_notification_moves_no_money(app, make, db, client):
    reg, slip = _setup(make)
    before = money_state(db.session)
    r = client.post(CALLBACK, data=_notification(app, slip, RtnCode="10100058"))
    assert (r.status_code, r.get_data(as_text=True)) == (200, "1|OK")
    assert last_event(db).event == "gateway_notification_ignored"
    assert money_state(db.session) == before


def test_signed_but_malformed_notification_is_400(app, make, db, client):
    reg, slip = _setup(make)
    r = client.post(CALLBACK, data=_notification(app, slip, TradeAmt="abc"))
    assert r.status_code == 400
    assert last_event(db).event == "gateway_notification_refused"
    assert count(db.session, Payment) == 0


def test_account_for_an_automatic_refund(make, db, client):
    reg, slip = _setup(make)
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "pay.txt")
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "twice.txt")  # paid twice
    refund = db.session.execute(select(Refund)).scalar_one()
    assert (refund.kind, refund.account_enc) == ("double_payment", None)
    log_in(client, reg.citizen)
    page = client.get(f"/payments/registrations/{reg.id}/refund").get_data(as_text=True)
    assert 'name="amount"' not in page and 'name="account_number"' in page
    r = client.post(f"/payments/registrations/{reg.id}/refund", data=_refund_form())
    assert r.status_code == 302
    db.session.expire_all()
    assert refund.account_enc is not None and refund.bank_code == "004"
    assert reg.state == "paid" and count(db.session, Refund) == 1
