"""Refunds (退費) as their own objects with states, and remittance batches."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from .base import Model, utcnow

REFUND_STATES = ("requested", "approved", "rejected", "remitted")


class Refund(Model):
    __tablename__ = "refund"
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=False, index=True)
    registration = relationship("Registration")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    payment_id = Column(Integer, ForeignKey("payment.id"), nullable=True)
    payment = relationship("Payment")
    kind = Column(String(16), nullable=False, default="citizen")  # citizen | cancelled | late_credit
    amount = Column(Integer, nullable=False)
    percent = Column(Integer, nullable=False, default=100)
    reason = Column(Text, nullable=False, default="")
    bank_code = Column(String(3), nullable=True)
    branch_code = Column(String(4), nullable=True)
    account_enc = Column(Text, nullable=True)  # encrypted account number
    account_holder = Column(String(64), nullable=True)
    state = Column(String(16), nullable=False, default="requested")
    requested_at = Column(DateTime, nullable=False, default=utcnow)
    decided_at = Column(DateTime, nullable=True)
    decided_by = Column(String(80), nullable=True)
    decision_note = Column(Text, nullable=True)
    batch_id = Column(Integer, ForeignKey("remittance_batch.id"), nullable=True)
    batch = relationship("RemittanceBatch")
    remitted_at = Column(DateTime, nullable=True)


class RemittanceBatch(Model):
    __tablename__ = "remittance_batch"
    id = Column(Integer, primary_key=True)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by = Column(String(80), nullable=False)
    count = Column(Integer, nullable=False, default=0)
    total = Column(Integer, nullable=False, default=0)
    remitted_at = Column(DateTime, nullable=True)
