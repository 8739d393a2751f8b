"""Receipts (收據): one numbered receipt per paid registration.

Numbers run per venue and ROC year of issue: ``DD-115-000123``.  Numbers are handed out
under a transaction-scoped lock on (venue), so two payments applied at once never get the
same number and the sequence has no gaps.  Callers that hold other locks (reconciliation)
issue receipts *last* in their transaction, so this lock is never held while waiting for
another one.

A receipt stays valid while its registration counts as paid (``paid_at`` set).  When
the bank reverses the payment, the receipt is voided by that (the event is in the audit
trail) but its row and number are kept, so a number is never given out twice; when the
registration is paid again, the same receipt is issued again with the new date.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..models import Payment, PaymentSlip, Receipt, Registration
from . import clock

_LOCK_CLASS = 7_041_116  # advisory-lock class for receipt numbers (second key: venue id)


def number_prefix(venue_code: str, day: dt.date) -> str:
    """``DD-115-`` for the venue DD in ROC year 115."""
    return f"{venue_code}-{clock.roc_year(day.year)}-"


def _lock_numbers(session: Session, venue_id: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:c, :v)"),
                        {"c": _LOCK_CLASS, "v": venue_id})


def next_number(session: Session, venue_id: int, venue_code: str, day: dt.date) -> str:
    """The venue's next receipt number for ``day``'s ROC year (call under the lock)."""
    prefix = number_prefix(venue_code, day)
    last = session.execute(select(func.max(Receipt.number)).where(
        Receipt.venue_id == venue_id, Receipt.number.like(prefix + "%"))).scalar()
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


def issue_receipt(session: Session, reg: Registration, amount: int,
                  issued_by: str = "system") -> Receipt:
    """The registration's receipt, numbered now (an existing one is issued again)."""
    existing = receipt_for(session, reg)
    if existing is not None:
        existing.amount, existing.issued_at = amount, clock.now()
        existing.issued_by = issued_by[:80]
        return existing
    _lock_numbers(session, reg.venue_id)
    number = next_number(session, reg.venue_id, reg.venue.code, clock.taipei_today())
    receipt = Receipt(number=number, registration_id=reg.id, venue_id=reg.venue_id,
                      amount=amount, issued_at=clock.now(), issued_by=issued_by[:80])
    session.add(receipt)
    session.flush()
    return receipt


def receipt_for(session: Session, reg: Registration) -> Receipt | None:
    """The registration's receipt row, valid or not."""
    return session.execute(select(Receipt).where(
        Receipt.registration_id == reg.id)).scalar_one_or_none()


def valid_receipt(session: Session, reg: Registration) -> Receipt | None:
    """The receipt to hand out: only while the registration counts as paid."""
    return receipt_for(session, reg) if reg.paid_at is not None else None


def is_valid(receipt: Receipt) -> bool:
    return receipt.registration.paid_at is not None


def paying_credit(session: Session, reg: Registration) -> Payment | None:
    """The applied credit that paid for ``reg`` (latest first)."""
    return session.execute(
        select(Payment).join(PaymentSlip, Payment.slip_id == PaymentSlip.id)
        .where(PaymentSlip.registration_id == reg.id, Payment.kind == "credit",
               Payment.status == "applied")
        .order_by(Payment.id.desc()).limit(1)).scalar_one_or_none()
