"""Term calendars (上課日期): session dates from a course's weekdays and its term's
no-class days; closures added later (typhoon days) move the affected sessions to the end."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..models import Closure, Course, Registration, Venue
from . import audit, notify
from .audit import Actor
from .errors import DomainError

MAX_WEEKS = 60  # a safety bound when postponements pile up


def no_class_days(course: Course) -> set[dt.date]:
    days = set()
    for raw in (course.term.no_class_days or "").replace("\n", ",").split(","):
        raw = raw.strip()
        if raw:
            try:
                days.add(dt.date.fromisoformat(raw))
            except ValueError:
                continue  # the back office validates; a stray value must not break the page
    return days


def closures_for(session: Session, course: Course) -> dict[dt.date, str]:
    rows = session.execute(select(Closure.day, Closure.reason).where(
        Closure.venue_id == course.venue_id,
        or_(Closure.course_id.is_(None), Closure.course_id == course.id))).all()
    return {day: reason for day, reason in rows}


def weekdays_of(course: Course) -> set[int]:
    return {int(d) for d in (course.weekdays or "").split(",") if d.strip().isdigit()}


def session_dates(session: Session, course: Course) -> list[dt.date]:
    """The course's ``sessions`` class dates, in order, skipping no-class days and closures."""
    skip = no_class_days(course) | set(closures_for(session, course))
    wanted = weekdays_of(course)
    if not wanted or course.sessions <= 0:
        return []
    dates: list[dt.date] = []
    day = course.first_date
    limit = course.first_date + dt.timedelta(weeks=MAX_WEEKS)
    while len(dates) < course.sessions and day <= limit:
        if day.isoweekday() in wanted and day not in skip:
            dates.append(day)
        day += dt.timedelta(days=1)
    return dates


def skipped_dates(session: Session, course: Course) -> list[tuple[dt.date, str]]:
    """Class days that fall on a no-class day or closure, with the reason, for the page."""
    wanted = weekdays_of(course)
    closures = closures_for(session, course)
    holidays = no_class_days(course)
    dates = session_dates(session, course)
    if not dates:
        return []
    out = []
    day = course.first_date
    while day <= dates[-1]:
        if day.isoweekday() in wanted:
            if day in closures:
                out.append((day, closures[day]))
            elif day in holidays:
                out.append((day, ""))
        day += dt.timedelta(days=1)
    return out


def add_closure(session: Session, venue: Venue, day: dt.date, reason: str, actor: Actor,
                course: Course | None = None) -> list[Course]:
    """Close a day (one course or the whole venue): the sessions on it move to the end and
    the learners of each affected class are told once.  Returns the affected courses."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise DomainError(_l("Give a reason of at most 200 characters."), code="bad_reason")
    if course is not None and course.venue_id != venue.id:
        raise DomainError(_l("That course belongs to another venue."), code="wrong_venue")
    exists = session.execute(select(Closure.id).where(
        Closure.venue_id == venue.id, Closure.day == day,
        Closure.course_id.is_(None) if course is None else Closure.course_id == course.id)).first()
    if exists:
        raise DomainError(_l("That day is already closed."), code="duplicate_closure")
    candidates = [course] if course is not None else session.execute(
        select(Course).where(Course.venue_id == venue.id, Course.cancelled_at.is_(None),
                             Course.first_date <= day)).scalars().all()
    affected = [c for c in candidates if day in session_dates(session, c)]
    closure = Closure(venue_id=venue.id, course_id=course.id if course else None, day=day,
                      reason=reason, created_by=actor.name)
    session.add(closure)
    session.flush()
    for c in affected:
        new_dates = session_dates(session, c)
        regs = session.execute(select(Registration).where(
            Registration.course_id == c.id,
            Registration.state.in_(("admitted", "paid")))).scalars().all()
        for reg in regs:
            notify.notify(session, "class_closed", citizen=reg.citizen, registration=reg,
                          key=f"closure-{closure.id}", day=day.isoformat(), reason=reason,
                          new_last=new_dates[-1].isoformat() if new_dates else "")
    audit.record(session, "class_closure", actor, target=f"closure:{closure.id}",
                 detail={"day": day.isoformat(), "course": course.code if course else None,
                         "affected": [c.code for c in affected], "reason": reason})
    return affected
