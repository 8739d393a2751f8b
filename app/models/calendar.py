"""Term calendars: closures (停課: typhoon days, maintenance), attendance, class broadcasts
and class transfers (轉班)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import Model, utcnow


class Closure(Model):
    """A day without class, added after the term was published: for one course, or for
    the whole venue (course_id NULL), e.g. a typhoon day.  Affected sessions move to the
    end of the course."""

    __tablename__ = "closure"
    __table_args__ = (UniqueConstraint("venue_id", "course_id", "day"),)
    id = Column(Integer, primary_key=True)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    course_id = Column(Integer, ForeignKey("course.id"), nullable=True, index=True)
    course = relationship("Course")
    day = Column(Date, nullable=False)
    reason = Column(String(200), nullable=False)
    created_by = Column(String(80), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Attendance(Model):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("registration_id", "session_date"),)
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("registration.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    registration = relationship("Registration")
    session_date = Column(Date, nullable=False)
    present = Column(Boolean, nullable=False, default=True)
    recorded_by = Column(String(80), nullable=False)
    recorded_at = Column(DateTime, nullable=False, default=utcnow)


class Broadcast(Model):
    """A message a clerk sent to everyone in a class, or in all classes on a date."""

    __tablename__ = "broadcast"
    id = Column(Integer, primary_key=True)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    course_id = Column(Integer, ForeignKey("course.id"), nullable=True)
    course = relationship("Course")
    day = Column(Date, nullable=True)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    recipients = Column(Integer, nullable=False, default=0)
    created_by = Column(String(80), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Transfer(Model):
    """轉班: a paid learner asks to move to another course of the same fee."""

    __tablename__ = "transfer"
    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=False, index=True)
    registration = relationship("Registration", foreign_keys=[registration_id])
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    to_course_id = Column(Integer, ForeignKey("course.id"), nullable=False)
    to_course = relationship("Course")
    state = Column(String(16), nullable=False, default="requested")  # requested|approved|rejected
    reason = Column(Text, nullable=False, default="")
    requested_at = Column(DateTime, nullable=False, default=utcnow)
    decided_by = Column(String(80), nullable=True)
    decided_at = Column(DateTime, nullable=True)
    new_registration_id = Column(Integer, ForeignKey("registration.id"), nullable=True)
