"""Attendance (出缺席): recorded per class session, read by certificates of completion.

* The class dates are the term calendar's (:func:`calendar.session_dates`): weekly on the
  course's weekdays, skipping no-class days and closures.
* A clerk records one session at a time for every learner holding a seat: present or
  absent.  Recording again replaces that session's marks (the trail keeps both).  Only a
  class date of the course, today or earlier (Asia/Taipei), can be recorded.
* A learner's attendance rate is the share of the *recorded* sessions they attended: a
  session nobody recorded counts neither for nor against anyone, and the course page
  shows how many sessions are still unrecorded.  With no session recorded the rate is
  unknown (``None``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import Attendance, Course, Registration
from . import audit, calendar, clock
from .audit import Actor
from .errors import DomainError
from .rosters import seated


class AttendanceRefused(DomainError):
    status = 400
    code = "attendance_refused"


@dataclass
class Sheet:
    """A course's attendance grid: learners (seated registrations) by class dates."""

    course: Course
    dates: list[dt.date]
    registrations: list[Registration]
    marks: dict[tuple[int, dt.date], bool] = field(default_factory=dict)  # (reg id, day) -> present

    @property
    def recorded_dates(self) -> list[dt.date]:
        return _recorded(self.dates, self.marks)

    def mark(self, reg: Registration, day: dt.date) -> bool | None:
        return self.marks.get((reg.id, day))

    def rate(self, reg: Registration) -> float | None:
        return _rate(self.marks, reg.id, self.recorded_dates)


def class_dates(session: Session, course: Course) -> list[dt.date]:
    return calendar.session_dates(session, course)


def _recorded(dates: list[dt.date], marks: dict[tuple[int, dt.date], bool]) -> list[dt.date]:
    """The class dates for which any learner's mark was recorded."""
    days = {day for _, day in marks}
    return [d for d in dates if d in days]


def _rate(marks: dict[tuple[int, dt.date], bool], reg_id: int,
          recorded: list[dt.date]) -> float | None:
    if not recorded:
        return None
    present = sum(1 for day in recorded if marks.get((reg_id, day)))
    return round(100.0 * present / len(recorded), 1)


def _marks(session: Session, course: Course) -> dict[tuple[int, dt.date], bool]:
    rows = session.execute(
        select(Attendance.registration_id, Attendance.session_date, Attendance.present)
        .join(Registration, Registration.id == Attendance.registration_id)
        .where(Registration.course_id == course.id)).all()
    return {(reg_id, day): present for reg_id, day, present in rows}


def sheet(session: Session, course: Course) -> Sheet:
    return Sheet(course=course, dates=class_dates(session, course),
                 registrations=seated(session, course), marks=_marks(session, course))


def rate(session: Session, reg: Registration) -> float | None:
    """Share (0–100) of the course's recorded sessions the learner attended; ``None`` while
    no session of the course has been recorded."""
    marks = _marks(session, reg.course)
    return _rate(marks, reg.id, _recorded(class_dates(session, reg.course), marks))


def rates(session: Session, course: Course) -> dict[int, float | None]:
    """Registration id -> rate, for every seated registration of the course (one query)."""
    grid = sheet(session, course)
    return {reg.id: grid.rate(reg) for reg in grid.registrations}


def record(session: Session, course: Course, day: dt.date, present_ids: set[int],
           actor: Actor) -> dict[str, int]:
    """Record one session: every seated learner is present (id in ``present_ids``) or
    absent.  Replaces earlier marks of that session.  Returns the counts."""
    if course.cancelled_at is not None:
        raise AttendanceRefused(_l("This course is cancelled; attendance cannot be recorded."))
    if day not in class_dates(session, course):
        raise AttendanceRefused(_l("%(day)s is not a class date of this course.",
                                   day=day.isoformat()))
    if day > clock.taipei_today():
        raise AttendanceRefused(_l("Attendance can be recorded on the day of the class or "
                                   "later, not in advance."))
    # Two clerks saving the same class at once: the second waits, then replaces.
    session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
    regs = seated(session, course)
    ids = {reg.id for reg in regs}
    unknown = set(present_ids) - ids
    if unknown:
        raise AttendanceRefused(_l("Some of the marked learners do not hold a seat in this "
                                   "course. Reload the page and try again."))
    before = {reg_id: present for (reg_id, d), present in _marks(session, course).items()
              if d == day}
    session.execute(delete(Attendance).where(
        Attendance.session_date == day,
        Attendance.registration_id.in_(
            select(Registration.id).where(Registration.course_id == course.id))))
    now = clock.now()
    session.add_all([Attendance(registration_id=reg.id, session_date=day,
                                present=reg.id in present_ids, recorded_by=actor.name[:80],
                                recorded_at=now) for reg in regs])
    session.flush()
    counts = {"present": len(present_ids), "absent": len(ids) - len(present_ids)}
    changed = sorted(reg_id for reg_id in ids
                     if reg_id in before and before[reg_id] != (reg_id in present_ids))
    audit.record(session, "attendance_recorded", actor, target=f"course:{course.id}",
                 detail={"course": course.code, "date": day.isoformat(), **counts,
                         "corrected": changed[:200], "first_time": not before})
    return counts
