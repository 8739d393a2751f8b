"""The registration engine (報名流程): applying, admission, waitlist, withdrawal, forfeit.

Every state change goes through :func:`transition`, which checks the transition table,
writes the timestamp and the actor, and records a :class:`RegistrationEvent`.
Seat counts change only through :mod:`app.services.seats` (one conditional UPDATE).
"""
from __future__ import annotations

import datetime as dt
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    Citizen, Course, IdentityClaim, Learner, Phase, Registration, RegistrationEvent, Venue,
)
from ..models.registration import ACTIVE_STATES
from . import clock, notify, seats
from .audit import Actor
from .errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound

#: The transition table: state -> states it may move to.
TRANSITIONS: dict[str, set[str]] = {
    "applied": {"admitted", "waitlisted", "withdrawn", "cancelled"},
    "waitlisted": {"admitted", "withdrawn", "forfeited", "cancelled"},
    "admitted": {"paid", "withdrawn", "forfeited", "cancelled"},
    # A bank reversal of the credit sends a paid registration back to admitted (deadline
    # not passed) or forfeited (passed); see app.services.reconciliation.
    "paid": {"refund_requested", "completed", "cancelled", "transferred", "admitted", "forfeited"},
    "refund_requested": {"refunded", "paid", "cancelled"},
    # A late credit for a forfeited registration reinstates it while its seat is free.
    "forfeited": {"paid"},
    "withdrawn": set(),
    "refunded": set(),
    "completed": set(),
    "cancelled": set(),
    "transferred": set(),
}
TIMESTAMP = {"admitted": "admitted_at", "paid": "paid_at"}
CLOSING = {"withdrawn", "forfeited", "refunded", "cancelled", "completed", "transferred"}
SENIOR_AGE = 65
WAITLIST_PHASE_STRIDE = 10**12  # waitlist_key = phase seq * stride + order within the phase
ENTRY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def actor_label(actor: Actor) -> str:
    return actor.name if actor.type != "system" else "system"


def transition(session: Session, reg: Registration, to_state: str, actor: Actor,
               note: str | None = None) -> Registration:
    """Move ``reg`` to ``to_state`` if the table allows it; record who, when and why."""
    if to_state not in TRANSITIONS.get(reg.state, set()):
        raise IllegalTransition(
            _l("A registration that is %(state)s cannot become %(to)s."),
            state=state_label(reg.state), to=state_label(to_state))
    now = clock.now()
    session.add(RegistrationEvent(registration_id=reg.id, from_state=reg.state, to_state=to_state,
                                  at=now, actor=actor_label(actor), note=note))
    reg.state = to_state
    if to_state in TIMESTAMP:
        setattr(reg, TIMESTAMP[to_state], now)
    if to_state in CLOSING:
        reg.closed_at = now
    if to_state != "waitlisted":
        reg.waitlist_key = None
    return reg


STATE_LABELS = {
    "applied": _l("applied (waiting for the draw)"), "admitted": _l("admitted"),
    "waitlisted": _l("waitlisted"), "paid": _l("paid"), "completed": _l("completed"),
    "withdrawn": _l("withdrawn"), "forfeited": _l("forfeited"),
    "refund_requested": _l("refund requested"), "refunded": _l("refunded"),
    "cancelled": _l("cancelled"), "transferred": _l("transferred"),
}


def state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


# ---- eligibility -----------------------------------------------------------------

def open_phase(course: Course, now: dt.datetime) -> Phase | None:
    for phase in course.phases:
        if phase.opens_at <= now < phase.closes_at:
            return phase
    return None


def is_returning_student(session: Session, learner: Learner, course: Course) -> bool:
    """舊生: admitted to and paid for a course of the predecessor (or same) series at the
    same venue in an earlier term."""
    series = {s for s in (course.predecessor_series, course.series_code) if s}
    if not series:
        return False
    row = session.execute(
        select(Registration.id).join(Course, Registration.course_id == Course.id)
        .where(Registration.learner_id == learner.id, Course.venue_id == course.venue_id,
               Course.series_code.in_(series), Course.first_date < course.first_date,
               Registration.paid_at.is_not(None),
               Registration.state.in_(("paid", "completed", "refund_requested")))
        .limit(1)).first()
    return row is not None


def verified_identities(session: Session, learner: Learner, venue_id: int) -> set[str]:
    rows = session.execute(select(IdentityClaim.identity).where(
        IdentityClaim.citizen_id == learner.citizen_id, IdentityClaim.venue_id == venue_id,
        IdentityClaim.status == "verified",
        (IdentityClaim.learner_id == learner.id) | (IdentityClaim.learner_id.is_(None)
                                                    & (learner.relation == "self")),
    )).scalars()
    return set(rows)


def check_eligibility(session: Session, course: Course, phase: Phase, learner: Learner) -> None:
    """Raise a DomainError with the reason when the learner may not apply in this phase."""
    age = clock.age_on(learner.birth_date, course.first_date)
    if course.age_min is not None and age < course.age_min:
        raise DomainError(_l("This course is for ages %(min)s and up; the learner will be %(age)s."),
                          code="too_young", min=course.age_min, age=age)
    if course.age_max is not None and age > course.age_max:
        raise DomainError(_l("This course is for ages up to %(max)s; the learner will be %(age)s."),
                          code="too_old", max=course.age_max, age=age)
    if phase.eligibility == "senior" and age < SENIOR_AGE:
        raise DomainError(_l("This phase is for seniors aged 65 or over on the first day of class."),
                          code="not_senior")
    if phase.eligibility == "returning" and not is_returning_student(session, learner, course):
        raise DomainError(_l("This phase is for returning students of this course series."),
                          code="not_returning")
    if phase.eligibility == "identity" and phase.identity not in verified_identities(
            session, learner, course.venue_id):
        raise DomainError(_l("This phase is for holders of a verified identity at this venue."),
                          code="no_identity")


def _earlier_lottery_pending(course: Course, phase: Phase) -> bool:
    return any(p.mode == "lottery" and p.seq < phase.seq and p.drawn_at is None
               for p in course.phases)


def new_entry_no(course: Course) -> str:
    """A public, opaque, unique entry number (報名序號), e.g. ``DD-7KQ2M9XA``."""
    return f"{course.venue.code}-" + "".join(secrets.choice(ENTRY_ALPHABET) for _ in range(8))


# ---- applying --------------------------------------------------------------------

def load_course(session: Session, code: str) -> Course:
    course = session.execute(select(Course).where(Course.code == code)).scalar_one_or_none()
    if course is None:
        raise NotFound(_l("No course has that code."), code="unknown_course")
    return course


def check_can_apply(session: Session, course: Course, citizen: Citizen,
                    learner: Learner | None, *, lock: bool = False) -> tuple[Phase, Learner]:
    """Every rule an application must pass; raises DomainError with the reason.

    With ``lock`` the learner's row is locked first, which serialises this learner's
    concurrent applications so the duplicate and per-term checks hold under load."""
    now = clock.now()
    learner = learner or citizen.self_learner
    if learner is None or learner.citizen_id != citizen.id:
        raise Forbidden(_l("You can only register yourself or learners on your account."))
    if course.cancelled_at is not None:
        raise DomainError(_l("This course has been cancelled."), code="cancelled")
    phase = open_phase(course, now)
    if phase is None:
        raise DomainError(_l("Registration for this course is not open now."), code="phase_closed")
    if phase.mode == "first_come" and _earlier_lottery_pending(course, phase):
        raise DomainError(_l("Please wait: the lottery of the previous phase has not been drawn yet."),
                          code="draw_pending")
    if lock:
        session.execute(select(Learner.id).where(Learner.id == learner.id).with_for_update())
    check_eligibility(session, course, phase, learner)
    duplicate = session.execute(select(Registration.id).where(
        Registration.learner_id == learner.id, Registration.course_id == course.id,
        Registration.state.in_(ACTIVE_STATES))).first()
    if duplicate:
        raise Conflict(_l("You have already registered for this course."), code="duplicate")
    venue: Venue = course.venue
    held = session.execute(select(func.count()).select_from(Registration).where(
        Registration.learner_id == learner.id, Registration.term_id == course.term_id,
        Registration.venue_id == course.venue_id,
        Registration.state.in_(ACTIVE_STATES))).scalar_one()
    if held >= venue.max_courses_per_term:
        raise DomainError(
            _l("The limit is %(n)s courses per person per term at this venue, and it has been reached."),
            code="term_limit", n=venue.max_courses_per_term)
    if phase.mode == "first_come" and phase.seat_cap is not None \
            and seats.phase_cap_reached(session, phase.id) and seats.seats_free(session, course.id) > 0:
        raise DomainError(_l("The %(n)s seats reserved for this phase are taken."),
                          code="phase_full", n=phase.seat_cap)
    return phase, learner


def apply(session: Session, course: Course, citizen: Citizen, learner: Learner | None,
          actor: Actor, *, channel: str = "online") -> Registration:
    """Apply for a course in its open phase.  Commits nothing: the caller commits.

    First-come phases admit at once while seats remain (then waitlist); lottery phases
    collect the application for the draw."""
    now = clock.now()
    phase, learner = check_can_apply(session, course, citizen, learner, lock=True)
    reg = Registration(
        entry_no=new_entry_no(course), course_id=course.id, phase_id=phase.id,
        venue_id=course.venue_id, term_id=course.term_id, citizen_id=citizen.id,
        learner_id=learner.id, state="applied", tier=0, channel=channel, applied_at=now,
    )
    session.add(reg)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_l("You have already registered for this course."), code="duplicate")
    session.add(RegistrationEvent(registration_id=reg.id, from_state=None, to_state="applied",
                                  at=now, actor=actor_label(actor), note=channel))
    if phase.mode == "first_come":
        if seats.take(session, course.id, phase.id):
            admit(session, reg, actor, seat_taken=True)
        else:
            waitlist(session, reg, actor, phase.seq * WAITLIST_PHASE_STRIDE + reg.id)
    else:
        notify.notify(session, "registration_received", citizen=citizen, registration=reg)
    return reg


def admit(session: Session, reg: Registration, actor: Actor, *, seat_taken: bool,
          note: str | None = None) -> Registration:
    """錄取: the seat is already taken by the caller; set the deadline and issue the slip."""
    if not seat_taken:  # pragma: no cover - a programming error, never a user's
        raise RuntimeError("admit() needs a seat taken first")
    transition(session, reg, "admitted", actor, note)
    reg.deadline_at = payment_deadline(reg.venue, clock.now())
    session.flush()
    _issue_slip(session, reg)
    notify.notify(session, "admitted", citizen=reg.citizen, registration=reg)
    return reg


def waitlist(session: Session, reg: Registration, actor: Actor, key: int,
             note: str | None = None, *, notify_now: bool = True) -> Registration:
    """備取 at ``key``; ``notify_now=False``: the caller sends the notices in one batch
    (:func:`notify.notify_many`, as a draw does)."""
    transition(session, reg, "waitlisted", actor, note)
    reg.waitlist_key = key
    if notify_now:
        notify.notify(session, "waitlisted", citizen=reg.citizen, registration=reg)
    return reg


def payment_deadline(venue: Venue, admitted_at: dt.datetime) -> dt.datetime:
    """N days counting the day of admission, ending 23:59:59 Asia/Taipei (payments.md)."""
    first_day = clock.taipei_today(admitted_at)
    return clock.end_of_taipei_day(first_day + dt.timedelta(days=max(venue.payment_days, 1) - 1))


def _issue_slip(session: Session, reg: Registration) -> None:
    from . import payments

    payments.issue_slip(session, reg)


# ---- leaving and losing seats ----------------------------------------------------

def withdraw(session: Session, reg: Registration, actor: Actor, note: str | None = None) -> None:
    """The citizen gives up before paying (or a clerk marks it withdrawn)."""
    _lock(session, reg)
    had_seat = reg.state == "admitted"
    transition(session, reg, "withdrawn", actor, note)
    if had_seat:
        _void_slip(session, reg)
        seats.release(session, reg.course_id)
    notify.notify(session, "withdrawn", citizen=reg.citizen, registration=reg)
    if had_seat:
        promote_waitlist(session, reg.course_id)


def forfeit(session: Session, reg: Registration, actor: Actor, note: str | None = None) -> None:
    """棄權: unpaid after the deadline (plus the posting grace), or given up."""
    _lock(session, reg)
    had_seat = reg.state == "admitted"
    transition(session, reg, "forfeited", actor, note)
    if had_seat:
        _void_slip(session, reg)
        seats.release(session, reg.course_id)
    notify.notify(session, "forfeited", citizen=reg.citizen, registration=reg)
    if had_seat:
        promote_waitlist(session, reg.course_id)


def _void_slip(session: Session, reg: Registration) -> None:
    from . import payments

    payments.void_slips(session, reg)


def _lock(session: Session, reg: Registration) -> None:
    session.execute(select(Registration.id).where(Registration.id == reg.id).with_for_update())
    session.refresh(reg)


def mark_paid(session: Session, reg: Registration, actor: Actor, note: str | None = None) -> None:
    transition(session, reg, "paid", actor, note)


def forfeit_overdue(session: Session, now: dt.datetime | None = None) -> int:
    """Forfeit every admitted registration whose deadline plus the venue's posting grace
    has passed.  Idempotent: a registration already forfeited or paid is skipped."""
    now = now or clock.now()
    ids = session.execute(
        select(Registration.id).join(Venue, Registration.venue_id == Venue.id)
        .where(Registration.state == "admitted", Registration.deadline_at.is_not(None),
               Registration.deadline_at < now)).scalars().all()
    done = 0
    for rid in ids:
        reg = session.execute(select(Registration).where(Registration.id == rid)
                              .with_for_update(skip_locked=True)).scalar_one_or_none()
        if reg is None or reg.state != "admitted":
            continue
        grace = dt.timedelta(days=reg.venue.posting_grace_days)
        if reg.deadline_at + grace >= now:
            continue
        forfeit(session, reg, Actor(), note="deadline passed unpaid")
        session.commit()
        done += 1
    return done


def promote_waitlist(session: Session, course_id: int, actor: Actor | None = None) -> int:
    """Give free seats to the first waitlisted applicants, each exactly once.

    Waitlisted rows are locked one at a time (SKIP LOCKED), then a seat is taken with the
    conditional UPDATE; a concurrent promoter can neither take the same row nor the same
    seat.  Stops after the term's last promotion day."""
    actor = actor or Actor()
    course = session.get(Course, course_id)
    if course is None or course.cancelled_at is not None:
        return 0
    last_day = course.term.promotion_last_day or course.first_date
    if clock.taipei_today() > last_day:
        return 0
    promoted = 0
    while seats.seats_free(session, course_id) > 0:
        reg = session.execute(
            select(Registration).where(Registration.course_id == course_id,
                                       Registration.state == "waitlisted")
            .order_by(Registration.waitlist_key).limit(1).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if reg is None:
            break
        if not seats.take(session, course_id):
            break
        admit(session, reg, actor, seat_taken=True, note="promoted from the waitlist")
        notify.notify(session, "promoted", citizen=reg.citizen, registration=reg)
        promoted += 1
    return promoted


def waitlist_positions(session: Session, course_id: int) -> dict[int, int]:
    """Registration id -> waitlist position (1, 2, …) in promotion order."""
    ids = session.execute(select(Registration.id).where(
        Registration.course_id == course_id, Registration.state == "waitlisted")
        .order_by(Registration.waitlist_key)).scalars().all()
    return {rid: i for i, rid in enumerate(ids, start=1)}


def for_citizen(session: Session, citizen: Citizen, reg_id: int) -> Registration:
    """A registration of this citizen's, or 404 (never reveal others' ids)."""
    reg = session.get(Registration, reg_id)
    if reg is None or reg.citizen_id != citizen.id:
        raise NotFound(_l("No such registration on your account."), code="unknown_registration")
    return reg
