"""Registrations (報名) and their recorded state transitions."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import relationship

from .base import Model, utcnow

#: States that hold or wait for a seat: a learner may have one of these per course.
ACTIVE_STATES = ("applied", "admitted", "waitlisted", "paid", "refund_requested")
#: States that occupy a seat (count against the quota).
SEATED_STATES = ("admitted", "paid", "refund_requested", "completed")

_active_sql = "state IN ('applied','admitted','waitlisted','paid','refund_requested')"


class Registration(Model):
    __tablename__ = "registration"
    __table_args__ = (
        # One active registration per learner per course, enforced by the database.
        Index("uq_registration_active", "learner_id", "course_id", unique=True,
              postgresql_where=text(_active_sql), sqlite_where=text(_active_sql)),
        Index("ix_registration_course_state", "course_id", "state"),
        Index("ix_registration_term_learner", "term_id", "learner_id"),
    )
    id = Column(Integer, primary_key=True)
    entry_no = Column(String(20), unique=True, nullable=False)  # public 報名序號
    course_id = Column(Integer, ForeignKey("course.id"), nullable=False)
    course = relationship("Course")
    phase_id = Column(Integer, ForeignKey("phase.id"), nullable=True, index=True)
    phase = relationship("Phase")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    term_id = Column(Integer, ForeignKey("term.id"), nullable=False)
    citizen_id = Column(Integer, ForeignKey("citizen.id"), nullable=False, index=True)
    citizen = relationship("Citizen")
    learner_id = Column(Integer, ForeignKey("learner.id"), nullable=False)
    learner = relationship("Learner")
    state = Column(String(20), nullable=False, default="applied")
    tier = Column(Integer, nullable=False, default=0)
    ticket = Column(String(64), nullable=True)
    # Waitlist order key: lower goes first.  (phase seq, order within phase).
    waitlist_key = Column(BigInteger, nullable=True, index=True)
    channel = Column(String(16), nullable=False, default="online")  # online | counter
    applied_at = Column(DateTime, nullable=False, default=utcnow)
    admitted_at = Column(DateTime, nullable=True)
    deadline_at = Column(DateTime, nullable=True)  # UTC
    paid_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)  # withdrawn/forfeited/refunded/cancelled
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    events = relationship("RegistrationEvent", back_populates="registration",
                          order_by="RegistrationEvent.id")

    def __repr__(self) -> str:
        return self.entry_no


class RegistrationEvent(Model):
    """One recorded transition: from, to, when, who, why."""

    __tablename__ = "registration_event"
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("registration.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    registration = relationship("Registration", back_populates="events")
    from_state = Column(String(20), nullable=True)
    to_state = Column(String(20), nullable=False)
    at = Column(DateTime, nullable=False, default=utcnow)
    actor = Column(String(80), nullable=False)  # citizen:12, staff:alice, system
    note = Column(Text, nullable=True)
