"""Lottery phases (電腦抽籤) in the database: commitment, draw, published record.

The algorithm is :mod:`app.services.lottery` (specs/lottery.md).  The seed is drawn and
its commitment published when the phase is created; both are then immutable.  The draw
runs once per phase (the phase row is locked), reveals the seed and freezes the record.
"""
from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from ..models import Course, Phase, Registration
from . import audit, clock, lottery, notify, privacy, seats
from .audit import Actor
from .errors import Conflict, DomainError
from .registration import WAITLIST_PHASE_STRIDE, admit, waitlist


@event.listens_for(Phase, "before_insert")
def _commit_seed(mapper, connection, phase: Phase) -> None:
    """Every lottery phase gets its secret seed and public commitment when created."""
    if phase.mode == "lottery" and not phase.seed_hex:
        phase.seed_hex = lottery.new_seed()
        phase.commitment = lottery.commitment(phase.seed_hex)


@event.listens_for(Phase, "before_update")
def _freeze_lottery(mapper, connection, phase: Phase) -> None:
    from sqlalchemy import inspect

    state = inspect(phase)
    for name in ("seed_hex", "commitment", "draw_record", "beacon", "drawn_at"):
        hist = state.attrs[name].history
        if hist.deleted and hist.deleted[0] is not None:
            raise Conflict(_l("A published lottery value cannot be changed."), code="lottery_frozen")
    if phase.mode == "lottery" and not phase.seed_hex:
        phase.seed_hex = lottery.new_seed()
        phase.commitment = lottery.commitment(phase.seed_hex)


def _name(reg: Registration) -> str:
    return privacy.mask_name(reg.learner.name)


def entries_of(session: Session, phase: Phase):
    regs = session.execute(select(Registration).where(Registration.phase_id == phase.id)
                           .options(selectinload(Registration.learner),
                                    selectinload(Registration.citizen))
                           .order_by(Registration.id)).scalars().all()
    entries = [lottery.Entry(r.entry_no, _name(r), r.tier) for r in regs
               if r.state != "withdrawn" or r.ticket is not None]
    excluded = [lottery.Excluded(r.entry_no, _name(r), "withdrawn") for r in regs
                if r.state == "withdrawn" and r.ticket is None]
    return regs, entries, excluded


def public_record(session: Session, phase: Phase) -> dict:
    """The lottery record of lottery.md: pending before the draw, frozen after it."""
    if phase.draw_record:
        return json.loads(phase.draw_record)
    _, entries, excluded = entries_of(session, phase)
    return lottery.pending_record(phase.course.code, phase.commitment, entries, excluded)


def draw(session: Session, phase: Phase, beacon: str, actor: Actor) -> dict:
    """Run the phase's draw once.  Running it again returns the same published record."""
    if phase.mode != "lottery":
        raise DomainError(_l("This phase is not a lottery."), code="not_lottery")
    session.execute(select(Phase.id).where(Phase.id == phase.id).with_for_update())
    session.refresh(phase)
    if phase.drawn_at is not None:
        return json.loads(phase.draw_record)
    now = clock.now()
    if now < phase.closes_at:
        raise DomainError(_l("The lottery can be drawn only after the phase closes."),
                          code="phase_open")
    beacon = (beacon or "").strip()
    if len(beacon) > 200 or not beacon.isprintable():
        raise DomainError(_l("The beacon must be printable text of at most 200 characters."),
                          code="bad_beacon")
    course: Course = session.execute(select(Course).where(Course.id == phase.course_id)
                                     .with_for_update()).scalar_one()
    free = max(course.quota - course.seats_taken, 0)
    if phase.seat_cap is not None:
        free = min(free, max(phase.seat_cap - phase.seats_filled, 0))
    regs, _, _ = entries_of(session, phase)
    candidates = [r for r in regs if r.state == "applied"]
    excluded = [lottery.Excluded(r.entry_no, _name(r), "withdrawn")
                for r in regs if r.state == "withdrawn"]
    result = lottery.draw(phase.seed_hex, beacon, course.code, free,
                          [lottery.Entry(r.entry_no, _name(r), r.tier) for r in candidates],
                          excluded)
    by_no = {r.entry_no: r for r in candidates}
    admitted = len(result.admitted)
    if admitted and not seats.take(session, course.id, phase.id, admitted):
        raise Conflict(_l("The seats changed during the draw; please try again."), code="retry")
    waitlisted = []
    for drawn in result.entries:
        reg = by_no[drawn.entry_no]
        reg.ticket = drawn.ticket
        if drawn.outcome == lottery.ADMITTED:
            admit(session, reg, actor, seat_taken=True, note="lottery")
        else:
            waitlist(session, reg, actor, phase.seq * WAITLIST_PHASE_STRIDE + drawn.position,
                     note="lottery", notify_now=False)
            waitlisted.append(reg)
    notify.notify_many(session, "waitlisted", [(reg.citizen, reg) for reg in waitlisted])
    record = lottery.build_record(course.code, phase.commitment, phase.seed_hex, beacon, free,
                                  now, result, excluded)
    phase.beacon = beacon
    phase.drawn_at = now
    phase.drawn_by = actor.name
    phase.seats_at_draw = free
    phase.draw_record = json.dumps(record, ensure_ascii=False)
    audit.record(session, "lottery_draw", actor, target=f"phase:{phase.id}",
                 detail={"course": course.code, "seats": free, "entries": len(result.entries),
                         "beacon": beacon})
    return record


def due_draws(session: Session, now=None) -> list[int]:
    now = now or clock.now()
    return session.execute(select(Phase.id).where(
        Phase.mode == "lottery", Phase.auto_draw.is_(True), Phase.drawn_at.is_(None),
        Phase.closes_at <= now)).scalars().all()


def run_due_draws(session: Session) -> int:
    """Draw every closed automatic lottery phase with an empty beacon (idempotent)."""
    done = 0
    for pid in due_draws(session):
        phase = session.get(Phase, pid)
        draw(session, phase, "", Actor())
        session.commit()
        done += 1
    return done
