"""The money back office: every list, download and action stays inside the staff
member's venue, and goes through the services."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from app.models import Payment, Receipt, ReconciliationBatch, Refund, Registration
from app.services import reconciliation, refunds
from app.services.audit import Actor
from tests.factories import PASSWORD
from tests.test_payments_helpers import admitted, bank_file, bank_line, count


@pytest.fixture(scope="module")
def money_app(app):
    """The session app if the lead wired the views, else an app built with them."""
    if "PaymentSlipView" in app.blueprints:
        return app
    import app.views.admin as admin_views
    from app import create_app
    from app.views.admin import payments as money

    original = admin_views.register_admin_views

    def with_money(appbuilder):
        original(appbuilder)
        money.register(appbuilder)

    admin_views.register_admin_views = with_money
    try:
        built = create_app({**{k: app.config[k] for k in (
            "SQLALCHEMY_DATABASE_URI", "UPLOAD_DIR", "RECONCILIATION_INBOX",
            "NOTIFY_CONSOLE_FILE")}, "TESTING": True, "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False, "REDIS_URL": ""})
    finally:
        admin_views.register_admin_views = original
    with built.app_context():
        from app.cli import sync_permissions

        sync_permissions()
    return built


@pytest.fixture
def staff_client(money_app, make, db):
    dd = make.venue("DD", "大墩文化中心")
    hl = make.venue("HL", "葫蘆墩文化中心")
    make.staff("dd-clerk", "Venue Clerk", dd)
    make.staff("dd-admin", "Venue Admin", dd)
    make.staff("hl-clerk", "Venue Clerk", hl)

    def login(username):
        client = money_app.test_client()
        r = client.post("/login/", data={"username": username, "password": PASSWORD})
        assert r.status_code in (200, 302)
        return client

    return dd, hl, login


def _paid(make, db, venue):
    reg, slip = admitted(make, make.course(venue))
    make.commit()
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), f"{slip.id}.txt")
    return reg, slip


def test_lists_show_only_the_venues_rows(make, db, staff_client):
    dd, hl, login = staff_client
    dd_reg, dd_slip = _paid(make, db, dd)
    hl_reg, hl_slip = _paid(make, db, hl)
    client = login("dd-clerk")
    for path in ("/paymentslipview/list/", "/paymentview/list/", "/receiptview/list/"):
        html = client.get(path).get_data(as_text=True)
        assert dd_reg.entry_no in html or dd_slip.virtual_account in html, path
        assert hl_reg.entry_no not in html and hl_slip.virtual_account not in html, path
    assert client.get(f"/paymentslipview/show/{hl_slip.id}").status_code in (302, 404)
    batches = client.get("/reconciliationbatchview/list/").get_data(as_text=True)
    assert f"{dd_slip.id}.txt" in batches and f"{hl_slip.id}.txt" not in batches
    r = client.get("/admin/revenue/")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert dd_reg.course.code in page and hl_reg.course.code not in page


def test_slip_pdf_and_receipt_printing_are_scoped(make, db, staff_client):
    dd, hl, login = staff_client
    dd_reg, dd_slip = _paid(make, db, dd)
    hl_reg, hl_slip = _paid(make, db, hl)
    client = login("dd-clerk")
    r = client.post(f"/paymentslipview/action/slip_pdf/{dd_slip.id}")
    assert r.status_code == 200 and r.data[:4] == b"%PDF"
    assert client.post(f"/paymentslipview/action/slip_pdf/{hl_slip.id}").status_code in (403, 404)
    receipts = {r.registration_id: r.id for r in db.session.execute(
        select(Receipt)).scalars()}
    r = client.post("/receiptview/action_post",
                    data={"action": "print_receipts", "rowid": [str(receipts[dd_reg.id])]})
    assert r.status_code == 200 and r.data[:4] == b"%PDF"
    r = client.post("/receiptview/action_post",
                    data={"action": "print_receipts",
                          "rowid": [str(receipts[dd_reg.id]), str(receipts[hl_reg.id])]})
    assert r.status_code in (403, 404)


def test_refund_actions_and_remittance_csv(make, db, staff_client):
    dd, hl, login = staff_client
    reg, slip = _paid(make, db, dd)
    other, _ = _paid(make, db, hl)
    account = refunds.BankAccount("004", "0123", "123456789012", "王小明")
    mine = refunds.request_refund(db.session, reg, reg.citizen, password=PASSWORD, reason="r",
                                  account=account, quoted_amount=None, actor=Actor())
    theirs = refunds.request_refund(db.session, other, other.citizen, password=PASSWORD,
                                    reason="r", account=account, quoted_amount=None, actor=Actor())
    db.session.commit()
    client = login("dd-clerk")
    r = client.post("/refundview/action_post", data={"action": "approve", "rowid": [str(theirs.id)]})
    assert r.status_code in (403, 404)
    r = client.post("/refundview/action_post", data={"action": "approve", "rowid": [str(mine.id)]})
    assert r.status_code == 302
    db.session.expire_all()
    assert (mine.state, theirs.state) == ("approved", "requested")
    assert db.session.get(Registration, reg.id).state == "refunded"
    r = client.post("/refundview/action_post", data={"action": "remit", "rowid": [str(mine.id)]})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][:5] == ["004", "0123", "123456789012", "王小明", str(mine.amount)]
    db.session.expire_all()
    batch_id = mine.batch_id
    r = client.post("/remittancebatchview/action_post",
                    data={"action": "mark_remitted", "rowid": [str(batch_id)]})
    assert r.status_code == 302
    db.session.expire_all()
    assert mine.state == "remitted"


def test_exceptions_resolved_only_within_the_venue(make, db, staff_client):
    dd, hl, login = staff_client
    make.commit()
    reconciliation.import_file(db.session, bank_file(
        bank_line(dd.collection_code + "000000009", 700),
        bank_line(hl.collection_code + "000000009", 800)), "unknown.txt")
    mine = db.session.execute(select(Payment).where(Payment.venue_id == dd.id)).scalar_one()
    theirs = db.session.execute(select(Payment).where(Payment.venue_id == hl.id)).scalar_one()
    client = login("dd-clerk")
    html = client.get("/paymentexceptionview/list/").get_data(as_text=True)
    assert mine.reference in html and theirs.reference not in html
    r = client.post("/paymentexceptionview/action_post",
                    data={"action": "close_exception", "rowid": [str(theirs.id)]})
    assert r.status_code in (403, 404)
    r = client.post("/paymentexceptionview/action_post",
                    data={"action": "close_exception", "rowid": [str(mine.id)]})
    assert r.status_code == 302
    db.session.expire_all()
    assert (mine.status, theirs.status) == ("resolved", "exception")


def test_upload_is_limited_to_the_venues_accounts(make, db, staff_client):
    dd, hl, login = staff_client
    reg, slip = admitted(make, make.course(dd))
    hl_reg, hl_slip = admitted(make, make.course(hl))
    make.commit()
    client = login("dd-clerk")
    raw = bank_file(bank_line(slip), bank_line(hl_slip))
    r = client.post("/reconciliationuploadview/form",
                    data={"file": (io.BytesIO(raw), "mixed.txt")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    batch = db.session.execute(select(ReconciliationBatch)).scalar_one()
    assert batch.status == "rejected" and "Line 3" in batch.error
    assert count(db.session, Payment) == 0
    r = client.post("/reconciliationuploadview/form",
                    data={"file": (io.BytesIO(bank_file(bank_line(slip))), "own.txt")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, reg.id).state == "paid"


def test_cancel_course_only_by_the_venue_admin_of_that_course(make, db, staff_client):
    dd, hl, login = staff_client
    hl_course = make.course(hl)
    dd_reg, _ = _paid(make, db, dd)
    admin = login("dd-admin")
    admin.post("/cancelcourseview/form", data={"course_code": hl_course.code, "confirm": "y"})
    db.session.expire_all()
    assert hl_course.cancelled_at is None
    assert login("dd-clerk").get("/cancelcourseview/form").status_code in (302, 403)
    r = admin.post("/cancelcourseview/form",
                   data={"course_code": dd_reg.course.code, "confirm": "y"})
    assert r.status_code == 302
    db.session.expire_all()
    assert dd_reg.state == "cancelled"
    assert db.session.execute(select(Refund.kind)).scalar_one() == "cancelled"
