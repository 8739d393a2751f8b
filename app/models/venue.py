"""Venues (場館), their terms (期別) and their discount rules (身分別優惠)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import Model


class Venue(Model):
    """One of the city's cultural venues; every back-office row belongs to one."""

    __tablename__ = "venue"
    id = Column(Integer, primary_key=True)
    code = Column(String(8), unique=True, nullable=False)  # e.g. DD, HL, GQ, TQ, FC
    name = Column(String(64), unique=True, nullable=False)  # Chinese name
    name_en = Column(String(128), nullable=False)
    address = Column(String(200), nullable=False, default="")
    phone = Column(String(32), nullable=False, default="")
    email = Column(String(120), nullable=False, default="")
    # Payment codes assigned by the bank and the convenience-store collector.
    collection_code = Column(String(5), unique=True, nullable=False)  # 企業代號
    store_item_code = Column(String(3), nullable=False)  # 代收項目代號
    check_digit_strategy = Column(String(32), nullable=False, default="amount-weighted-v1")
    # Venue-wide rules
    max_courses_per_term = Column(Integer, nullable=False, default=5)
    payment_days = Column(Integer, nullable=False, default=3)
    posting_grace_days = Column(Integer, nullable=False, default=2)
    allow_discount_stacking = Column(Boolean, nullable=False, default=False)
    refund_policy = Column(String(32), nullable=False, default="default")
    certificate_attendance_percent = Column(Integer, nullable=False, default=75)

    terms = relationship("Term", back_populates="venue", order_by="Term.starts_on")
    discount_rules = relationship("DiscountRule", back_populates="venue")

    def __repr__(self) -> str:
        return self.name


class Term(Model):
    """A venue's term (期別), e.g. 115年春季班."""

    __tablename__ = "term"
    __table_args__ = (UniqueConstraint("venue_id", "code"),)
    id = Column(Integer, primary_key=True)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue", back_populates="terms")
    code = Column(String(16), nullable=False)  # e.g. 115S
    name = Column(String(64), nullable=False)  # e.g. 115年春季班
    name_en = Column(String(64), nullable=False, default="")
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date, nullable=False)
    # Last day on which waitlisted applicants may still be promoted.
    promotion_last_day = Column(Date, nullable=True)
    no_class_days = Column(Text, nullable=False, default="")  # ISO dates, comma separated

    def __repr__(self) -> str:
        return f"{self.venue.name if self.venue else ''} {self.name}".strip()


class DiscountRule(Model):
    """A venue's identity discount: who pays which percentage of the fee."""

    __tablename__ = "discount_rule"
    __table_args__ = (UniqueConstraint("venue_id", "identity"),)
    id = Column(Integer, primary_key=True)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue", back_populates="discount_rules")
    identity = Column(String(32), nullable=False)  # see app.services.identities
    percent = Column(Integer, nullable=False)  # percentage to pay, e.g. 50, 90, 95
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"{self.identity} {self.percent}%"
