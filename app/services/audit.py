"""The tamper-evident security trail (資安軌跡記錄).

Each entry stores the hash of the previous entry; the hash covers every field of the
entry plus that previous hash, so altering, removing or inserting any row breaks the
chain from that row on.  With ``AUDIT_HMAC_KEY`` set, each entry also carries a *seal*,
HMAC-SHA256 of its hash under that key: someone who can write to the database but does
not hold the key cannot make an entry (appended or spliced in) that verifies.  Writers serialise on a lock (a PostgreSQL advisory lock; on
SQLite the database write lock) so the chain stays linear under concurrency.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..models.audit import AuditEntry
from ..models.base import utcnow

GENESIS = "0" * 64
_LOCK_ID = 7_041_115  # arbitrary, stable advisory-lock key for the audit chain


@dataclass(frozen=True)
class Actor:
    """Who did it, from where."""

    type: str = "system"  # staff | citizen | system | anonymous
    name: str = "system"
    role: str = ""
    venue_id: int | None = None
    ip: str = ""
    user_agent: str = ""


SYSTEM = Actor()


def canonical(detail: Any) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


def entry_hash(prev_hash: str, at, event, actor_type, actor, role, venue_id, ip, user_agent,
               target, detail_json) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), event, actor_type, actor, role,
         venue_id, ip, user_agent, target, detail_json],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def seal_key() -> bytes | None:
    """``AUDIT_HMAC_KEY`` of the running app, as bytes; ``None`` when not configured."""
    from flask import current_app, has_app_context

    key = current_app.config.get("AUDIT_HMAC_KEY") if has_app_context() else None
    return key.encode("utf-8") if isinstance(key, str) and key else (key or None)


def seal_of(entry_hash_hex: str, key: bytes) -> str:
    return hmac.new(key, entry_hash_hex.encode("ascii"), hashlib.sha256).hexdigest()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})


def record(session: Session, event: str, actor: Actor = SYSTEM, *, target: str = "",
           detail: dict | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (it commits with the change it records)."""
    _lock(session)
    last = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar()
    prev = last or GENESIS
    at = utcnow()
    detail_json = canonical(detail)
    fields = dict(
        at=at, event=event, actor_type=actor.type, actor=actor.name[:128], role=actor.role[:128],
        venue_id=actor.venue_id, ip=(actor.ip or "")[:64], user_agent=(actor.user_agent or "")[:256],
        target=str(target)[:128], detail=detail_json,
    )
    digest = entry_hash(prev, at, event, fields["actor_type"], fields["actor"], fields["role"],
                        actor.venue_id, fields["ip"], fields["user_agent"], fields["target"],
                        detail_json)
    key = seal_key()
    row = AuditEntry(prev_hash=prev, hash=digest, seal=seal_of(digest, key) if key else None,
                     **fields)
    session.add(row)
    session.flush()
    return row


def verify_chain(rows: Iterable[AuditEntry]) -> tuple[bool, int | None, str]:
    """Walk the chain in id order.  Returns (ok, first bad id, reason)."""
    prev = GENESIS
    for row in rows:
        if row.prev_hash != prev:
            return False, row.id, "previous-hash link broken (a row was removed or inserted)"
        expected = entry_hash(prev, row.at, row.event, row.actor_type, row.actor, row.role,
                              row.venue_id, row.ip, row.user_agent, row.target, row.detail)
        if expected != row.hash:
            return False, row.id, "content does not match its hash (the row was altered)"
        prev = row.hash
    return True, None, "ok"


def verify(session: Session) -> tuple[bool, int | None, str]:
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    return verify_chain(rows)
