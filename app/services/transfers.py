"""Class transfers (轉班): a paid learner moves to another course of the same fee with
free seats before it starts, on a clerk's approval; the freed seat goes to the old
course's waitlist.  Seats move with the same conditional updates as registration."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Course, Registration, RegistrationEvent, Transfer
from ..models.registration import ACTIVE_STATES
from . import audit, clock, notify, registration, seats
from .audit import Actor
from .errors import Conflict, DomainError


def request_transfer(session: Session, reg: Registration, to_course: Course, reason: str,
                     actor: Actor) -> Transfer:
    _check(session, reg, to_course)
    pending = session.execute(select(Transfer.id).where(
        Transfer.registration_id == reg.id, Transfer.state == "requested")).first()
    if pending:
        raise Conflict(_l("A transfer request for this registration is already waiting."),
                       code="transfer_pending")
    item = Transfer(registration_id=reg.id, venue_id=reg.venue_id, to_course_id=to_course.id,
                    reason=(reason or "")[:500])
    session.add(item)
    session.flush()
    audit.record(session, "transfer_requested", actor, target=f"transfer:{item.id}",
                 detail={"from": reg.course.code, "to": to_course.code})
    return item


def _check(session: Session, reg: Registration, to_course: Course) -> None:
    if reg.state != "paid":
        raise DomainError(_l("Only a paid registration can be transferred."), code="not_paid")
    if to_course.id == reg.course_id:
        raise DomainError(_l("Choose a different course."), code="same_course")
    if to_course.venue_id != reg.venue_id:
        raise DomainError(_l("Transfers are possible only within the same venue."), code="other_venue")
    if to_course.fee != reg.course.fee or to_course.materials_fee != reg.course.materials_fee:
        raise DomainError(_l("The new course must have the same fee."), code="different_fee")
    if to_course.cancelled_at is not None or to_course.first_date <= clock.taipei_today():
        raise DomainError(_l("The new course has already started or was cancelled."), code="started")
    age = clock.age_on(reg.learner.birth_date, to_course.first_date)
    if (to_course.age_min is not None and age < to_course.age_min) or \
            (to_course.age_max is not None and age > to_course.age_max):
        raise DomainError(_l("The learner's age does not fit the new course."), code="age")
    dup = session.execute(select(Registration.id).where(
        Registration.learner_id == reg.learner_id, Registration.course_id == to_course.id,
        Registration.state.in_(ACTIVE_STATES))).first()
    if dup:
        raise Conflict(_l("The learner is already registered for the new course."), code="duplicate")


def approve(session: Session, item: Transfer, actor: Actor) -> Registration:
    """Move the seat: take one in the new course (or fail), close the old registration as
    transferred, free its seat and promote the old course's waitlist."""
    session.execute(select(Transfer.id).where(Transfer.id == item.id).with_for_update())
    session.refresh(item)
    if item.state != "requested":
        raise Conflict(_l("This transfer was already decided."), code="decided")
    old = item.registration
    session.execute(select(Registration.id).where(Registration.id == old.id).with_for_update())
    session.refresh(old)
    _check(session, old, item.to_course)
    if not seats.take(session, item.to_course_id):
        raise DomainError(_l("The new course has no free seat."), code="full")
    now = clock.now()
    new = Registration(
        entry_no=registration.new_entry_no(item.to_course), course_id=item.to_course_id,
        phase_id=None, venue_id=old.venue_id, term_id=item.to_course.term_id,
        citizen_id=old.citizen_id, learner_id=old.learner_id, state="paid", channel="transfer",
        applied_at=now, admitted_at=now, paid_at=old.paid_at or now)
    registration.transition(session, old, "transferred", actor, note=f"to {item.to_course.code}")
    session.flush()  # the old one is no longer active before the new one is inserted
    session.add(new)
    session.flush()
    session.add(RegistrationEvent(registration_id=new.id, from_state=None, to_state="paid", at=now,
                                  actor=registration.actor_label(actor),
                                  note=f"transferred from {old.entry_no}"))
    seats.release(session, old.course_id)
    item.state, item.decided_by, item.decided_at = "approved", actor.name, now
    item.new_registration_id = new.id
    notify.notify(session, "transfer_approved", citizen=old.citizen, registration=new,
                  key=f"transfer-{item.id}")
    audit.record(session, "transfer_approved", actor, target=f"transfer:{item.id}",
                 detail={"from": old.entry_no, "to": new.entry_no})
    registration.promote_waitlist(session, old.course_id)
    return new


def reject(session: Session, item: Transfer, actor: Actor, note: str = "") -> None:
    if item.state != "requested":
        raise Conflict(_l("This transfer was already decided."), code="decided")
    item.state, item.decided_by, item.decided_at = "rejected", actor.name, clock.now()
    audit.record(session, "transfer_rejected", actor, target=f"transfer:{item.id}",
                 detail={"note": note[:200]})
