"""The satisfaction survey (滿意度問卷): invitations, answers and statistics.

A citizen is asked at most once per term (``SurveyResponse`` is unique per citizen and
term): after a successful registration the registration page invites them in a pop-up,
which they may answer or dismiss (a dismissal is recorded, so they are not asked again
that term).  After the course ends an invitation links to the standalone survey page;
there a citizen who dismissed the pop-up may still answer once, but nobody answers twice.
Answers: overall satisfaction and ease of use, 1–5 stars each, and an optional comment.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Citizen, Registration, SurveyResponse, Term, Venue
from . import clock
from .errors import Conflict, DomainError

COMMENT_MAX = 1000
SOURCES = ("popup", "after_course", "page")
#: Registrations that count as "took part" for the after-course invitation.
TOOK_PART = ("paid", "completed", "refund_requested", "admitted", "waitlisted", "applied")


class SurveyFieldError(DomainError):
    status = 400
    code = "survey_field"

    def __init__(self, field_name: str, message):
        self.field = field_name
        super().__init__(message)


def response_of(session: Session, citizen: Citizen, term: Term) -> SurveyResponse | None:
    return session.execute(select(SurveyResponse).where(
        SurveyResponse.citizen_id == citizen.id, SurveyResponse.term_id == term.id)
    ).scalar_one_or_none()


def should_invite(session: Session, citizen: Citizen | None, term: Term | None) -> bool:
    """Show the pop-up: a logged-in citizen not yet asked this term."""
    if citizen is None or term is None:
        return False
    return response_of(session, citizen, term) is None


def may_answer(session: Session, citizen: Citizen, term: Term) -> bool:
    """The standalone page: nobody answered yet (a dismissed pop-up does not count)."""
    existing = response_of(session, citizen, term)
    return existing is None or (existing.dismissed and existing.overall is None)


def took_part(session: Session, citizen: Citizen, term: Term) -> bool:
    return session.execute(select(Registration.id).where(
        Registration.citizen_id == citizen.id, Registration.term_id == term.id).limit(1)
    ).first() is not None


def _stars(name: str, value) -> int:
    raw = str(value if value is not None else "").strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 5:
        raise SurveyFieldError(name, _l("Choose from 1 to 5 stars."))
    return int(raw)


def _insert(session: Session, row: SurveyResponse) -> bool:
    """Insert once; False when the citizen already has a row for the term (a race)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return True
    except IntegrityError:
        return False


def answer(session: Session, citizen: Citizen, term: Term, overall, ease, comment: str = "",
           source: str = "popup") -> SurveyResponse:
    """Record the answer (a dismissed pop-up may still be answered once, later)."""
    overall, ease = _stars("overall", overall), _stars("ease", ease)
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise SurveyFieldError("comment", _l("At most %(n)s characters.", n=COMMENT_MAX))
    source = source if source in SOURCES else "page"
    existing = response_of(session, citizen, term)
    if existing is not None:
        if existing.overall is not None or not existing.dismissed:
            raise Conflict(_l("You have already answered the survey for this term. Thank you!"),
                           code="survey_answered")
        existing.overall, existing.ease, existing.comment = overall, ease, comment or None
        existing.dismissed, existing.source, existing.created_at = 0, source, clock.now()
        session.flush()
        return existing
    row = SurveyResponse(citizen_id=citizen.id, venue_id=term.venue_id, term_id=term.id,
                         overall=overall, ease=ease, comment=comment or None, dismissed=0,
                         source=source, created_at=clock.now())
    if not _insert(session, row):
        raise Conflict(_l("You have already answered the survey for this term. Thank you!"),
                       code="survey_answered")
    return row


def dismiss(session: Session, citizen: Citizen, term: Term, source: str = "popup") -> SurveyResponse:
    """Record that the citizen closed the pop-up without answering (idempotent)."""
    existing = response_of(session, citizen, term)
    if existing is not None:
        return existing
    row = SurveyResponse(citizen_id=citizen.id, venue_id=term.venue_id, term_id=term.id,
                         dismissed=1, source=source if source in SOURCES else "popup",
                         created_at=clock.now())
    if not _insert(session, row):
        return response_of(session, citizen, term)
    return row


# ---- statistics --------------------------------------------------------------------------

@dataclass
class SurveyStats:
    venue: str
    term: str
    venue_id: int | None
    term_id: int | None
    answers: int = 0
    dismissed: int = 0
    overall_avg: float | None = None
    ease_avg: float | None = None
    overall_dist: dict[int, int] = field(default_factory=lambda: {s: 0 for s in range(1, 6)})
    ease_dist: dict[int, int] = field(default_factory=lambda: {s: 0 for s in range(1, 6)})

    @property
    def response_rate(self) -> float | None:
        asked = self.answers + self.dismissed
        return round(100 * self.answers / asked, 1) if asked else None


def _scoped(stmt, venue_id, term_id):
    if venue_id is not None:
        stmt = stmt.where(SurveyResponse.venue_id == venue_id)
    if term_id is not None:
        stmt = stmt.where(SurveyResponse.term_id == term_id)
    return stmt


def stats(session: Session, venue_id: int | None = None, term_id: int | None = None,
          by_term: bool = True) -> list[SurveyStats]:
    """Averages and 1–5 distributions, one line per venue and term (or per venue), plus
    a first line for everything selected."""
    keys = [SurveyResponse.venue_id] + ([SurveyResponse.term_id] if by_term else [])
    answered = SurveyResponse.overall.is_not(None)
    base = _scoped(select(*keys,
                          func.count().filter(answered), func.count().filter(SurveyResponse.dismissed == 1),
                          func.avg(SurveyResponse.overall), func.avg(SurveyResponse.ease))
                   .group_by(*keys), venue_id, term_id)
    venues = {v.id: v.name for v in session.execute(select(Venue)).scalars()}
    terms = {t.id: t.name for t in session.execute(select(Term)).scalars()}
    lines: dict[tuple, SurveyStats] = {}
    for row in session.execute(base):
        vid = row[0]
        tid = row[1] if by_term else None
        rest = row[2:] if by_term else row[1:]
        lines[(vid, tid)] = SurveyStats(
            venues.get(vid, str(vid)), terms.get(tid, "") if tid else "", vid, tid,
            answers=rest[0], dismissed=rest[1],
            overall_avg=round(float(rest[2]), 2) if rest[2] is not None else None,
            ease_avg=round(float(rest[3]), 2) if rest[3] is not None else None)
    for column, attr in ((SurveyResponse.overall, "overall_dist"), (SurveyResponse.ease, "ease_dist")):
        dist = _scoped(select(*keys, column, func.count()).where(column.is_not(None))
                       .group_by(*keys, column), venue_id, term_id)
        for row in session.execute(dist):
            key = (row[0], row[1] if by_term else None)
            stars, count = row[-2], row[-1]
            if key in lines and 1 <= stars <= 5:
                getattr(lines[key], attr)[stars] = count
    ordered = sorted(lines.values(), key=lambda s: (s.venue_id or 0, s.term_id or 0))
    total = SurveyStats(str(_l("All selected")), "", venue_id, term_id)
    for line in ordered:
        total.answers += line.answers
        total.dismissed += line.dismissed
        for s in range(1, 6):
            total.overall_dist[s] += line.overall_dist[s]
            total.ease_dist[s] += line.ease_dist[s]
    if total.answers:
        total.overall_avg = round(sum(s * n for s, n in total.overall_dist.items()) / total.answers, 2)
        total.ease_avg = round(sum(s * n for s, n in total.ease_dist.items()) / total.answers, 2)
    return [total] + ordered


def comments(session: Session, venue_id: int | None = None, term_id: int | None = None,
             limit: int = 500) -> list[SurveyResponse]:
    stmt = _scoped(select(SurveyResponse).where(
        and_(SurveyResponse.comment.is_not(None), SurveyResponse.comment != ""))
        .order_by(SurveyResponse.created_at.desc()).limit(limit), venue_id, term_id)
    return session.execute(stmt).scalars().all()


CSV_HEADERS = ["id", "場館 venue", "期別 term", "整體滿意度 overall", "操作便利性 ease",
               "意見 comment", "略過 dismissed", "來源 source", "時間 time (Asia/Taipei)"]


def responses_csv(session: Session, venue_id: int | None = None, term_id: int | None = None) -> tuple[str, int]:
    """Every response (anonymous: no citizen column) as UTF-8 CSV with BOM; (csv, rows)."""
    rows = session.execute(_scoped(select(SurveyResponse).order_by(SurveyResponse.id),
                                   venue_id, term_id)).scalars().all()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for r in rows:
        comment = r.comment or ""
        if comment[:1] in ("=", "+", "-", "@"):
            comment = "'" + comment
        writer.writerow([r.id, r.venue.name if r.venue else r.venue_id,
                         r.term.name if r.term else r.term_id, r.overall or "", r.ease or "",
                         comment, r.dismissed, r.source,
                         clock.to_taipei(r.created_at).strftime("%Y-%m-%d %H:%M")])
    return out.getvalue(), len(rows)
