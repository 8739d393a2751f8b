"""The append-only, hash-chained security trail (資安軌跡記錄)."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Text

from .base import Model, utcnow


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    event = Column(String(48), nullable=False, index=True)
    actor_type = Column(String(16), nullable=False)  # staff | citizen | system | anonymous
    actor = Column(String(128), nullable=False, index=True)
    role = Column(String(128), nullable=False, default="")
    venue_id = Column(Integer, nullable=True, index=True)
    ip = Column(String(64), nullable=False, default="", index=True)
    user_agent = Column(String(256), nullable=False, default="")
    target = Column(String(128), nullable=False, default="")
    detail = Column(Text, nullable=False, default="{}")  # canonical JSON
    prev_hash = Column(String(64), nullable=False)
    hash = Column(String(64), nullable=False, unique=True)
    #: HMAC-SHA256(AUDIT_HMAC_KEY, hash); NULL when no key was configured at the time
    seal = Column(String(64), nullable=True)
