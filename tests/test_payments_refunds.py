"""Refunds: the default policy, the citizen's request, the clerk's decision, remittance,
and course cancellation."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Notification, Refund, RemittanceBatch
from app.services import accounts, reconciliation, refunds, registration
from app.services.accounts import FieldError
from app.services.audit import Actor
from app.services.errors import Conflict, DomainError, NotFound
from tests.factories import PASSWORD
from tests.test_payments_helpers import admitted, bank_file, bank_line, count, frozen_clock  # noqa: F401

CLERK = Actor(type="staff", name="clerk")
ACCOUNT = refunds.BankAccount("004", "0123", "123456789012", "王小明")


def _paid(make, db, course=None, **course_kw):
    v = course.venue if course is not None else make.venue()
    course = course or make.course(v, **course_kw)
    reg, slip = admitted(make, course)
    make.commit()
    reconciliation.import_file(db.session, bank_file(bank_line(slip)), "pay.txt")
    db.session.refresh(reg)
    assert reg.state == "paid"
    return reg, slip


def _request(db, reg, **kw):
    args = dict(password=PASSWORD, reason="搬家了", account=ACCOUNT, quoted_amount=None,
                actor=Actor(type="citizen", name=f"citizen:{reg.citizen_id}"))
    args.update(kw)
    return refunds.request_refund(db.session, reg, reg.citizen, **args)


# ---- policy ------------------------------------------------------------------------

class _Course:
    """Just what the policy reads."""

    def __init__(self, first, weekdays, sessions, no_class=""):
        self.first_date, self.weekdays, self.sessions = first, weekdays, sessions
        self.term = type("T", (), {"no_class_days": no_class})()


def test_session_dates_weekly_on_the_weekdays_skipping_no_class_days():
    wed = dt.date(2026, 3, 4)  # a Wednesday
    c = _Course(wed, "1,3", 6, no_class="2026-03-09")
    assert list(refunds.session_dates(c)) == [
        wed, dt.date(2026, 3, 11), dt.date(2026, 3, 16), dt.date(2026, 3, 18),
        dt.date(2026, 3, 23), dt.date(2026, 3, 25)]


def test_default_policy_by_date():
    wed = dt.date(2026, 3, 4)
    c = _Course(wed, "3", 18)  # one third = session 6 = 2026-04-08
    assert refunds.session_date(c, 6) == dt.date(2026, 4, 8)
    assert refunds.default_policy(c, wed - dt.timedelta(days=1)) == 90
    assert refunds.default_policy(c, wed) == 50
    assert refunds.default_policy(c, dt.date(2026, 4, 7)) == 50
    assert refunds.default_policy(c, dt.date(2026, 4, 8)) == 0
    c7 = _Course(wed, "3", 7)  # ceil(7/3) = 3 -> 2026-03-18
    assert refunds.default_policy(c7, dt.date(2026, 3, 17)) == 50
    assert refunds.default_policy(c7, dt.date(2026, 3, 18)) == 0


def test_quote_is_90_percent_before_the_first_class_rounded_half_up(make, db):
    reg, slip = _paid(make, db, fee=2805)
    offer = refunds.quote(db.session, reg)
    assert (offer.paid, offer.percent, offer.amount) == (2805, 90, 2525)  # 2524.5 -> 2525


# ---- request, approve, reject ---------------------------------------------------------

def test_request_then_approve_frees_the_seat_for_the_waitlist(make, db):
    v = make.venue()
    course = make.course(v, quota=1)
    reg, slip = _paid(make, db, course)
    waiting = registration.apply(db.session, course, make.citizen(), None, Actor())
    db.session.commit()
    refund = _request(db, reg)
    db.session.commit()
    assert (reg.state, refund.state, refund.amount, refund.percent) == \
        ("refund_requested", "requested", round(slip.amount * 0.9), 90)
    assert refund.account_enc and "123456789012" not in refund.account_enc
    assert accounts.cipher().decrypt(refund.account_enc) == "123456789012"
    refunds.approve(db.session, refund, CLERK)
    db.session.commit()
    db.session.expire_all()
    assert (reg.state, refund.state, waiting.state) == ("refunded", "approved", "admitted")
    assert course.seats_taken == 1
    events = set(db.session.execute(select(AuditEntry.event)).scalars())
    assert {"refund_requested", "refund_approved"} <= events
    sent = set(db.session.execute(select(Notification.event)
                                  .where(Notification.registration_id == reg.id)).scalars())
    assert {"refund_requested", "refund_approved"} <= sent


def test_reject_puts_the_registration_back_to_paid(make, db):
    reg, _ = _paid(make, db)
    paid_at = reg.paid_at
    refund = _request(db, reg)
    refunds.reject(db.session, refund, CLERK, "not allowed")
    db.session.commit()
    assert (reg.state, refund.state, reg.paid_at) == ("paid", "rejected", paid_at)
    with pytest.raises(Conflict):
        refunds.approve(db.session, refund, CLERK)


def test_request_needs_the_password_and_a_valid_account(make, db):
    reg, _ = _paid(make, db)
    with pytest.raises(FieldError) as err:
        _request(db, reg, password="wrong-password-1")
    assert err.value.field == "password"
    with pytest.raises(FieldError) as err:
        refunds.clean_account("4", "0123", "123456789", "王")
    assert err.value.field == "bank_code"
    with pytest.raises(FieldError) as err:
        refunds.clean_account("004", "0123", "12-34", "王")
    assert err.value.field == "account_number"
    assert refunds.clean_account(" 004", "0123", "1234-5678 90", " 王  小明 ").holder == "王 小明"
    db.session.rollback()
    db.session.refresh(reg)
    assert reg.state == "paid" and count(db.session, Refund) == 0


def test_a_tampered_amount_is_refused(make, db):
    reg, slip = _paid(make, db)
    with pytest.raises(DomainError) as err:
        _request(db, reg, quoted_amount=slip.amount)  # asks for 100 %, the policy gives 90 %
    assert err.value.code == "amount_changed"
    db.session.rollback()
    assert count(db.session, Refund) == 0
    refund = _request(db, reg, quoted_amount=round(slip.amount * 0.9))
    assert refund.amount == round(slip.amount * 0.9)


def test_another_citizens_registration_is_not_found(make, db):
    reg, _ = _paid(make, db)
    stranger = make.citizen(name="李四")
    with pytest.raises(NotFound):
        refunds.request_refund(db.session, reg, stranger, password=PASSWORD, reason="x",
                               account=ACCOUNT, quoted_amount=None, actor=Actor())


def test_nothing_refundable_after_a_third_of_the_sessions(make, db, frozen_clock):
    reg, _ = _paid(make, db)
    course = reg.course
    late = refunds.session_date(course, 6)
    frozen_clock(dt.datetime.combine(late, dt.time(4, 0)))  # 12:00 Taipei on that day
    with pytest.raises(DomainError) as err:
        _request(db, reg)
    assert err.value.code == "nothing_refundable"


def test_a_refund_never_exceeds_what_was_paid(make, db):
    reg, slip = _paid(make, db)
    with pytest.raises(Conflict):
        refunds.create_automatic(db.session, reg, "exception", slip.amount + 1, CLERK)
    refunds.create_automatic(db.session, reg, "exception", slip.amount, CLERK)
    with pytest.raises(Conflict):
        refunds.create_automatic(db.session, reg, "exception", 1, CLERK)


# ---- remittance ------------------------------------------------------------------------

def test_remittance_batch_csv_then_remitted(make, db):
    reg, slip = _paid(make, db)
    refund = _request(db, reg)
    refunds.approve(db.session, refund, CLERK)
    db.session.commit()
    assert refunds.remittable(db.session, reg.venue_id) == [refund]
    batch = refunds.create_remittance_batch(db.session, reg.venue_id, [refund], CLERK)
    text = refunds.remittance_csv(db.session, batch, CLERK)
    db.session.commit()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [list(refunds.CSV_HEADER),
                    ["004", "0123", "123456789012", "王小明", str(refund.amount),
                     f"R{refund.id:08d} {reg.entry_no}"]]
    assert (batch.count, batch.total) == (1, refund.amount)
    with pytest.raises(Conflict):  # already in a batch
        refunds.create_remittance_batch(db.session, reg.venue_id, [refund], CLERK)
    db.session.rollback()
    assert refunds.mark_remitted(db.session, batch, CLERK) == 1
    db.session.commit()
    db.session.refresh(refund)
    assert refund.state == "remitted" and refund.remitted_at is not None
    with pytest.raises(Conflict):
        refunds.mark_remitted(db.session, batch, CLERK)
    events = set(db.session.execute(select(AuditEntry.event)).scalars())
    assert {"remittance_batch_created", "remittance_exported", "refund_remitted"} <= events


def test_batch_refuses_refunds_without_account_or_of_another_venue(make, db):
    reg, slip = _paid(make, db)
    auto = refunds.create_automatic(db.session, reg, "exception", 100, CLERK)
    db.session.commit()
    assert refunds.remittable(db.session, reg.venue_id) == []
    with pytest.raises(Conflict):
        refunds.create_remittance_batch(db.session, reg.venue_id, [auto], CLERK)
    db.session.rollback()
    refunds.give_account(db.session, auto, reg.citizen, password=PASSWORD, account=ACCOUNT,
                         actor=Actor())
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    make.commit()
    with pytest.raises(Conflict):
        refunds.create_remittance_batch(db.session, other.id, [auto], CLERK)
    db.session.rollback()
    assert refunds.remittable(db.session, reg.venue_id) == [auto]
    assert count(db.session, RemittanceBatch) == 0


# ---- course cancellation -----------------------------------------------------------------

def test_cancel_course_refunds_paid_in_full_and_cancels_the_rest(make, db):
    v = make.venue()
    course = make.course(v, quota=3)
    paid, paid_slip = _paid(make, db, course)
    asking, _ = _paid(make, db, course)
    _request(db, asking)
    unpaid, unpaid_slip = admitted(make, course)
    make.commit()
    counts = refunds.cancel_course(db.session, course, CLERK)
    db.session.commit()
    assert counts == {"refunded": 2, "cancelled": 3}
    db.session.expire_all()
    assert {r.state for r in (paid, asking, unpaid)} == {"cancelled"}
    assert unpaid_slip.status == "void" and course.cancelled_at is not None
    assert course.seats_taken == 0
    by_reg = {r.registration_id: r for r in db.session.execute(
        select(Refund).where(Refund.kind == "cancelled")).scalars()}
    assert by_reg[paid.id].amount == paid_slip.amount and by_reg[paid.id].state == "approved"
    assert by_reg[asking.id].amount == paid_slip.amount  # full, not the 90 % asked for
    assert by_reg[asking.id].account_enc is not None  # the account given with the request
    superseded = db.session.execute(select(Refund).where(Refund.kind == "citizen")).scalar_one()
    assert superseded.state == "rejected"
    assert count(db.session, Notification, Notification.event == "course_cancelled") >= 3
    assert refunds.cancel_course(db.session, course, CLERK) == {"refunded": 0, "cancelled": 0}
    # money arriving afterwards for the cancelled course is refunded in full
    reconciliation.import_file(db.session, bank_file(bank_line(unpaid_slip)), "late.txt")
    late = db.session.execute(select(Refund).where(Refund.kind == "late_credit")).scalar_one()
    assert late.amount == unpaid_slip.amount
