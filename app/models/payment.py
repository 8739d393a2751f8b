"""Payment slips (繳款單), received payments, reconciliation batches and receipts."""
from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import Model, utcnow


class SlipSerial(Model):
    """Hands out slip serials without locks: one row per issued serial (its id)."""

    __tablename__ = "slip_serial"
    id = Column(Integer, primary_key=True)


class PaymentSlip(Model):
    """The slip issued on admission; its amount is frozen when issued."""

    __tablename__ = "payment_slip"
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=False, index=True)
    registration = relationship("Registration")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    serial = Column(Integer, nullable=False)  # 8-digit serial, unique per slip (SlipSerial)
    virtual_account = Column(String(16), unique=True, nullable=False)
    amount = Column(Integer, nullable=False)
    fee = Column(Integer, nullable=False)
    discount_percent = Column(Integer, nullable=False, default=100)
    discount_identities = Column(String(120), nullable=False, default="")
    materials_fee = Column(Integer, nullable=False, default=0)
    deadline_at = Column(DateTime, nullable=False)  # UTC
    barcode1 = Column(String(9), nullable=False)
    barcode2 = Column(String(16), nullable=False)
    barcode3 = Column(String(15), nullable=False)
    status = Column(String(16), nullable=False, default="open")  # open | paid | void
    issued_at = Column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (UniqueConstraint("venue_id", "serial"),)


class ReconciliationBatch(Model):
    """One imported collection file."""

    __tablename__ = "reconciliation_batch"
    id = Column(Integer, primary_key=True)
    source = Column(String(16), nullable=False)  # bank | store | gateway
    filename = Column(String(255), nullable=False)
    sha256 = Column(String(64), nullable=False, index=True)
    encoding = Column(String(16), nullable=False, default="utf-8")
    imported_at = Column(DateTime, nullable=False, default=utcnow)
    imported_by = Column(String(80), nullable=False, default="system")
    lines = Column(Integer, nullable=False, default=0)
    applied = Column(Integer, nullable=False, default=0)
    duplicates = Column(Integer, nullable=False, default=0)
    exceptions = Column(Integer, nullable=False, default=0)
    reversals = Column(Integer, nullable=False, default=0)
    status = Column(String(16), nullable=False, default="imported")  # imported | rejected
    error = Column(Text, nullable=True)


class Payment(Model):
    """A credit (or reversal) received from the bank, a store or a gateway.

    ``(source, external_serial)`` is the idempotency key: the same serial never counts twice.
    Every received payment ends ``applied`` or ``refunded`` (or waits as an ``exception``)."""

    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("source", "external_serial"),)
    id = Column(Integer, primary_key=True)
    source = Column(String(16), nullable=False)  # bank | store | gateway | counter
    external_serial = Column(String(40), nullable=False)
    kind = Column(String(8), nullable=False, default="credit")  # credit | reversal
    channel = Column(String(16), nullable=False)  # counter|atm|internet|webatm|711|FAM|…
    reference = Column(String(20), nullable=False)  # virtual account / payment reference
    amount = Column(Integer, nullable=False)
    paid_at = Column(DateTime, nullable=True)
    posted_on = Column(Date, nullable=True)
    batch_id = Column(Integer, ForeignKey("reconciliation_batch.id"), nullable=True, index=True)
    batch = relationship("ReconciliationBatch")
    slip_id = Column(Integer, ForeignKey("payment_slip.id"), nullable=True, index=True)
    slip = relationship("PaymentSlip")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=True, index=True)
    venue = relationship("Venue")
    status = Column(String(16), nullable=False)  # applied|exception|reversed|refunded|resolved
    exception_reason = Column(String(32), nullable=True)  # unmatched|amount_mismatch|…
    resolved_by = Column(String(80), nullable=True)
    resolution_note = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Receipt(Model):
    """A numbered receipt (收據) for a paid registration."""

    __tablename__ = "receipt"
    id = Column(Integer, primary_key=True)
    number = Column(String(24), unique=True, nullable=False)
    registration_id = Column(Integer, ForeignKey("registration.id"), unique=True, nullable=False)
    registration = relationship("Registration")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    amount = Column(Integer, nullable=False)
    issued_at = Column(DateTime, nullable=False, default=utcnow)
    issued_by = Column(String(80), nullable=False, default="system")
