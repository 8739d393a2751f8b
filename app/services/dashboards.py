"""Dashboard figures per venue and city-wide: registrations over time, fill rate per
course, waitlists, payment channels, revenue, refunds and notification failures.

Every function takes ``venue_id`` (``None`` = city-wide) and optionally a term; money is
what was actually received (applied credits) and refunded, in whole NT$.  Days are
Asia/Taipei calendar days.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import Course, Notification, Payment, Refund, Registration, Term, Venue
from . import clock


@dataclass
class Bar:
    label: str
    value: float
    extra: str = ""


def _taipei_day_expr(session: Session, column):
    """The Asia/Taipei calendar day of a naive-UTC column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Taipei", func.timezone("UTC", column)))
    return func.date(column, "+8 hours")


def registrations_per_day(session: Session, venue_id: int | None = None, term_id: int | None = None,
                          days: int = 30) -> list[Bar]:
    """Registrations received each day over the last ``days`` days (zeros included)."""
    today = clock.taipei_today()
    start = today - dt.timedelta(days=days - 1)
    since = clock.taipei_to_utc(dt.datetime.combine(start, dt.time(0, 0)))
    day = _taipei_day_expr(session, Registration.applied_at)
    stmt = select(day, func.count()).where(Registration.applied_at >= since).group_by(day)
    if venue_id is not None:
        stmt = stmt.where(Registration.venue_id == venue_id)
    if term_id is not None:
        stmt = stmt.where(Registration.term_id == term_id)
    counts = {}
    for value, n in session.execute(stmt):
        key = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        counts[key] = n
    return [Bar((start + dt.timedelta(days=i)).isoformat(), counts.get(start + dt.timedelta(days=i), 0))
            for i in range(days)]


@dataclass
class CourseLine:
    code: str
    title: str
    venue: str
    quota: int
    seats_taken: int
    waitlisted: int
    applied: int

    @property
    def fill_percent(self) -> float:
        return round(100 * self.seats_taken / self.quota, 1) if self.quota else 0.0


def courses(session: Session, venue_id: int | None = None, term_id: int | None = None,
            limit: int = 300) -> list[CourseLine]:
    """Fill rate and waitlist size of each course that is not cancelled."""
    waiting = func.count(Registration.id).filter(Registration.state == "waitlisted")
    pending = func.count(Registration.id).filter(Registration.state == "applied")
    stmt = (select(Course.code, Course.title, Venue.name, Course.quota, Course.seats_taken,
                   waiting, pending)
            .join(Venue, Course.venue_id == Venue.id)
            .outerjoin(Registration, Registration.course_id == Course.id)
            .where(Course.cancelled_at.is_(None))
            .group_by(Course.id, Course.code, Course.title, Venue.name, Course.quota,
                      Course.seats_taken)
            .order_by(Course.code).limit(limit))
    if venue_id is not None:
        stmt = stmt.where(Course.venue_id == venue_id)
    if term_id is not None:
        stmt = stmt.where(Course.term_id == term_id)
    return [CourseLine(*row) for row in session.execute(stmt)]


def payment_channels(session: Session, venue_id: int | None = None,
                     term_id: int | None = None) -> list[Bar]:
    """Applied credits per payment channel: count (value) and amount (extra)."""
    stmt = (select(Payment.channel, func.count(), func.coalesce(func.sum(Payment.amount), 0))
            .where(Payment.kind == "credit", Payment.status.in_(("applied", "refunded")))
            .group_by(Payment.channel).order_by(func.count().desc()))
    if venue_id is not None:
        stmt = stmt.where(Payment.venue_id == venue_id)
    if term_id is not None:
        from ..models import PaymentSlip

        stmt = (stmt.join(PaymentSlip, Payment.slip_id == PaymentSlip.id)
                .join(Registration, PaymentSlip.registration_id == Registration.id)
                .where(Registration.term_id == term_id))
    return [Bar(channel or "?", n, str(int(amount))) for channel, n, amount in session.execute(stmt)]


@dataclass
class Money:
    received: int
    payments: int
    refunded: int
    refunds_pending: int
    refund_count: int

    @property
    def net(self) -> int:
        return self.received - self.refunded


def money(session: Session, venue_id: int | None = None) -> Money:
    pay = select(func.coalesce(func.sum(Payment.amount), 0), func.count()).where(
        Payment.kind == "credit", Payment.status.in_(("applied", "refunded", "resolved")))
    ref = select(
        func.coalesce(func.sum(case((Refund.state == "remitted", Refund.amount), else_=0)), 0),
        func.coalesce(func.sum(case((Refund.state.in_(("requested", "approved")), Refund.amount),
                                    else_=0)), 0),
        func.count().filter(Refund.state != "rejected"))
    if venue_id is not None:
        pay = pay.where(Payment.venue_id == venue_id)
        ref = ref.where(Refund.venue_id == venue_id)
    received, count = session.execute(pay).one()
    refunded, pending, refund_count = session.execute(ref).one()
    return Money(int(received), int(count), int(refunded), int(pending), int(refund_count))


def revenue_per_month(session: Session, venue_id: int | None = None, months: int = 12) -> list[Bar]:
    """Credits received per calendar month (by payment time, Taipei), oldest first."""
    today = clock.taipei_today()
    first = dt.date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    since = clock.taipei_to_utc(dt.datetime.combine(first, dt.time(0, 0)))
    when = func.coalesce(Payment.paid_at, Payment.created_at)
    day = _taipei_day_expr(session, when)
    stmt = (select(day, func.sum(Payment.amount)).where(
        Payment.kind == "credit", Payment.status.in_(("applied", "refunded", "resolved")),
        when >= since).group_by(day))
    if venue_id is not None:
        stmt = stmt.where(Payment.venue_id == venue_id)
    totals: dict[str, int] = {}
    for value, amount in session.execute(stmt):
        key = str(value)[:7]
        totals[key] = totals.get(key, 0) + int(amount or 0)
    bars, month = [], first
    for _ in range(months):
        key = month.strftime("%Y-%m")
        bars.append(Bar(key, totals.get(key, 0)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return bars


def refunds_by_state(session: Session, venue_id: int | None = None) -> list[Bar]:
    stmt = (select(Refund.state, func.count(), func.coalesce(func.sum(Refund.amount), 0))
            .group_by(Refund.state).order_by(Refund.state))
    if venue_id is not None:
        stmt = stmt.where(Refund.venue_id == venue_id)
    return [Bar(state, n, str(int(amount))) for state, n, amount in session.execute(stmt)]


def notification_failures(session: Session, venue_id: int | None = None,
                          days: int = 30) -> list[Bar]:
    """Failed notifications per channel over the last ``days`` days (value), with the
    number sent in the same period (extra)."""
    since = clock.now() - dt.timedelta(days=days)
    stmt = (select(Notification.channel, func.count().filter(Notification.status == "failed"),
                   func.count().filter(Notification.status == "sent"))
            .where(Notification.created_at >= since).group_by(Notification.channel)
            .order_by(Notification.channel))
    if venue_id is not None:
        stmt = stmt.where(Notification.venue_id == venue_id)
    return [Bar(channel, failed, str(sent)) for channel, failed, sent in session.execute(stmt)]


def recent_failures(session: Session, venue_id: int | None = None, limit: int = 20):
    stmt = (select(Notification).where(Notification.status == "failed")
            .order_by(Notification.id.desc()).limit(limit))
    if venue_id is not None:
        stmt = stmt.where(Notification.venue_id == venue_id)
    return session.execute(stmt).scalars().all()


def per_venue(session: Session) -> list[tuple[Venue, int, int, Money]]:
    """City-wide: each venue's registrations, courses and money."""
    out = []
    for venue in session.execute(select(Venue).order_by(Venue.id)).scalars():
        regs = session.execute(select(func.count()).select_from(Registration).where(
            Registration.venue_id == venue.id)).scalar_one()
        n_courses = session.execute(select(func.count()).select_from(Course).where(
            Course.venue_id == venue.id, Course.cancelled_at.is_(None))).scalar_one()
        out.append((venue, regs, n_courses, money(session, venue.id)))
    return out


def terms(session: Session, venue_id: int | None = None) -> list[Term]:
    stmt = select(Term).order_by(Term.starts_on.desc())
    if venue_id is not None:
        stmt = stmt.where(Term.venue_id == venue_id)
    return session.execute(stmt).scalars().all()
