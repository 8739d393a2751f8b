"""Periodic notices and sweeps: waitlist promotion, payment due, class start, survey.

Each notice has an idempotency key (event + registration + day), so running a step twice
sends nothing twice."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Course, Registration
from . import clock, notify, registration, seats


def promote_all(session: Session) -> int:
    """Promote the waitlist of every course that has both free seats and a waitlist."""
    course_ids = session.execute(
        select(Course.id).where(Course.cancelled_at.is_(None), Course.seats_taken < Course.quota)
        .where(select(Registration.id).where(Registration.course_id == Course.id,
                                             Registration.state == "waitlisted").exists())
    ).scalars().all()
    total = 0
    for cid in course_ids:
        total += registration.promote_waitlist(session, cid)
        session.commit()
    return total


def payment_due(session: Session) -> int:
    """Remind admitted, unpaid registrations whose deadline is tomorrow (Taipei)."""
    tomorrow = clock.taipei_today() + dt.timedelta(days=1)
    start = clock.taipei_to_utc(dt.datetime.combine(tomorrow, dt.time(0, 0)))
    end = clock.end_of_taipei_day(tomorrow)
    regs = session.execute(select(Registration).where(
        Registration.state == "admitted", Registration.deadline_at >= start,
        Registration.deadline_at <= end)).scalars().all()
    for reg in regs:
        notify.notify(session, "payment_due", citizen=reg.citizen, registration=reg,
                      key=tomorrow.isoformat())
    return len(regs)


def class_starts(session: Session) -> int:
    tomorrow = clock.taipei_today() + dt.timedelta(days=1)
    regs = session.execute(select(Registration).join(Course, Registration.course_id == Course.id)
                           .where(Registration.state == "paid", Course.first_date == tomorrow,
                                  Course.cancelled_at.is_(None))).scalars().all()
    for reg in regs:
        notify.notify(session, "class_starts", citizen=reg.citizen, registration=reg,
                      key=tomorrow.isoformat())
    return len(regs)


def survey_invitations(session: Session) -> int:
    """Invite learners of courses that ended yesterday to the satisfaction survey."""
    yesterday = clock.taipei_today() - dt.timedelta(days=1)
    regs = session.execute(select(Registration).join(Course, Registration.course_id == Course.id)
                           .where(Registration.state.in_(("paid", "completed")),
                                  Course.last_date == yesterday)).scalars().all()
    for reg in regs:  # the link opens the term's survey page (it asks for a log-in first)
        notify.notify(session, "survey", citizen=reg.citizen, registration=reg, key="after-course",
                      link=f"/survey/terms/{reg.term_id}?source=after_course")
    return len(regs)


__all__ = ["promote_all", "payment_due", "class_starts", "survey_invitations", "seats"]
