"""Notifications: the outbox entry point (多元通知).

``notify()`` writes one outbox row per channel in the caller's transaction, so a message
exists exactly when the event that causes it was committed.  The new rows are handed to
delivery (RQ, or in-process without Redis) when that transaction commits; see
app.services.delivery for retries, the sweep and what "exactly once" means here.

The idempotency key is ``event:registration:key:citizen:channel``: calling ``notify`` again
for the same event (a job run twice) adds nothing."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Citizen, Notification, Registration
from . import delivery


def channels_for(citizen: Citizen) -> list[str]:
    chosen = []
    if citizen.notify_email:
        chosen.append("email")
    if citizen.notify_sms:
        chosen.append("sms")
    return chosen or ["email"]


def notify(session: Session, event: str, *, citizen: Citizen, registration: Registration | None = None,
           key: str = "", channels: list[str] | None = None, **context) -> list[Notification]:
    """Queue ``event`` for ``citizen`` on their channels; idempotent per event key.

    Returns the rows this call created (none if they all existed already)."""
    return notify_many(session, event, [(citizen, registration)], key=key, channels=channels,
                       **context)


def notify_many(session: Session, event: str, recipients: Sequence[tuple], *, key: str = "",
                channels: list[str] | None = None, **context) -> list[Notification]:
    """:func:`notify` for many ``(citizen, registration)`` or ``(citizen, registration,
    key)`` items at once (a lottery draw's notices, an imported bank file's receipts) in a
    few statements: one look-up of existing keys, multi-row inserts."""
    from .messages import render

    wanted: list[tuple[str, str, Citizen, Registration | None]] = []
    for citizen, registration, *own_key in recipients:
        item_key = own_key[0] if own_key else key
        base = (f"{event}:{registration.id if registration is not None else '-'}:{item_key}:"
                f"{citizen.id}:")
        wanted += [(base + ch, ch, citizen, registration) for ch in channels or channels_for(citizen)]
    if not wanted:
        return []
    existing: set[str] = set()
    with session.no_autoflush:
        for part in _chunks([w[0] for w in wanted]):
            existing.update(session.execute(select(Notification.idempotency_key).where(
                Notification.idempotency_key.in_(part))).scalars())
    values = []
    for ident, channel, citizen, registration in wanted:
        if ident in existing:
            continue
        existing.add(ident)  # the same pair twice in one call: one message
        message = render(event, channel, citizen=citizen, registration=registration, **context)
        values.append(dict(
            idempotency_key=ident, event=event, channel=channel, citizen_id=citizen.id,
            registration_id=registration.id if registration is not None else None,
            venue_id=registration.venue_id if registration is not None else context.get("venue_id"),
            locale=citizen.locale or "zh_Hant_TW",
            recipient=citizen.email if channel == "email" else citizen.phone,
            subject=message.subject[:200], body=message.body, html_body=message.html,
            broadcast_id=context.get("broadcast_id") or None))
    ids = [new_id for part in _chunks(values) for new_id in _insert_once(session, part)]
    if not ids:
        return []
    created = [row for part in _chunks(ids) for row in session.execute(
        select(Notification).where(Notification.id.in_(part))).scalars()]
    created.sort(key=lambda row: row.id)
    delivery.track(session, created)
    return created


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _insert_once(session: Session, rows: list[dict]) -> list[int]:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING, many rows in one statement: a
    concurrent transaction writing the same message makes this one wait and then add
    nothing, instead of failing the caller's transaction on the unique constraint.
    Returns the ids of the rows inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other databases: plain inserts (the constraint still holds)
        made = [Notification(**values) for values in rows]
        session.add_all(made)
        session.flush()
        return [row.id for row in made]
    stmt = (insert(Notification).values(rows)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Notification.id))
    return list(session.execute(stmt).scalars())

