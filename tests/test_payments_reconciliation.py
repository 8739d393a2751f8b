"""Automatic reconciliation (自動對帳): each case of payments.md with its exact outcome."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Notification, Payment, Receipt, ReconciliationBatch, Refund
from app.services import clock, receipts, reconciliation, registration
from app.services.audit import Actor
from app.services.collection_files import format_bank_file
from tests.test_payments_helpers import (  # noqa: F401  (fixtures)
    admitted, bank_file, bank_line, count, frozen_clock, money_state, reversible, store_file,
    store_line,
)


def _import(db, raw, name="bank.txt"):
    return reconciliation.import_file(db.session, raw, name)


def test_credit_applies_pays_receipts_and_notifies(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    batch = _import(db, bank_file(bank_line(slip)))
    assert (batch.status, batch.lines, batch.applied, batch.exceptions) == ("imported", 1, 1, 0)
    db.session.refresh(reg)
    db.session.refresh(slip)
    assert reg.state == "paid" and slip.status == "paid"
    payment = db.session.execute(select(Payment)).scalar_one()
    assert (payment.status, payment.slip_id, payment.venue_id, payment.channel) == \
        ("applied", slip.id, v.id, "atm")
    receipt = db.session.execute(select(Receipt)).scalar_one()
    roc = clock.taipei_today().year - 1911
    assert receipt.number == f"DD-{roc}-000001" and receipt.amount == slip.amount
    assert count(db.session, Notification, Notification.event == "payment_received",
                 Notification.registration_id == reg.id) >= 1


def test_receipt_numbers_run_per_venue(make, db):
    dd, hl = make.venue(), make.venue(code="HL", name="葫蘆墩文化中心")
    slips = [admitted(make, make.course(dd))[1] for _ in range(2)]
    slips.append(admitted(make, make.course(hl))[1])
    make.commit()
    _import(db, bank_file(*(bank_line(s) for s in slips)))
    numbers = sorted(db.session.execute(select(Receipt.number)).scalars())
    roc = clock.taipei_today().year - 1911
    assert numbers == [f"DD-{roc}-000001", f"DD-{roc}-000002", f"HL-{roc}-000001"]


def test_same_file_twice_and_same_serial_in_two_files_change_nothing(make, db):
    v = make.venue()
    _, slip1 = admitted(make, make.course(v))
    _, slip2 = admitted(make, make.course(v))
    make.commit()
    line1 = bank_line(slip1)
    raw = bank_file(line1, bank_line(slip2))
    first = _import(db, raw)
    assert first.applied == 2
    before = money_state(db.session)
    again = _import(db, raw)
    assert (again.status, again.applied, again.duplicates) == ("duplicate", 0, 2)
    # the same serial in another file (another header, other lines around it)
    other = format_bank_file([line1], header_text="H另一個檔案").encode()
    third = _import(db, other, "other.txt")
    assert (third.applied, third.duplicates) == (0, 1)
    assert money_state(db.session) == before


def test_store_file_in_big5_applies(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    raw = store_file(store_line(slip, chain="FAM"), encoding="cp950")
    assert "超商".encode("cp950") in raw  # the header really is Big5
    batch = _import(db, raw, "store-big5.txt")
    assert (batch.source, batch.encoding, batch.applied) == ("store", "cp950", 1)
    db.session.refresh(reg)
    assert reg.state == "paid"
    assert db.session.execute(select(Payment.channel)).scalar_one() == "FAM"


def test_wrong_amount_is_kept_as_an_exception(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    batch = _import(db, bank_file(bank_line(slip, slip.amount - 100)))
    assert (batch.applied, batch.exceptions) == (0, 1)
    payment = db.session.execute(select(Payment)).scalar_one()
    assert (payment.status, payment.exception_reason, payment.slip_id, payment.venue_id) == \
        ("exception", "amount_mismatch", slip.id, v.id)
    db.session.refresh(reg)
    assert reg.state == "admitted"
    assert count(db.session, Receipt) == 0
    # a clerk gives it back in full
    refund = reconciliation.refund_exception(db.session, payment, Actor(type="staff", name="clerk"))
    db.session.commit()
    assert (refund.kind, refund.amount, refund.state, payment.status) == \
        ("exception", slip.amount - 100, "approved", "refunded")


def test_unknown_account_is_kept_for_the_venue(make, db):
    v = make.venue()
    make.commit()
    unknown = v.collection_code + "999999990"
    batch = _import(db, bank_file(bank_line(unknown, 1500)))
    assert (batch.applied, batch.exceptions) == (0, 1)
    payment = db.session.execute(select(Payment)).scalar_one()
    assert (payment.status, payment.exception_reason, payment.slip_id, payment.venue_id) == \
        ("exception", "unmatched", None, v.id)
    reconciliation.close_exception(db.session, payment, Actor(type="staff", name="clerk"),
                                   "returned by the bank")
    db.session.commit()
    assert payment.status == "resolved"


def test_unmatched_credit_matched_by_a_clerk(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    _import(db, bank_file(bank_line(v.collection_code + "000000000", slip.amount)))
    payment = db.session.execute(select(Payment)).scalar_one()
    outcome = reconciliation.match_exception(db.session, payment, reg.entry_no,
                                             Actor(type="staff", name="clerk"))
    db.session.commit()
    db.session.refresh(reg)
    assert (outcome, payment.status, reg.state) == ("applied", "applied", "paid")


def test_malformed_line_rejects_the_whole_file(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    text = format_bank_file([bank_line(slip), bank_line(slip, 999)])
    lines = text.split("\n")
    lines[2] = lines[2][:40] + "X" + lines[2][41:]  # line 3: the sign is not + or -
    before = money_state(db.session)
    batch = _import(db, "\n".join(lines).encode())
    assert batch.status == "rejected" and batch.applied == 0
    assert reconciliation.rejection_lines(batch) == ["Line 3: Unknown sign 'X'; expected + or -."]
    assert money_state(db.session) == before
    assert db.session.execute(select(AuditEntry.event).order_by(AuditEntry.id.desc())
                              .limit(1)).scalar_one() == "reconciliation_rejected"


def test_bad_trailer_rejects_the_whole_file(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    text = format_bank_file([bank_line(slip)])
    lines = text.rstrip("\n").split("\n")
    lines[-1] = "T00000002" + lines[-1][9:]  # says 2 records, there is 1
    before = money_state(db.session)
    batch = _import(db, ("\n".join(lines) + "\n").encode())
    assert batch.status == "rejected"
    assert reconciliation.rejection_lines(batch) == [
        "Line 3: The trailer says 2 detail lines, the file has 1."]
    assert money_state(db.session) == before
    db.session.refresh(reg)
    assert reg.state == "admitted"


def test_reversal_within_the_deadline_reopens_the_slip(make, db, reversible):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    credit = bank_line(slip)
    _import(db, bank_file(credit))
    batch = _import(db, bank_file(bank_line(slip, sign="-")), "reversal.txt")
    assert (batch.reversals, batch.exceptions) == (1, 0)
    db.session.expire_all()
    original, reversal = db.session.execute(select(Payment).order_by(Payment.id)).scalars().all()
    assert (original.status, reversal.status, reversal.kind) == ("reversed", "applied", "reversal")
    assert (reg.state, slip.status, reg.paid_at) == ("admitted", "open", None)
    voided = receipts.receipt_for(db.session, reg)
    assert receipts.valid_receipt(db.session, reg) is None  # the receipt is void
    # paying again works; the receipt is issued again under its number (never reused)
    _import(db, bank_file(bank_line(slip)), "again.txt")
    db.session.expire_all()
    assert reg.state == "paid" and count(db.session, Receipt) == 1
    assert receipts.valid_receipt(db.session, reg).number == voided.number


def test_reversal_after_the_deadline_forfeits_and_frees_the_seat(make, db, reversible,
                                                                 frozen_clock):
    v = make.venue()
    course = make.course(v, quota=1)
    reg, slip = admitted(make, course)
    waiting = registration.apply(db.session, course, make.citizen(), None, Actor())
    make.commit()
    assert waiting.state == "waitlisted"
    _import(db, bank_file(bank_line(slip)))
    frozen_clock(reg.deadline_at + dt.timedelta(hours=1))
    _import(db, bank_file(bank_line(slip, sign="-")), "reversal.txt")
    db.session.expire_all()
    assert (reg.state, slip.status) == ("forfeited", "void")
    assert receipts.valid_receipt(db.session, reg) is None
    assert waiting.state == "admitted"  # the freed seat went to the waitlist
    assert course.seats_taken == 1


def test_reversal_without_its_credit_is_an_exception(make, db):
    v = make.venue()
    _, slip = admitted(make, make.course(v))
    make.commit()
    batch = _import(db, bank_file(bank_line(slip, sign="-")))
    payment = db.session.execute(select(Payment)).scalar_one()
    assert (batch.reversals, payment.status, payment.exception_reason) == \
        (1, "exception", "unmatched_reversal")


def test_double_payment_is_refunded_automatically(make, db):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    _import(db, bank_file(bank_line(slip)))
    batch = _import(db, store_file(store_line(slip)), "store.txt")
    assert (batch.applied, batch.exceptions) == (0, 1)
    second = db.session.execute(select(Payment).where(Payment.source == "store")).scalar_one()
    assert (second.status, second.exception_reason) == ("refunded", "double_payment")
    refund = db.session.execute(select(Refund)).scalar_one()
    assert (refund.kind, refund.amount, refund.state, refund.payment_id) == \
        ("double_payment", slip.amount, "approved", second.id)
    db.session.refresh(reg)
    assert reg.state == "paid" and count(db.session, Receipt) == 1


def test_late_credit_after_forfeit_with_seat_free_reinstates(make, db):
    v = make.venue()
    course = make.course(v, quota=1)
    reg, slip = admitted(make, course)
    registration.forfeit(db.session, reg, Actor(), note="deadline passed")
    make.commit()
    assert course.seats_taken == 0 and slip.status == "void"
    batch = _import(db, store_file(store_line(slip)), "late.txt")
    assert batch.applied == 1
    db.session.expire_all()
    assert (reg.state, slip.status, course.seats_taken) == ("paid", "paid", 1)
    assert count(db.session, Refund) == 0 and count(db.session, Receipt) == 1


def test_late_credit_after_forfeit_with_seat_taken_is_refunded(make, db):
    v = make.venue()
    course = make.course(v, quota=1)
    reg, slip = admitted(make, course)
    other = registration.apply(db.session, course, make.citizen(), None, Actor())
    registration.forfeit(db.session, reg, Actor(), note="deadline passed")
    make.commit()
    assert other.state == "admitted"  # promoted into the freed seat
    batch = _import(db, store_file(store_line(slip)), "late.txt")
    assert (batch.applied, batch.exceptions) == (0, 0)
    db.session.expire_all()
    assert reg.state == "forfeited" and course.seats_taken == 1
    payment = db.session.execute(select(Payment)).scalar_one()
    refund = db.session.execute(select(Refund)).scalar_one()
    assert (payment.status, payment.exception_reason) == ("refunded", "late_credit")
    assert (refund.kind, refund.amount, refund.state, refund.percent) == \
        ("late_credit", slip.amount, "approved", 100)
    assert count(db.session, Receipt) == 0


def test_credit_for_a_void_slip_of_an_admitted_registration_is_matched(make, db):
    from app.services import payments

    v = make.venue()
    reg, old = admitted(make, make.course(v))
    new = payments.issue_slip(db.session, reg)  # a reissued slip voids the old one
    make.commit()
    db.session.refresh(old)
    assert old.status == "void" and new.status == "open"
    _import(db, bank_file(bank_line(old)))
    db.session.expire_all()
    assert (reg.state, old.status, new.status) == ("paid", "paid", "void")


def test_every_payment_ends_applied_or_refunded_or_waits_for_a_clerk(make, db):
    v = make.venue()
    slips = [admitted(make, make.course(v))[1] for _ in range(3)]
    make.commit()
    _import(db, bank_file(bank_line(slips[0]), bank_line(slips[0]), bank_line(slips[1], 1),
                          bank_line("99999000000001", 5)))
    statuses = db.session.execute(select(Payment.status, Payment.exception_reason)
                                  .order_by(Payment.id)).all()
    assert [tuple(s) for s in statuses] == [("applied", None), ("refunded", "double_payment"),
                                            ("exception", "amount_mismatch"),
                                            ("exception", "unmatched")]


def test_inbox_imports_and_moves_files(make, db, app, tmp_path):
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_bytes(bank_file(bank_line(slip)))
    (inbox / "b.txt").write_bytes(b"garbage\n")
    (inbox / "c.txt.part").write_bytes(b"still being written")
    assert reconciliation.import_inbox(db.session, inbox) == 2
    assert reconciliation.import_inbox(db.session, inbox) == 0
    assert [p.name for p in inbox.iterdir() if p.is_file()] == ["c.txt.part"]
    assert len(list((inbox / "done").iterdir())) == 1
    assert len(list((inbox / "rejected").iterdir())) == 1
    db.session.refresh(reg)
    assert reg.state == "paid"


def test_cli_import(make, db, app, tmp_path):
    from app.payments_cli import register_payments_cli

    if "payments" not in app.cli.commands:
        register_payments_cli(app)
    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    path = tmp_path / "bank.txt"
    path.write_bytes(bank_file(bank_line(slip)))
    result = app.test_cli_runner().invoke(args=["payments", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 applied" in result.output
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"D123\n")
    result = app.test_cli_runner().invoke(args=["payments", "import", str(bad)])
    assert result.exit_code == 1 and "rejected" in result.output


# ---- concurrency ----------------------------------------------------------------------

def test_two_overlapping_files_at_once_credit_each_payment_once(make, db, app):
    v = make.venue()
    course = make.course(v, quota=40)
    slips = [admitted(make, course)[1] for _ in range(24)]
    make.commit()
    lines = [bank_line(s) for s in slips]
    # file A: lines 0..15, file B: lines 8..23, in another order (reversed)
    raws = [bank_file(*lines[:16]), bank_file(*reversed(lines[8:]))]
    barrier = threading.Barrier(2)
    results, errors = [None, None], []

    def run(i):
        try:
            with app.app_context():
                from app.extensions import db as _db

                barrier.wait()
                batch = reconciliation.import_file(_db.session, raws[i], f"f{i}.txt")
                results[i] = (batch.applied, batch.duplicates)
                _db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    applied = sum(r[0] for r in results)
    assert applied == 24, results  # each of the 24 payments credited exactly once
    assert sum(r[1] for r in results) == 8
    db.session.expire_all()
    assert count(db.session, Payment) == 24
    assert count(db.session, Payment, Payment.status == "applied") == 24
    assert count(db.session, Receipt) == 24
    assert len(set(db.session.execute(select(Receipt.number)).scalars())) == 24
    assert count(db.session, Refund) == 0
    notified = db.session.execute(select(Notification.registration_id, Notification.channel)
                                  .where(Notification.event == "payment_received")).all()
    assert len({r for r, _ in notified}) == 24 and len(notified) == len(set(notified))
    assert count(db.session, ReconciliationBatch) == 2


def test_counter_payment_goes_through_the_same_path(make, db):
    from app.services import payments
    from app.services.errors import Conflict

    v = make.venue()
    reg, slip = admitted(make, make.course(v))
    make.commit()
    clerk = Actor(type="staff", name="clerk")
    receipt = payments.record_counter_payment(db.session, reg, clerk)
    db.session.commit()
    assert reg.state == "paid" and receipt.number.startswith("DD-")
    payment = db.session.execute(select(Payment)).scalar_one()
    assert (payment.source, payment.channel, payment.external_serial, payment.status) == \
        ("counter", "cash", f"slip-{slip.id}", "applied")
    with pytest.raises(Conflict):  # paid already: nothing to take at the counter
        payments.record_counter_payment(db.session, reg, clerk)
    db.session.rollback()
    assert count(db.session, Payment) == 1


def test_demo_money_is_idempotent(make, db):
    from app.payments_cli import seed_payments_demo
    from tests.factories import PASSWORD

    v = make.venue()
    course = make.course(v, quota=30)
    for _ in range(10):
        admitted(make, course)
    make.commit()
    lines = seed_payments_demo(db.session, password=PASSWORD)
    assert lines[0] == "demo-bank.txt: 6 applied, 2 exceptions", lines
    states = sorted(db.session.execute(select(Refund.state)).scalars())
    assert states == ["approved", "rejected", "remitted", "requested"]
    before = money_state(db.session)
    assert seed_payments_demo(db.session, password=PASSWORD) == ["Demo payments already loaded."]
    assert money_state(db.session) == before
