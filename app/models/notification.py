"""The notification outbox: one row per event, recipient and channel."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from .base import Model, utcnow


class Notification(Model):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),)
    id = Column(Integer, primary_key=True)
    idempotency_key = Column(String(160), unique=True, nullable=False)
    event = Column(String(40), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    citizen_id = Column(Integer, ForeignKey("citizen.id"), nullable=True, index=True)
    citizen = relationship("Citizen")
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=True, index=True)
    registration = relationship("Registration")
    venue_id = Column(Integer, ForeignKey("venue.id"), nullable=True, index=True)
    venue = relationship("Venue")
    broadcast_id = Column(Integer, ForeignKey("broadcast.id"), nullable=True, index=True)
    locale = Column(String(16), nullable=False, default="zh_Hant_TW")
    recipient = Column(String(254), nullable=False)
    subject = Column(String(200), nullable=False, default="")
    body = Column(Text, nullable=False)
    html_body = Column(Text, nullable=True)
    status = Column(String(16), nullable=False, default="pending")  # pending|sending|sent|failed
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=True)
    last_error = Column(Text, nullable=True)
    provider_id = Column(String(64), nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime, nullable=True)


class DeliveryAttempt(Model):
    __tablename__ = "delivery_attempt"
    id = Column(Integer, primary_key=True)
    notification_id = Column(Integer, ForeignKey("notification.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    notification = relationship("Notification")
    at = Column(DateTime, nullable=False, default=utcnow)
    status = Column(String(16), nullable=False)  # sent | error
    provider_id = Column(String(64), nullable=True)
    error = Column(Text, nullable=True)
