"""Notifications: the outbox entry point (多元通知).

``notify()`` writes one outbox row per channel in the caller's transaction, so a message
exists exactly when the event that causes it was committed.  The new rows are handed to
delivery (RQ, or in-process without Redis) when that transaction commits; see
app.services.delivery for retries, the sweep and what "exactly once" means here.

The idempotency key is ``event:registration:key:citizen:channel``: calling ``notify`` again
for the same event (a job run twice) adds nothing."""
from __future__ import annotations

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
    from .messages import render

    rows = []
    wanted = channels or channels_for(citizen)
    base = f"{event}:{registration.id if registration is not None else '-'}:{key}:{citizen.id}:"
    with session.no_autoflush:
        existing = set(session.execute(select(Notification.idempotency_key).where(
            Notification.idempotency_key.in_([base + ch for ch in wanted]))).scalars())
    for channel in wanted:
        ident = base + channel
        if ident in existing:
            continue
        message = render(event, channel, citizen=citizen, registration=registration, **context)
        new_id = _insert_once(session, dict(
            idempotency_key=ident, event=event, channel=channel, citizen_id=citizen.id,
            registration_id=registration.id if registration is not None else None,
            venue_id=registration.venue_id if registration is not None else context.get("venue_id"),
            locale=citizen.locale or "zh_Hant_TW",
            recipient=citizen.email if channel == "email" else citizen.phone,
            subject=message.subject[:200], body=message.body, html_body=message.html,
            **({"broadcast_id": context["broadcast_id"]}
               if context.get("broadcast_id") and hasattr(Notification, "broadcast_id") else {}),
        ))
        if new_id is not None:
            rows.append(session.get(Notification, new_id))
    if rows:
        delivery.track(session, rows)
    return rows


def _insert_once(session: Session, values: dict) -> int | None:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING: a concurrent transaction
    writing the same message makes this one wait and then add nothing, instead of
    failing the caller's transaction on the unique constraint."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other databases: a plain insert (the constraint still holds)
        row = Notification(**values)
        session.add(row)
        session.flush()
        return row.id
    stmt = (insert(Notification).values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Notification.id))
    return session.execute(stmt).scalar()
