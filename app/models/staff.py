"""Back-office staff belong to a venue (bureau administrators and supervisors do not)."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import backref, relationship

from .base import Model


class StaffProfile(Model):
    __tablename__ = "staff_profile"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), unique=True, nullable=False)
    user = relationship("User", backref=backref("staff_profile", uselist=False))
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=True, index=True)
    venue = relationship("Venue")

    def __repr__(self) -> str:
        return f"{self.user} @ {self.venue or '—'}"
