"""Satisfaction survey answers (滿意度問卷)."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from .base import Model, utcnow


class SurveyResponse(Model):
    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("citizen_id", "term_id"),)
    id = Column(Integer, primary_key=True)
    citizen_id = Column(Integer, ForeignKey("citizen.id"), nullable=False)
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=False, index=True)
    venue = relationship("Venue")
    term_id = Column(Integer, ForeignKey("term.id"), nullable=False)
    term = relationship("Term")
    overall = Column(Integer, nullable=True)  # 1–5; null when dismissed
    ease = Column(Integer, nullable=True)
    comment = Column(Text, nullable=True)
    dismissed = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    source = Column(String(16), nullable=False, default="popup")
