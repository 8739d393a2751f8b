"""Amount due (身分別優惠) and payment slips (繳款單).

The amount is computed once, when the slip is issued, and frozen on it; a later change of
a discount rule does not alter an issued slip (payments.md).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..models import Course, DiscountRule, Learner, PaymentSlip, Registration, SlipSerial, Venue
from . import clock, identities, payment_codes
from .registration import SENIOR_AGE, is_returning_student, verified_identities

BANK_NAME = "臺灣銀行"
BANK_CODE = "004"


@dataclass
class AmountDue:
    """fee × factor rounded half up to a dollar, plus the undiscounted materials fee."""

    fee: int
    materials_fee: int
    factor: Decimal = Decimal(1)  # share of the fee to pay (1 = no discount)
    identities: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        """The share to pay as a whole percentage (for display and the slip)."""
        return round_half_up(self.factor * 100)

    @property
    def tuition(self) -> int:
        return round_half_up(Decimal(self.fee) * self.factor)

    @property
    def amount(self) -> int:
        return self.tuition + self.materials_fee


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def learner_identities(session: Session, learner: Learner, course: Course) -> set[str]:
    """Identities that count: automatic ones (senior on the first day, returning student)
    and claims verified by a clerk of this venue."""
    found = set(verified_identities(session, learner, course.venue_id))
    if clock.age_on(learner.birth_date, course.first_date) >= SENIOR_AGE:
        found.add("senior")
    if is_returning_student(session, learner, course):
        found.add("returning")
    return found


def amount_due(session: Session, course: Course, learner: Learner) -> AmountDue:
    venue: Venue = course.venue
    held = learner_identities(session, learner, course)
    rules = session.execute(select(DiscountRule).where(
        DiscountRule.venue_id == venue.id, DiscountRule.active.is_(True),
        DiscountRule.identity.in_(held) if held else DiscountRule.id < 0)).scalars().all()
    rules = sorted(rules, key=lambda r: (r.percent, r.identity))
    if not rules:
        return AmountDue(course.fee, course.materials_fee)
    if venue.allow_discount_stacking:
        factor = Decimal(1)
        for rule in rules:
            factor *= Decimal(rule.percent) / Decimal(100)
        return AmountDue(course.fee, course.materials_fee, factor, [r.identity for r in rules])
    best = rules[0]
    return AmountDue(course.fee, course.materials_fee, Decimal(best.percent) / Decimal(100),
                     [best.identity])


def _next_serial(session: Session, venue_id: int) -> int:
    """The next 8-digit slip serial.  Taken from an auto-increment row, so concurrent
    admissions never wait on each other (a lock on the venue row would serialise every
    admission of the venue, and deadlock against the foreign-key locks of inserts)."""
    row = SlipSerial()
    session.add(row)
    session.flush()
    if row.id > payment_codes.MAX_SERIAL:  # pragma: no cover - 100 million slips
        raise RuntimeError("slip serials exhausted: extend the virtual-account scheme")
    return row.id


def issue_slip(session: Session, reg: Registration) -> PaymentSlip:
    """Issue the slip for an admitted registration (a fresh one on promotion)."""
    void_slips(session, reg)
    course: Course = reg.course
    venue: Venue = course.venue
    due = amount_due(session, course, reg.learner)
    serial = _next_serial(session, venue.id)
    strategy = payment_codes.get_strategy(venue.check_digit_strategy)
    va = strategy(venue.collection_code, serial, due.amount)
    deadline_day = clock.to_taipei(reg.deadline_at).date()
    b1, b2, b3 = payment_codes.store_barcodes(deadline_day, venue.store_item_code, va, due.amount)
    slip = PaymentSlip(
        registration_id=reg.id, venue_id=venue.id, serial=serial, virtual_account=va,
        amount=due.amount, fee=due.fee, discount_percent=due.percent,
        discount_identities=",".join(due.identities), materials_fee=due.materials_fee,
        deadline_at=reg.deadline_at, barcode1=b1, barcode2=b2, barcode3=b3, status="open",
    )
    session.add(slip)
    session.flush()
    return slip


def void_slips(session: Session, reg: Registration) -> None:
    session.execute(text("UPDATE payment_slip SET status = 'void' "
                         "WHERE registration_id = :r AND status = 'open'"), {"r": reg.id})


def current_slip(session: Session, reg: Registration) -> PaymentSlip | None:
    return session.execute(select(PaymentSlip).where(PaymentSlip.registration_id == reg.id)
                           .order_by(PaymentSlip.id.desc()).limit(1)).scalar_one_or_none()


def identity_labels(slip: PaymentSlip) -> str:
    return "、".join(identities.label(i) for i in slip.discount_identities.split(",") if i)


def deadline_date(slip: PaymentSlip) -> dt.date:
    return clock.to_taipei(slip.deadline_at).date()


def record_counter_payment(session: Session, reg: Registration, actor):
    """Cash at the counter: see :func:`app.services.reconciliation.record_counter_payment`."""
    from .reconciliation import record_counter_payment as record

    return record(session, reg, actor)
