"""The integrated public catalogue (整合公開): search, filters, live counts."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ..models import Course, Phase, Registration, Term, Venue
from ..models.registration import SEATED_STATES
from . import clock
from .errors import DomainError, NotFound
from flask_babel import lazy_gettext as _l

STATUSES = ("open", "full", "upcoming", "closed")
TIMES_OF_DAY = {"morning": ("00:00", "12:00"), "afternoon": ("12:00", "18:00"),
                "evening": ("18:00", "24:00")}
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass
class CatalogueQuery:
    q: str = ""
    venue: str | None = None  # venue code
    term: str | None = None  # term code
    category: str | None = None
    weekday: int | None = None  # ISO 1..7
    time_of_day: str | None = None
    status: str | None = None
    page: int = 1
    per_page: int = PAGE_SIZE

    @classmethod
    def from_args(cls, args) -> "CatalogueQuery":
        """Parse request arguments; bad values raise DomainError (a 400)."""
        def bad(name):
            return DomainError(_l("Invalid value for %(field)s."), code="bad_filter", field=name)

        def _text(name, choices=None):
            raw = (args.get(name) or "").strip()[:100]
            # PostgreSQL refuses NUL in text: a 400 here, not a database error later
            if "\x00" in raw or (raw and choices is not None and raw not in choices):
                raise bad(name)
            return raw or None

        def _int(name, lo, hi, default=None):
            raw = (args.get(name) or "").strip()
            if raw == "":
                return default
            if not (raw.isascii() and raw.isdigit()) or not lo <= int(raw) <= hi:
                raise bad(name)
            return int(raw)

        return cls(
            q=_text("q") or "", venue=_text("venue"), term=_text("term"),
            category=_text("category"), weekday=_int("weekday", 1, 7),
            time_of_day=_text("time", TIMES_OF_DAY), status=_text("status", STATUSES),
            page=_int("page", 1, 100000, 1),
            per_page=_int("per_page", 1, MAX_PAGE_SIZE, PAGE_SIZE),
        )


@dataclass
class Counts:
    applications: int = 0
    admitted: int = 0
    paid: int = 0
    waitlisted: int = 0

    def as_dict(self) -> dict:
        return {"applications": self.applications, "admitted": self.admitted, "paid": self.paid,
                "waitlisted": self.waitlisted}


@dataclass
class CoursePage:
    items: list
    total: int
    page: int
    per_page: int
    counts: dict = field(default_factory=dict)  # course id -> Counts

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _phase_open(now):
    return and_(Phase.course_id == Course.id, Phase.opens_at <= now, Phase.closes_at > now)


def status_clause(status: str, now: dt.datetime):
    """The SQL form of :func:`course_status` (the two must agree)."""
    has_open = exists().where(_phase_open(now))
    full = Course.seats_taken >= Course.quota
    live = Course.cancelled_at.is_(None)
    if status == "open":
        return and_(live, has_open, not_(full))
    if status == "full":
        return and_(live, has_open, full)
    future = exists().where(and_(Phase.course_id == Course.id, Phase.opens_at > now))
    if status == "upcoming":
        return and_(live, not_(has_open), future)
    return or_(not_(live), and_(not_(has_open), not_(future)))  # closed


def course_status(course: Course, now: dt.datetime | None = None) -> str:
    """open or full: a phase takes applications now; upcoming: none does, but one opens
    later (also between two phases); closed: cancelled, or no phase now or later."""
    now = now or clock.now()
    if course.cancelled_at is not None:
        return "closed"
    phases = course.phases
    if any(p.opens_at <= now < p.closes_at for p in phases):
        return "full" if course.seats_taken >= course.quota else "open"
    if any(p.opens_at > now for p in phases):
        return "upcoming"
    return "closed"


def current_phase(course: Course, now: dt.datetime | None = None) -> Phase | None:
    now = now or clock.now()
    for p in course.phases:
        if p.opens_at <= now < p.closes_at:
            return p
    return None


def next_phase(course: Course, now: dt.datetime | None = None) -> Phase | None:
    now = now or clock.now()
    upcoming = [p for p in course.phases if p.opens_at > now]
    return upcoming[0] if upcoming else None


def search(session: Session, query: CatalogueQuery) -> CoursePage:
    now = clock.now()
    stmt = select(Course).join(Venue, Course.venue_id == Venue.id).join(Term, Course.term_id == Term.id)
    conds = []
    if query.q:
        like = f"%{query.q.replace('%', '').replace('_', '')}%"
        conds.append(or_(Course.title.ilike(like), Course.title_en.ilike(like),
                         Course.teacher.ilike(like), Course.code.ilike(like),
                         Course.description.ilike(like), Course.category.ilike(like)))
    if query.venue:
        conds.append(Venue.code == query.venue)
    if query.term:
        conds.append(Term.code == query.term)
    if query.category:
        conds.append(Course.category == query.category)
    if query.weekday:
        conds.append(Course.weekdays.like(f"%{query.weekday}%"))
    if query.time_of_day:
        lo, hi = TIMES_OF_DAY[query.time_of_day]
        conds.append(and_(Course.starts_at >= lo, Course.starts_at < hi))
    if query.status:
        conds.append(status_clause(query.status, now))
    if conds:
        stmt = stmt.where(and_(*conds))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.options(joinedload(Course.venue), joinedload(Course.term), selectinload(Course.phases))
        .order_by(Course.first_date, Course.code)
        .limit(query.per_page).offset((query.page - 1) * query.per_page)
    ).unique().scalars().all()
    if query.page > 1 and not rows:
        raise NotFound(_l("That page does not exist."), code="bad_page")
    return CoursePage(items=rows, total=total, page=query.page, per_page=query.per_page,
                      counts=live_counts(session, [c.id for c in rows]))


def live_counts(session: Session, course_ids: list[int]) -> dict[int, Counts]:
    """Applications, admitted, paid and waitlisted per course, in one grouped query."""
    result = {cid: Counts() for cid in course_ids}
    if not course_ids:
        return result
    rows = session.execute(
        select(Registration.course_id, Registration.state, func.count())
        .where(Registration.course_id.in_(course_ids))
        .group_by(Registration.course_id, Registration.state)
    ).all()
    for cid, state, n in rows:
        c = result[cid]
        if state != "withdrawn":
            c.applications += n
        if state in SEATED_STATES:
            c.admitted += n
        if state in ("paid", "refund_requested", "completed"):
            c.paid += n
        if state == "waitlisted":
            c.waitlisted += n
    return result


def get_course(session: Session, code: str) -> Course:
    if not code or len(code) > 16 or "\x00" in code:
        raise NotFound(_l("No course has that code."), code="unknown_course")
    course = session.execute(
        select(Course).where(Course.code == code)
        .options(joinedload(Course.venue), joinedload(Course.term))
    ).unique().scalar_one_or_none()
    if course is None:
        raise NotFound(_l("No course has that code."), code="unknown_course")
    return course


def filter_choices(session: Session) -> dict:
    venues = session.execute(select(Venue).order_by(Venue.id)).scalars().all()
    terms = session.execute(
        select(Term.code, Term.name, Term.name_en).distinct().order_by(Term.code)).all()
    categories = [c for (c,) in session.execute(
        select(Course.category).distinct().order_by(Course.category)).all()]
    return {"venues": venues, "terms": terms, "categories": categories}
