"""Certificates of completion (研習證書): eligibility, serial numbers, PDF.

Eligibility.  A ``paid`` or ``completed`` registration whose attendance rate
(:mod:`attendance`: the share of the course's recorded sessions attended) reaches the
venue's threshold (``Venue.certificate_attendance_percent``).  While no session of the
course has been recorded the rate is unknown and nobody is eligible, unless the venue's
threshold is 0.

Serial numbers.  ``<venue code>-<course code without the venue prefix>-<nnnn>``, e.g.
``DD-116A001-0001`` for course ``DD116A001``, where ``nnnn`` is the registration's place
among all registrations of the course by id.  Registrations are never deleted, so a
certificate printed twice carries the same number, and numbers are unique city-wide
because course codes are.
"""
from __future__ import annotations

import datetime as dt
from typing import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Course, Registration
from . import attendance, audit, pdf
from .audit import Actor
from .errors import DomainError

ELIGIBLE_STATES = ("paid", "completed")


class NotEligible(DomainError):
    status = 409
    code = "not_eligible"


def attendance_rate(session: Session, reg: Registration) -> float | None:
    """Share of the recorded sessions attended (0–100), ``None`` while none is recorded."""
    return attendance.rate(session, reg)


def meets_threshold(course: Course, rate: float | None) -> bool:
    threshold = course.venue.certificate_attendance_percent or 0
    return threshold <= 0 or (rate is not None and rate >= threshold)


def is_eligible(session: Session, reg: Registration) -> bool:
    if reg.state not in ELIGIBLE_STATES:
        return False
    return meets_threshold(reg.course, attendance_rate(session, reg))


def eligible(session: Session, course: Course) -> list[Registration]:
    regs = session.execute(select(Registration).where(
        Registration.course_id == course.id, Registration.state.in_(ELIGIBLE_STATES))
        .order_by(Registration.id)).scalars().all()
    rates = attendance.rates(session, course)
    return [r for r in regs if meets_threshold(course, rates.get(r.id))]


def _code_part(course: Course) -> str:
    code, prefix = course.code, course.venue.code
    return code[len(prefix):] if code.startswith(prefix) and len(code) > len(prefix) else code


def serials(session: Session, course: Course) -> dict[int, str]:
    """Registration id -> serial number, for every registration of the course."""
    ids = session.execute(select(Registration.id).where(Registration.course_id == course.id)
                          .order_by(Registration.id)).scalars().all()
    base = f"{course.venue.code}-{_code_part(course)}"
    return {reg_id: f"{base}-{n:04d}" for n, reg_id in enumerate(ids, start=1)}


def serial_for(session: Session, reg: Registration) -> str:
    n = session.execute(select(func.count()).select_from(Registration).where(
        Registration.course_id == reg.course_id, Registration.id <= reg.id)).scalar_one()
    return f"{reg.course.venue.code}-{_code_part(reg.course)}-{n:04d}"


def _hours(course: Course) -> float | None:
    try:
        start = dt.datetime.strptime(course.starts_at, "%H:%M")
        end = dt.datetime.strptime(course.ends_at, "%H:%M")
    except (TypeError, ValueError):
        return None
    per = (end - start).total_seconds() / 3600
    return round(per * course.sessions, 1) if per > 0 else None


def certificate_data(reg: Registration, serial: str) -> pdf.CertificateData:
    course = reg.course
    return pdf.CertificateData(
        serial_number=serial, learner_name=reg.learner.name, course_title=course.title,
        venue_name=course.venue.name, start_date=course.first_date, end_date=course.last_date,
        hours=_hours(course), sessions=course.sessions, issuer=course.venue.name)


def _issue(session: Session, course: Course, items: Sequence[tuple[Registration, str]],
           actor: Actor) -> bytes:
    body = pdf.render_certificates([certificate_data(reg, serial) for reg, serial in items])
    audit.record(session, "certificates_issued", actor, target=f"course:{course.id}",
                 detail={"course": course.code, "count": len(items),
                         "serials": [s for _, s in items][:200]})
    return body


def for_course(session: Session, course: Course, actor: Actor) -> tuple[bytes, int]:
    """Every eligible learner's certificate in one PDF; (pdf, count)."""
    regs = eligible(session, course)
    if not regs:
        raise NotEligible(_l("No registration of this course is eligible for a certificate: "
                             "only paid or completed registrations that meet the venue's "
                             "attendance threshold are (record attendance first)."))
    numbers = serials(session, course)
    return _issue(session, course, [(r, numbers[r.id]) for r in regs], actor), len(regs)


def for_registration(session: Session, reg: Registration, actor: Actor) -> bytes:
    if not is_eligible(session, reg):
        raise NotEligible(_l("This registration is not eligible for a certificate: only paid "
                             "or completed registrations that meet the venue's attendance "
                             "threshold are."))
    return _issue(session, reg.course, [(reg, serial_for(session, reg))], actor)
