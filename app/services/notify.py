"""Notifications: the outbox entry point (多元通知).

``notify()`` writes one outbox row per channel in the caller's transaction, so a message
exists exactly when the event that causes it was committed.  Delivery happens later, by
jobs (see app.services.delivery)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Citizen, Notification, Registration


def channels_for(citizen: Citizen) -> list[str]:
    chosen = []
    if citizen.notify_email:
        chosen.append("email")
    if citizen.notify_sms:
        chosen.append("sms")
    return chosen or ["email"]


def notify(session: Session, event: str, *, citizen: Citizen, registration: Registration | None = None,
           key: str = "", channels: list[str] | None = None, **context) -> list[Notification]:
    """Queue ``event`` for ``citizen`` on their channels; idempotent per event key."""
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
        row = Notification(
            idempotency_key=ident, event=event, channel=channel, citizen_id=citizen.id,
            registration_id=registration.id if registration is not None else None,
            venue_id=registration.venue_id if registration is not None else context.get("venue_id"),
            locale=citizen.locale, recipient=citizen.email if channel == "email" else citizen.phone,
            subject=message.subject, body=message.body, html_body=message.html,
        )
        session.add(row)
        rows.append(row)
    if rows:
        session.flush()
    return rows
