"""The registration engine on PostgreSQL: phases, seats, waitlist, withdrawal, forfeit."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.models import Notification, PaymentSlip, Registration, RegistrationEvent
from app.services import clock, draws, registration
from app.services.audit import Actor
from app.services.errors import DomainError, IllegalTransition

SYSTEM = Actor()


def apply(db, course, citizen, learner=None):
    reg = registration.apply(db.session, course, citizen, learner, SYSTEM)
    db.session.commit()
    return reg


def test_first_come_admits_with_deadline_and_slip(make, db):
    venue = make.venue(payment_days=3)
    course = make.course(venue, quota=2)
    reg = apply(db, course, make.citizen())
    assert reg.state == "admitted"
    # 3 days counting the admission day, ending 23:59:59 Taipei on the last day
    local = clock.to_taipei(reg.deadline_at)
    assert (local.hour, local.minute, local.second) == (23, 59, 59)
    assert local.date() == clock.taipei_today() + dt.timedelta(days=2)
    slip = db.session.execute(select(PaymentSlip).where(PaymentSlip.registration_id == reg.id)).scalar_one()
    assert slip.amount == 2800 and slip.status == "open"
    events = db.session.execute(select(RegistrationEvent.to_state).where(
        RegistrationEvent.registration_id == reg.id).order_by(RegistrationEvent.id)).scalars().all()
    assert events == ["applied", "admitted"]
    kinds = set(db.session.execute(select(Notification.event, Notification.channel).where(
        Notification.registration_id == reg.id)).all())
    assert kinds == {("admitted", "email"), ("admitted", "sms")}


def test_waitlist_in_arrival_order_and_promotion_on_withdrawal(make, db):
    venue = make.venue()
    course = make.course(venue, quota=1)
    first = apply(db, course, make.citizen())
    w1 = apply(db, course, make.citizen(name="陳一"))
    w2 = apply(db, course, make.citizen(name="陳二"))
    assert [first.state, w1.state, w2.state] == ["admitted", "waitlisted", "waitlisted"]
    assert registration.waitlist_positions(db.session, course.id) == {w1.id: 1, w2.id: 2}
    registration.withdraw(db.session, first, SYSTEM)
    db.session.commit()
    db.session.refresh(w1)
    db.session.refresh(w2)
    db.session.refresh(course)
    assert (w1.state, w2.state) == ("admitted", "waitlisted")
    assert w1.deadline_at is not None
    assert course.seats_taken == 1
    assert registration.waitlist_positions(db.session, course.id) == {w2.id: 1}
    assert db.session.execute(select(Notification.id).where(
        Notification.registration_id == w1.id, Notification.event == "promoted")).first()


def test_forfeit_only_after_deadline_plus_grace_then_promotes_once(make, db):
    venue = make.venue(posting_grace_days=2)
    course = make.course(venue, quota=1)
    admitted = apply(db, course, make.citizen())
    waiting = apply(db, course, make.citizen(name="李四"))
    admitted.deadline_at = clock.now() - dt.timedelta(days=1)
    db.session.commit()
    assert registration.forfeit_overdue(db.session) == 0  # still within the posting grace
    admitted.deadline_at = clock.now() - dt.timedelta(days=3)
    db.session.commit()
    assert registration.forfeit_overdue(db.session) == 1
    assert registration.forfeit_overdue(db.session) == 0  # idempotent
    db.session.refresh(admitted)
    db.session.refresh(waiting)
    assert admitted.state == "forfeited"
    assert waiting.state == "admitted" and waiting.deadline_at > clock.now()
    slips = db.session.execute(select(PaymentSlip.status).where(
        PaymentSlip.registration_id == admitted.id)).scalars().all()
    assert slips == ["void"]
    db.session.refresh(course)
    assert course.seats_taken == 1


def test_reasons_for_refusal(make, db):
    venue = make.venue(max_courses_per_term=1)
    term = make.term(venue)
    c1 = make.course(venue, term, quota=5)
    c2 = make.course(venue, term, quota=5)
    kid_course = make.course(venue, term, age_min=6, age_max=12)
    closed = make.course(venue, term, opened_hours_ago=100, phase_hours=10)
    citizen = make.citizen()
    apply(db, c1, citizen)
    with pytest.raises(DomainError) as dup:
        apply(db, c1, citizen)
    assert dup.value.code == "duplicate" and dup.value.status == 409
    with pytest.raises(DomainError) as limit:
        apply(db, c2, citizen)
    assert limit.value.code == "term_limit"
    with pytest.raises(DomainError) as old:
        apply(db, kid_course, make.citizen())
    assert old.value.code == "too_old"
    with pytest.raises(DomainError) as shut:
        apply(db, closed, make.citizen())
    assert shut.value.code == "phase_closed"


def test_senior_phase_with_cap(make, db):
    venue = make.venue()
    course = make.course(venue, quota=10, phases=[{"mode": "first_come", "eligibility": "senior",
                                                    "seat_cap": 2}])
    young = make.citizen(birth=dt.date(1990, 1, 1))
    with pytest.raises(DomainError) as exc:
        apply(db, course, young)
    assert exc.value.code == "not_senior"
    seniors = [make.citizen(name=f"老{i}", birth=dt.date(1950, 1, 1)) for i in range(3)]
    assert apply(db, course, seniors[0]).state == "admitted"
    assert apply(db, course, seniors[1]).state == "admitted"
    with pytest.raises(DomainError) as cap:
        apply(db, course, seniors[2])
    assert cap.value.code == "phase_full"


def test_illegal_transition_is_refused(make, db):
    course = make.course(make.venue())
    reg = apply(db, course, make.citizen())
    with pytest.raises(IllegalTransition):
        registration.transition(db.session, reg, "refunded", SYSTEM)
    assert reg.state == "admitted"


def test_first_come_waits_for_pending_lottery(make, db):
    now = clock.now()
    course = make.course(make.venue(), phases=[
        {"mode": "lottery", "opens_at": now - dt.timedelta(hours=5), "closes_at": now - dt.timedelta(hours=1),
         "auto_draw": False},
        {"mode": "first_come", "opens_at": now - dt.timedelta(minutes=30), "closes_at": now + dt.timedelta(days=1)},
    ])
    with pytest.raises(DomainError) as exc:
        apply(db, course, make.citizen())
    assert exc.value.code == "draw_pending"
    draws.draw(db.session, course.phases[0], "beacon-2026", Actor(type="staff", name="dd-admin"))
    db.session.commit()
    assert apply(db, course, make.citizen()).state == "admitted"


def test_lottery_commitment_is_frozen(make, db):
    course = make.course(make.venue(), phases=["lottery"])
    phase = course.phases[0]
    assert phase.commitment and phase.seed_hex and len(phase.commitment) == 64
    phase.commitment = "0" * 64
    with pytest.raises(DomainError):
        db.session.flush()
    db.session.rollback()
