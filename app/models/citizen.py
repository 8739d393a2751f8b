"""Citizen accounts (研習之友), their learners, identity claims and one-time codes.

Citizens are not back-office users: they live in their own table and log in on the
public site.  A citizen registers *learners*: themself (created with the account) and,
for children's classes, family members.  National ID numbers are stored encrypted with
a keyed hash for look-ups (``specs/privacy.md``).
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from .base import Model, utcnow


class Citizen(Model):
    __tablename__ = "citizen"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    national_id_enc = Column(Text, nullable=False)
    national_id_hash = Column(String(64), unique=True, nullable=False)
    birth_date = Column(Date, nullable=False)
    phone = Column(String(20), nullable=False)
    email = Column(String(254), unique=True, nullable=False)
    password_hash = Column(String(256), nullable=False)
    locale = Column(String(16), nullable=False, default="zh_Hant_TW")
    notify_email = Column(Boolean, nullable=False, default=True)
    notify_sms = Column(Boolean, nullable=False, default=True)
    email_verified_at = Column(DateTime, nullable=True)
    phone_verified_at = Column(DateTime, nullable=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime, nullable=True)
    session_version = Column(Integer, nullable=False, default=1)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by_staff = Column(String(64), nullable=True)  # counter sign-up: the clerk
    consent_at = Column(DateTime, nullable=True)

    learners = relationship("Learner", back_populates="citizen", order_by="Learner.id")

    @property
    def self_learner(self):
        return next((l for l in self.learners if l.relation == "self"), None)

    def __repr__(self) -> str:
        return f"Citizen #{self.id}"


class Learner(Model):
    """The person who attends: the account holder (relation ``self``) or a family member."""

    __tablename__ = "learner"
    id = Column(Integer, primary_key=True)
    citizen_id = Column(Integer, ForeignKey("citizen.id", ondelete="CASCADE"), nullable=False, index=True)
    citizen = relationship("Citizen", back_populates="learners")
    relation = Column(String(16), nullable=False, default="self")  # self | child | family
    name = Column(String(64), nullable=False)
    birth_date = Column(Date, nullable=False)
    national_id_enc = Column(Text, nullable=True)
    national_id_hash = Column(String(64), nullable=True, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"Learner #{self.id}"


class IdentityClaim(Model):
    """A claimed identity for discounts (低收入戶, 身心障礙 …) with its proof file.

    Identities that need proof count only once a clerk of that venue verified them."""

    __tablename__ = "identity_claim"
    id = Column(Integer, primary_key=True)
    citizen_id = Column(Integer, ForeignKey("citizen.id", ondelete="CASCADE"), nullable=False, index=True)
    citizen = relationship("Citizen")
    learner_id = Column(Integer, ForeignKey("learner.id", ondelete="CASCADE"), nullable=True)
    learner = relationship("Learner")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    identity = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False, default="claimed")  # claimed|verified|rejected
    proof_path = Column(String(255), nullable=True)  # relative to UPLOAD_DIR
    proof_mime = Column(String(64), nullable=True)
    proof_name = Column(String(200), nullable=True)
    claimed_at = Column(DateTime, nullable=False, default=utcnow)
    decided_at = Column(DateTime, nullable=True)
    decided_by = Column(String(64), nullable=True)
    note = Column(String(200), nullable=True)


class OneTimeCode(Model):
    """E-mail verification tokens and SMS one-time codes, stored hashed."""

    __tablename__ = "one_time_code"
    id = Column(Integer, primary_key=True)
    citizen_id = Column(Integer, ForeignKey("citizen.id", ondelete="CASCADE"), nullable=False, index=True)
    purpose = Column(String(16), nullable=False)  # email | sms | reset
    code_hash = Column(String(64), nullable=False)
    expires_at = Column(DateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_at = Column(DateTime, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
