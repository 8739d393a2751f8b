"""Refunds (線上退費, 匯款退費) and course cancellation.

A refund is its own object with states: ``requested`` → ``approved`` → ``remitted``, or
``requested`` → ``rejected``.  Citizens request one for a paid registration; the amount
follows the venue's refund policy by the date of the request (Asia/Taipei).  Refunds the
rules decide by themselves (course cancelled, money that arrived after a forfeit, a double
payment, a clerk's decision on an exception) are created ``approved`` by the system.
Approved refunds with a bank account are exported as a remittance batch (CSV for the
bank's batch transfer), then marked remitted.  Every step notifies the citizen and is
recorded in the audit trail.  A refund never exceeds what was paid for the registration.

Default policy (``Venue.refund_policy == "default"``), by the date of the request:

* before the first class: 90 %;
* before one third of the sessions have taken place: 50 %.  Sessions are weekly on the
  course's weekdays from its first date, skipping the term's no-class days; the cut-off is
  the date of session number ceil(sessions / 3): a request on that date gets nothing;
* after that: nothing.

The percentage applies to the payment applied to the registration (its slip amount,
materials included), rounded half up to a whole dollar.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterator, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import Citizen, Course, Payment, PaymentSlip, Refund, Registration, RemittanceBatch
from ..models.registration import ACTIVE_STATES
from . import accounts, audit, clock, notify, seats
from .accounts import FieldError
from .audit import Actor
from .errors import Conflict, DomainError, NotFound
from .payments import round_half_up
from .registration import actor_label, promote_waitlist, transition

KINDS = ("citizen", "cancelled", "late_credit", "double_payment", "exception")
OPEN_STATES = ("requested", "approved", "remitted")  # count against what was paid


# ---- policy ----------------------------------------------------------------------

def _no_class_days(course: Course) -> set[dt.date]:
    days = set()
    for part in (course.term.no_class_days or "").replace("\n", ",").split(","):
        try:
            days.add(dt.date.fromisoformat(part.strip()))
        except ValueError:
            continue
    return days


def session_dates(course: Course) -> Iterator[dt.date]:
    """The dates of the course's sessions: the first date, then weekly on its weekdays
    (ISO numbers, e.g. ``"1,3"``), skipping the term's no-class days."""
    weekdays = {int(p) for p in (course.weekdays or "").split(",") if p.strip().isdigit()}
    weekdays = weekdays or {course.first_date.isoweekday()}
    skip = _no_class_days(course)
    day, found = course.first_date, 0
    limit = course.first_date + dt.timedelta(days=366 * 3)
    while found < course.sessions and day <= limit:
        if day == course.first_date or (day.isoweekday() in weekdays and day not in skip):
            found += 1
            yield day
        day += dt.timedelta(days=1)


def session_date(course: Course, number: int) -> dt.date:
    """The date of session ``number`` (1-based); the last one if there are fewer."""
    last = course.first_date
    for n, day in enumerate(session_dates(course), start=1):
        last = day
        if n == number:
            break
    return last


def default_policy(course: Course, on: dt.date) -> int:
    if on < course.first_date:
        return 90
    if on < session_date(course, math.ceil(course.sessions / 3)):
        return 50
    return 0


POLICIES: dict[str, Callable[[Course, dt.date], int]] = {"default": default_policy}


def refund_percent(course: Course, on: dt.date | None = None) -> int:
    policy = POLICIES.get(course.venue.refund_policy or "default", default_policy)
    return policy(course, on or clock.taipei_today())


# ---- money of a registration -----------------------------------------------------

def _credits(reg: Registration, statuses: Sequence[str]):
    return (select(func.coalesce(func.sum(Payment.amount), 0))
            .join(PaymentSlip, Payment.slip_id == PaymentSlip.id)
            .where(PaymentSlip.registration_id == reg.id, Payment.kind == "credit",
                   Payment.status.in_(statuses)))


def applied_amount(session: Session, reg: Registration) -> int:
    """The payment applied to the registration (what bought the seat)."""
    return int(session.execute(_credits(reg, ("applied",))).scalar_one())


def paid_amount(session: Session, reg: Registration) -> int:
    """Everything received for the registration and not reversed (double payments and
    late credits included)."""
    return int(session.execute(_credits(reg, ("applied", "refunded"))).scalar_one())


def refunded_amount(session: Session, reg: Registration) -> int:
    return int(session.execute(select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.registration_id == reg.id, Refund.state.in_(OPEN_STATES))).scalar_one())


def refund_cap(session: Session, reg: Registration) -> int:
    """The most that may still be refunded: paid minus refunds not rejected."""
    return max(paid_amount(session, reg) - refunded_amount(session, reg), 0)


@dataclass
class RefundQuote:
    """What a citizen would get back if they asked today."""

    paid: int
    percent: int
    amount: int
    on: dt.date


def quote(session: Session, reg: Registration, on: dt.date | None = None) -> RefundQuote:
    on = on or clock.taipei_today()
    paid = applied_amount(session, reg)
    percent = refund_percent(reg.course, on)
    amount = round_half_up(Decimal(paid) * Decimal(percent) / Decimal(100))
    return RefundQuote(paid, percent, min(amount, refund_cap(session, reg)), on)


# ---- bank accounts ---------------------------------------------------------------

@dataclass
class BankAccount:
    """Where a refund is remitted (匯款帳戶)."""

    bank_code: str
    branch_code: str
    account_number: str
    holder: str


def clean_account(bank_code: str, branch_code: str, account_number: str,
                  holder: str) -> BankAccount:
    """Normalise and check the four fields; FieldError names the bad one."""
    bank = (bank_code or "").strip()
    branch = (branch_code or "").strip()
    number = re.sub(r"[\s-]", "", account_number or "")
    name = " ".join((holder or "").split())
    if not re.fullmatch(r"\d{3}", bank):
        raise FieldError("bank_code", _l("Enter the 3-digit bank code, e.g. 004."))
    if not re.fullmatch(r"\d{4}", branch):
        raise FieldError("branch_code", _l("Enter the 4-digit branch code."))
    if not re.fullmatch(r"\d{6,16}", number):
        raise FieldError("account_number", _l("Enter the account number: 6 to 16 digits."))
    if not 1 <= len(name) <= 64 or name[0] in "=+-@" or any(ord(c) < 32 for c in name):
        raise FieldError("account_holder", _l("Enter the account holder's name (at most 64 characters)."))
    return BankAccount(bank, branch, number, name)


def _store_account(refund: Refund, account: BankAccount) -> None:
    refund.bank_code = account.bank_code
    refund.branch_code = account.branch_code
    refund.account_enc = accounts.cipher().encrypt(account.account_number)
    refund.account_holder = account.holder


def has_account(refund: Refund) -> bool:
    return bool(refund.account_enc and refund.bank_code and refund.branch_code)


# ---- locks -----------------------------------------------------------------------

def lock_registration(session: Session, reg_id: int) -> Registration:
    reg = session.execute(select(Registration).where(Registration.id == reg_id)
                          .with_for_update().execution_options(populate_existing=True)
                          ).scalar_one()
    return reg


def _lock_refund(session: Session, refund_id: int) -> Refund:
    refund = session.execute(select(Refund).where(Refund.id == refund_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if refund is None:
        raise NotFound(_l("No such refund."), code="unknown_refund")
    return refund


def _record(session: Session, event: str, actor: Actor, refund: Refund, **detail) -> None:
    audit.record(session, event, actor, target=f"refund:{refund.id}",
                 detail={"registration": refund.registration_id, "amount": refund.amount,
                         "kind": refund.kind, **detail})


# ---- the citizen's request -------------------------------------------------------

def request_refund(session: Session, reg: Registration, citizen: Citizen, *, password: str,
                   reason: str, account: BankAccount, quoted_amount: int | None,
                   actor: Actor) -> Refund:
    """paid → refund_requested, with a Refund of the policy's amount.

    ``quoted_amount`` is the amount the form showed; if it differs from today's amount
    the request is refused (the amount changed, or the form was tampered with)."""
    if reg.citizen_id != citizen.id:
        raise NotFound(_l("No such registration on your account."), code="unknown_registration")
    accounts.verify_password(citizen, password)
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 500:
        raise FieldError("reason", _l("Tell us why you ask for a refund (at most 500 characters)."))
    reg = lock_registration(session, reg.id)
    if reg.state != "paid":
        raise Conflict(_l("Only a paid registration can be refunded."), code="not_paid")
    offer = quote(session, reg)
    if quoted_amount is not None and quoted_amount != offer.amount:
        raise DomainError(_l("The refundable amount is now NT$%(amount)s. Please review it and send the form again."),
                          code="amount_changed", amount=offer.amount)
    if offer.amount <= 0:
        raise DomainError(_l("No refund is due any more: one third of the sessions have taken place."),
                          code="nothing_refundable")
    transition(session, reg, "refund_requested", actor, note=reason[:200])
    refund = Refund(registration_id=reg.id, venue_id=reg.venue_id, kind="citizen",
                    amount=offer.amount, percent=offer.percent, reason=reason, state="requested",
                    requested_at=clock.now())
    _store_account(refund, account)
    session.add(refund)
    session.flush()
    notify.notify(session, "refund_requested", citizen=reg.citizen, registration=reg,
                  key=str(refund.id))
    _record(session, "refund_requested", actor, refund, percent=offer.percent)
    return refund


def give_account(session: Session, refund: Refund, citizen: Citizen, *, password: str,
                 account: BankAccount, actor: Actor) -> Refund:
    """The citizen tells where an automatic refund (cancellation, late credit) goes."""
    if refund.registration.citizen_id != citizen.id:
        raise NotFound(_l("No such refund."), code="unknown_refund")
    accounts.verify_password(citizen, password)
    refund = _lock_refund(session, refund.id)
    if refund.state not in ("requested", "approved") or refund.batch_id is not None:
        raise Conflict(_l("This refund is already being remitted; its account cannot change."),
                       code="refund_locked")
    _store_account(refund, account)
    _record(session, "refund_account_given", actor, refund)
    return refund


def awaiting_account(session: Session, reg: Registration) -> Refund | None:
    """An approved refund of this registration that still needs a bank account."""
    return session.execute(select(Refund).where(
        Refund.registration_id == reg.id, Refund.state.in_(("requested", "approved")),
        Refund.batch_id.is_(None), Refund.account_enc.is_(None)).order_by(Refund.id)
        .limit(1)).scalar_one_or_none()


# ---- the clerk's decision --------------------------------------------------------

def approve(session: Session, refund: Refund, actor: Actor, note: str = "") -> Refund:
    """requested → approved; the registration becomes refunded and its seat goes to the
    waitlist."""
    refund = _lock_refund(session, refund.id)
    if refund.state != "requested":
        raise Conflict(_l("This refund has already been decided."), code="already_decided")
    reg = lock_registration(session, refund.registration_id)
    refund.state, refund.decided_at = "approved", clock.now()
    refund.decided_by, refund.decision_note = actor_label(actor)[:80], note or None
    if reg.state == "refund_requested":
        transition(session, reg, "refunded", actor, note=f"refund {refund.id} approved")
        seats.release(session, reg.course_id)
    notify.notify(session, "refund_approved", citizen=reg.citizen, registration=reg,
                  key=str(refund.id))
    _record(session, "refund_approved", actor, refund, note=note)
    promote_waitlist(session, reg.course_id)
    return refund


def reject(session: Session, refund: Refund, actor: Actor, note: str = "") -> Refund:
    """requested → rejected; the registration is paid again."""
    refund = _lock_refund(session, refund.id)
    if refund.state != "requested":
        raise Conflict(_l("This refund has already been decided."), code="already_decided")
    reg = lock_registration(session, refund.registration_id)
    refund.state, refund.decided_at = "rejected", clock.now()
    refund.decided_by, refund.decision_note = actor_label(actor)[:80], note or None
    if reg.state == "refund_requested":
        paid_at = reg.paid_at
        transition(session, reg, "paid", actor, note=f"refund {refund.id} rejected")
        reg.paid_at = paid_at  # the money arrived when it did
    notify.notify(session, "refund_rejected", citizen=reg.citizen, registration=reg,
                  key=str(refund.id))
    _record(session, "refund_rejected", actor, refund, note=note)
    return refund


def create_automatic(session: Session, reg: Registration, kind: str, amount: int, actor: Actor,
                     *, payment: Payment | None = None, account_from: Refund | None = None,
                     note: str = "", record: bool = True) -> Refund:
    """A refund the rules decide (full refunds): created approved, by the system.

    ``record=False`` leaves the audit entry to the caller (reconciliation writes its trail
    at the end of its transaction)."""
    if kind not in KINDS or kind == "citizen":
        raise ValueError(f"not an automatic refund kind: {kind}")
    if amount <= 0 or amount > refund_cap(session, reg):
        raise Conflict(_l("A refund cannot exceed what was paid for the registration."),
                       code="refund_exceeds_paid")
    now = clock.now()
    refund = Refund(registration_id=reg.id, venue_id=reg.venue_id, kind=kind, amount=amount,
                    percent=100, reason=note, state="approved", requested_at=now, decided_at=now,
                    decided_by=actor_label(actor)[:80], payment_id=payment.id if payment else None)
    if account_from is not None and has_account(account_from):
        refund.bank_code, refund.branch_code = account_from.bank_code, account_from.branch_code
        refund.account_enc, refund.account_holder = account_from.account_enc, account_from.account_holder
    session.add(refund)
    session.flush()
    notify.notify(session, "refund_approved", citizen=reg.citizen, registration=reg,
                  key=str(refund.id))
    if record:
        _record(session, "refund_created", actor, refund)
    return refund


# ---- remittance ------------------------------------------------------------------

def remittable(session: Session, venue_id: int) -> list[Refund]:
    """Approved refunds of the venue with an account, not yet in a batch."""
    return list(session.execute(select(Refund).where(
        Refund.venue_id == venue_id, Refund.state == "approved", Refund.batch_id.is_(None),
        Refund.account_enc.is_not(None)).order_by(Refund.id)).scalars())


def create_remittance_batch(session: Session, venue_id: int, refunds: Sequence[Refund],
                            actor: Actor) -> RemittanceBatch:
    """Put approved refunds (with accounts) of one venue into a new remittance batch."""
    ids = sorted({r.id for r in refunds})
    if not ids:
        raise DomainError(_l("Choose approved refunds that have a bank account."), code="empty_batch")
    rows = list(session.execute(select(Refund).where(Refund.id.in_(ids)).order_by(Refund.id)
                                .with_for_update().execution_options(populate_existing=True)
                                ).scalars())
    unfit = [r.id for r in rows if r.venue_id != venue_id or r.state != "approved"
             or r.batch_id is not None or not has_account(r)]
    if unfit or len(rows) != len(ids):
        raise Conflict(_l("Only approved refunds of this venue with a bank account and not yet in a batch can be remitted (refunds %(ids)s are not)."),
                       code="not_remittable", ids=", ".join(map(str, unfit)) or "?")
    batch = RemittanceBatch(venue_id=venue_id, created_by=actor_label(actor)[:80],
                            count=len(rows), total=sum(r.amount for r in rows),
                            created_at=clock.now())
    session.add(batch)
    session.flush()
    for refund in rows:
        refund.batch_id = batch.id
    audit.record(session, "remittance_batch_created", actor, target=f"remittance:{batch.id}",
                 detail={"refunds": ids, "total": batch.total})
    return batch


CSV_HEADER = ("bank_code", "branch_code", "account_number", "account_holder", "amount",
              "reference")


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def remittance_csv(session: Session, batch: RemittanceBatch, actor: Actor) -> str:
    """The bank's batch-transfer file: one line per refund, accounts decrypted.
    Exporting is recorded (it reveals account numbers)."""
    cipher = accounts.cipher()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    refunds = session.execute(select(Refund).where(Refund.batch_id == batch.id)
                              .order_by(Refund.id)).scalars()
    for r in refunds:
        writer.writerow([_cell(v) for v in (
            r.bank_code, r.branch_code, cipher.decrypt(r.account_enc), r.account_holder,
            r.amount, f"R{r.id:08d} {r.registration.entry_no}")])
    audit.record(session, "remittance_exported", actor, target=f"remittance:{batch.id}",
                 detail={"count": batch.count, "total": batch.total})
    return out.getvalue()


def mark_remitted(session: Session, batch: RemittanceBatch, actor: Actor) -> int:
    """The bank has transferred the batch: its refunds become remitted."""
    batch = session.execute(select(RemittanceBatch).where(RemittanceBatch.id == batch.id)
                            .with_for_update().execution_options(populate_existing=True)
                            ).scalar_one()
    if batch.remitted_at is not None:
        raise Conflict(_l("This batch has already been marked remitted."), code="already_remitted")
    now = clock.now()
    done = 0
    for refund in session.execute(select(Refund).where(
            Refund.batch_id == batch.id, Refund.state == "approved").order_by(Refund.id)
            .with_for_update()).scalars():
        refund.state, refund.remitted_at = "remitted", now
        notify.notify(session, "refund_remitted", citizen=refund.registration.citizen,
                      registration=refund.registration, key=str(refund.id))
        _record(session, "refund_remitted", actor, refund, batch=batch.id)
        done += 1
    batch.remitted_at = now
    return done


# ---- course cancellation ---------------------------------------------------------

def cancel_course(session: Session, course: Course, actor: Actor) -> dict[str, int]:
    """The venue cancels the course: every paid registration is cancelled with a full
    refund of what was paid, the others are cancelled and their slips voided.  Idempotent:
    a cancelled course is left as it is."""
    course = session.execute(select(Course).where(Course.id == course.id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one()
    counts = {"refunded": 0, "cancelled": 0}
    if course.cancelled_at is not None:
        return counts
    course.cancelled_at = clock.now()
    ids = session.execute(select(Registration.id).where(
        Registration.course_id == course.id, Registration.state.in_(ACTIVE_STATES))
        .order_by(Registration.id)).scalars().all()
    for reg_id in ids:
        reg = lock_registration(session, reg_id)
        state = reg.state
        if state not in ACTIVE_STATES:
            continue
        pending = None
        if state == "refund_requested":
            pending = session.execute(select(Refund).where(
                Refund.registration_id == reg.id, Refund.state == "requested")
                .with_for_update()).scalars().first()
            if pending is not None:
                pending.state, pending.decided_at = "rejected", clock.now()
                pending.decided_by = actor_label(actor)[:80]
                pending.decision_note = "superseded by the full refund of the course cancellation"
                session.flush()
        transition(session, reg, "cancelled", actor, note="course cancelled")
        session.execute(update(PaymentSlip).where(PaymentSlip.registration_id == reg.id,
                                                  PaymentSlip.status == "open")
                        .values(status="void").execution_options(synchronize_session=False))
        if state in ("admitted", "paid", "refund_requested"):
            seats.release(session, course.id)
        amount = refund_cap(session, reg) if state in ("paid", "refund_requested") else 0
        if amount > 0:
            create_automatic(session, reg, "cancelled", amount, actor, account_from=pending,
                             note="course cancelled")
            counts["refunded"] += 1
        counts["cancelled"] += 1
        notify.notify(session, "course_cancelled", citizen=reg.citizen, registration=reg)
    audit.record(session, "course_cancelled", actor, target=f"course:{course.id}",
                 detail={"code": course.code, **counts})
    return counts
