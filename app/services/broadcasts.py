"""Class broadcasts (停課/異動通知): a clerk's message to everyone in a class, or in every
class of the venue that meets on a date (a typhoon closure), through the outbox."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Broadcast, Course, Notification, Registration, Venue
from . import audit, calendar, notify
from .audit import Actor
from .errors import DomainError

RECIPIENT_STATES = ("admitted", "paid")


def recipients(session: Session, venue: Venue, *, course: Course | None = None,
               day: dt.date | None = None) -> list[Registration]:
    if course is None and day is None:
        raise DomainError(_l("Choose a class or a date."), code="no_target")
    if course is not None and course.venue_id != venue.id:
        raise DomainError(_l("That course belongs to another venue."), code="wrong_venue")
    courses = [course] if course is not None else session.execute(
        select(Course).where(Course.venue_id == venue.id, Course.cancelled_at.is_(None),
                             Course.first_date <= day, Course.last_date >= day - dt.timedelta(weeks=8))
    ).scalars().all()
    if day is not None:
        courses = [c for c in courses if day in calendar.session_dates(session, c)]
    if not courses:
        return []
    return session.execute(select(Registration).where(
        Registration.course_id.in_([c.id for c in courses]),
        Registration.state.in_(RECIPIENT_STATES)).order_by(Registration.id)).scalars().all()


def send(session: Session, venue: Venue, actor: Actor, subject: str, body: str, *,
         course: Course | None = None, day: dt.date | None = None) -> Broadcast:
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject or len(subject) > 200:
        raise DomainError(_l("Write a subject of at most 200 characters."), code="bad_subject")
    if not body or len(body) > 1000:
        raise DomainError(_l("Write a message of at most 1000 characters."), code="bad_body")
    regs = recipients(session, venue, course=course, day=day)
    item = Broadcast(venue_id=venue.id, course_id=course.id if course else None, day=day,
                     subject=subject, body=body, recipients=len(regs), created_by=actor.name)
    session.add(item)
    session.flush()
    for reg in regs:
        notify.notify(session, "broadcast", citizen=reg.citizen, registration=reg,
                      key=f"broadcast-{item.id}", subject=subject, text=body,
                      broadcast_id=item.id)
    audit.record(session, "class_broadcast", actor, target=f"broadcast:{item.id}",
                 detail={"course": course.code if course else None,
                         "day": day.isoformat() if day else None, "recipients": len(regs),
                         "subject": subject})
    return item


def delivery_report(session: Session, broadcast: Broadcast) -> dict[str, int]:
    """Messages of a broadcast by status (pending, sending, sent, failed)."""
    rows = session.execute(select(Notification.status).where(
        Notification.broadcast_id == broadcast.id)).scalars().all()
    return dict(Counter(rows))
