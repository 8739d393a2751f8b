"""Courses (研習班), their registration flows (報名階段) and flow templates."""
from __future__ import annotations

from sqlalchemy import (
    Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Integer, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from .base import Model, utcnow

PHASE_MODES = ("first_come", "lottery")
ELIGIBILITIES = ("everyone", "senior", "returning", "identity")


class Course(Model):
    """A workshop course.  ``seats_taken`` counts admitted-or-paid registrations and is
    only ever changed by the conditional updates in ``app.services.seats``."""

    __tablename__ = "course"
    __table_args__ = (
        CheckConstraint("seats_taken >= 0 AND seats_taken <= quota", name="ck_course_seats"),
    )
    id = Column(Integer, primary_key=True)
    code = Column(String(16), unique=True, nullable=False)  # e.g. DD115A001
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    term_id = Column(Integer, ForeignKey("term.id"), nullable=False, index=True)
    term = relationship("Term")
    title = Column(String(120), nullable=False)
    title_en = Column(String(160), nullable=False, default="")
    category = Column(String(32), nullable=False, index=True)
    teacher = Column(String(64), nullable=False)
    description = Column(Text, nullable=False, default="")
    room = Column(String(64), nullable=False, default="")
    weekdays = Column(String(16), nullable=False)  # ISO weekdays, e.g. "1,3" = Mon, Wed
    starts_at = Column(String(5), nullable=False)  # "HH:MM", Asia/Taipei
    ends_at = Column(String(5), nullable=False)
    first_date = Column(Date, nullable=False)
    last_date = Column(Date, nullable=False)
    sessions = Column(Integer, nullable=False)
    quota = Column(Integer, nullable=False)  # 召生數
    min_enrolment = Column(Integer, nullable=False, default=1)
    fee = Column(Integer, nullable=False)  # NT$, whole dollars
    materials_fee = Column(Integer, nullable=False, default=0)
    age_min = Column(Integer, nullable=True)
    age_max = Column(Integer, nullable=True)
    series_code = Column(String(32), nullable=True, index=True)
    predecessor_series = Column(String(32), nullable=True)  # for 舊生 discounts
    cancelled_at = Column(DateTime, nullable=True)
    seats_taken = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    phases = relationship(
        "Phase", back_populates="course", order_by="Phase.seq", cascade="all, delete-orphan"
    )

    @property
    def seats_left(self) -> int:
        return max(self.quota - (self.seats_taken or 0), 0)

    def __repr__(self) -> str:
        return f"{self.code} {self.title}"


class Phase(Model):
    """One phase of a course's registration flow.

    The lottery fields follow ``specs/lottery.md``: ``seed_hex`` stays secret until
    the draw, ``commitment`` is published when the phase is created and never changes.
    """

    __tablename__ = "phase"
    __table_args__ = (
        UniqueConstraint("course_id", "seq"),
        CheckConstraint("seat_cap IS NULL OR (seats_filled >= 0 AND seats_filled <= seat_cap)",
                        name="ck_phase_cap"),
    )
    id = Column(Integer, primary_key=True)
    course_id = Column(Integer, ForeignKey("course.id", ondelete="CASCADE"), nullable=False, index=True)
    course = relationship("Course", back_populates="phases")
    seq = Column(Integer, nullable=False)  # 1, 2, 3 …
    mode = Column(String(16), nullable=False)  # first_come | lottery
    eligibility = Column(String(16), nullable=False, default="everyone")
    identity = Column(String(32), nullable=True)  # when eligibility == identity
    seat_cap = Column(Integer, nullable=True)
    seats_filled = Column(Integer, nullable=False, default=0)
    opens_at = Column(DateTime, nullable=False)  # UTC
    closes_at = Column(DateTime, nullable=False)  # UTC
    auto_draw = Column(Boolean, nullable=False, default=True)
    # Lottery
    seed_hex = Column(String(64), nullable=True)
    commitment = Column(String(64), nullable=True)
    beacon = Column(String(200), nullable=True)
    drawn_at = Column(DateTime, nullable=True)
    drawn_by = Column(String(64), nullable=True)
    seats_at_draw = Column(Integer, nullable=True)
    draw_record = Column(Text, nullable=True)  # the published JSON, frozen

    def __repr__(self) -> str:
        return f"{self.course.code if self.course else ''}#{self.seq} {self.mode}"


class FlowTemplate(Model):
    """A saved registration flow a venue applies to many courses at once."""

    __tablename__ = "flow_template"
    __table_args__ = (UniqueConstraint("venue_id", "name"),)
    id = Column(Integer, primary_key=True)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    name = Column(String(64), nullable=False)
    phases = relationship(
        "FlowTemplatePhase", back_populates="template", order_by="FlowTemplatePhase.seq",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return self.name


class FlowTemplatePhase(Model):
    __tablename__ = "flow_template_phase"
    __table_args__ = (UniqueConstraint("template_id", "seq"),)
    id = Column(Integer, primary_key=True)
    template_id = Column(Integer, ForeignKey("flow_template.id", ondelete="CASCADE"), nullable=False)
    template = relationship("FlowTemplate", back_populates="phases")
    seq = Column(Integer, nullable=False)
    mode = Column(String(16), nullable=False)
    eligibility = Column(String(16), nullable=False, default="everyone")
    identity = Column(String(32), nullable=True)
    seat_cap = Column(Integer, nullable=True)
    opens_at = Column(DateTime, nullable=False)
    closes_at = Column(DateTime, nullable=False)
    auto_draw = Column(Boolean, nullable=False, default=True)
