"""Automatic reconciliation (自動對帳): collection files and gateway notifications → money.

Every credit, from a bank file, a convenience-store file or a payment-gateway callback,
goes through one idempotent path, :meth:`_Run.receive`:

* The credit is inserted with ``INSERT … ON CONFLICT (source, external_serial) DO
  NOTHING``: the unique key is the idempotency key, so the same file twice, the same
  serial in two files, or two overlapping files imported at once credit a payment once.
  Credits are taken in one fixed order (credits before reversals, then by serial), so
  two imports wait on each other's serials in the same order and cannot deadlock.
* The registration row is locked (``SELECT … FOR UPDATE``) before its state is decided.
* Outcomes (``Payment.status``):
  - ``applied``: admitted → paid (or forfeited → paid, *reinstated*, when the seat is
    still free); the slip becomes paid, a numbered receipt is issued, the citizen is told;
  - ``refunded``: the money cannot buy the seat (seat taken after a forfeit, the
    registration closed, or paid already: a double payment): a full refund is created
    automatically (``exception_reason`` says why);
  - ``exception``: no slip matches, or the amount differs from the slip: kept for a clerk,
    who refunds it or marks it returned (:func:`refund_exception`, :func:`close_exception`);
  - ``reversed``: a later reversal (沖正) undid it.
* A reversal undoes the applied credit with the same reference and amount: the
  registration goes back from paid to **admitted if its payment deadline has not passed**
  (the slip is open again, the receipt withdrawn), else to **forfeited** (the seat goes to
  the waitlist).  A reversal of a credit waiting as an exception just closes it; of an
  automatically refunded credit, withdraws the refund if it has not been remitted yet.
  Anything else (the registration has moved on: refund requested, completed …) leaves the
  reversal as an exception for a clerk.
* A whole file is one transaction: a malformed line or a trailer mismatch rejects the file
  (recorded as a rejected batch with line-numbered errors) and nothing of it is applied.
* Receipts, waitlist promotions and audit entries, which take venue-wide or global
  locks, are written last, so those locks are never held while waiting for a serial.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..models import Payment, PaymentSlip, ReconciliationBatch, Refund, Registration, Venue
from . import audit, audit_review, clock, notify, receipts, refunds, seats
from .audit import SYSTEM, Actor
from .collection_files import BankCredit, FileFormatError, ParsedFile, detect_kind, decode_file
from .collection_files import parse_collection_file
from .errors import Conflict, DomainError, NotFound
from .ids import MAX_ID
from .registration import TRANSITIONS, actor_label, mark_paid, promote_waitlist, transition

RETRY_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
PAID_STATES = ("paid", "refund_requested", "completed")
#: A bank line's amount has 11 digits; the payment table keeps amounts in an integer column.
MAX_AMOUNT = MAX_ID


@dataclass(frozen=True)
class Credit:
    """One received credit (or reversal), whatever its source."""

    source: str  # bank | store | gateway
    serial: str  # the idempotency key within the source
    kind: str  # credit | reversal
    channel: str  # counter | atm | internet | webatm | 711 | FAM | HIL | OKM | gateway type
    reference: str  # virtual account (bank, gateway) or barcode 2 (store)
    amount: int
    paid_at: dt.datetime | None  # UTC
    posted_on: dt.date | None = None
    line_no: int | None = None

    @property
    def order(self) -> tuple[int, str]:
        return (1 if self.kind == "reversal" else 0, self.serial)


def _taipei(day: dt.date, time: dt.time) -> dt.datetime:
    return clock.taipei_to_utc(dt.datetime.combine(day, time))


def credits_of(parsed: ParsedFile) -> list[Credit]:
    """The file's records as credits, in processing order."""
    out = []
    for r in parsed.records:
        if isinstance(r, BankCredit):
            out.append(Credit("bank", r.serial, "credit" if r.sign == "+" else "reversal",
                              r.channel, r.virtual_account, r.amount,
                              _taipei(r.txn_date, r.txn_time), r.posting_date, r.line_no))
        else:
            out.append(Credit("store", r.serial, "credit", r.chain, r.barcode2, r.amount,
                              _taipei(r.paid_date, r.paid_time), None, r.line_no))
    return sorted(out, key=lambda c: c.order)


# ---- one transaction's work ----------------------------------------------------

class _Run:
    """Credits received in one transaction, and the work deferred to its end."""

    def __init__(self, session: Session, actor: Actor, batch: ReconciliationBatch | None):
        self.session, self.actor, self.batch = session, actor, batch
        self.counts = {"applied": 0, "duplicates": 0, "exceptions": 0, "reversals": 0,
                       "refunded": 0}
        self._receipts: dict[int, Registration] = {}
        self._promote: set[int] = set()
        self._trail: list[tuple[str, str, dict]] = []
        self._paid_notices: list[tuple] = []  # (citizen, registration, key), sent in finish()

    # -- bookkeeping
    def note(self, event: str, target: str, **detail) -> None:
        self._trail.append((event, target, detail))

    def _insert(self, credit: Credit) -> Payment | None:
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(Payment).values(
            source=credit.source, external_serial=credit.serial, kind=credit.kind,
            channel=credit.channel[:16], reference=credit.reference[:20], amount=credit.amount,
            paid_at=credit.paid_at, posted_on=credit.posted_on,
            batch_id=self.batch.id if self.batch is not None else None,
            status="exception", created_at=clock.now(),
        ).on_conflict_do_nothing(index_elements=["source", "external_serial"]).returning(Payment.id)
        new_id = self.session.execute(stmt).scalar()
        return self.session.get(Payment, new_id) if new_id is not None else None

    # -- the decision
    def receive(self, credit: Credit) -> str:
        payment = self._insert(credit)
        if payment is None:
            self.counts["duplicates"] += 1
            return "duplicate"
        if credit.kind == "reversal":
            self.counts["reversals"] += 1
            return self._reverse(payment)
        slip = _find_slip(self.session, credit)
        if slip is None:
            payment.venue_id = _venue_for_reference(self.session, credit)
            return self._exception(payment, "unmatched")
        payment.slip_id, payment.venue_id = slip.id, slip.venue_id
        return self.decide(payment, slip)

    def decide(self, payment: Payment, slip: PaymentSlip) -> str:
        """Apply, refund or keep ``payment`` for ``slip``'s registration."""
        reg = refunds.lock_registration(self.session, slip.registration_id)
        if payment.amount != slip.amount:
            return self._exception(payment, "amount_mismatch")
        if reg.state in PAID_STATES or slip.status == "paid":
            return self._refund(payment, reg, "double_payment")
        if reg.state == "admitted":
            return self._apply(payment, slip, reg, note="payment received")
        if reg.state == "forfeited" and not _other_active(self.session, reg) \
                and seats.take(self.session, reg.course_id):
            return self._apply(payment, slip, reg, note="late payment: reinstated")
        return self._refund(payment, reg, "late_credit")

    def _exception(self, payment: Payment, reason: str) -> str:
        payment.status, payment.exception_reason = "exception", reason
        self.counts["exceptions"] += 1
        self.note("payment_exception", f"payment:{payment.id}", reason=reason,
                  amount=payment.amount, reference=payment.reference)
        return "exception"

    def _apply(self, payment: Payment, slip: PaymentSlip, reg: Registration, note: str) -> str:
        self.session.execute(update(PaymentSlip).where(
            PaymentSlip.registration_id == reg.id, PaymentSlip.status == "open",
            PaymentSlip.id != slip.id).values(status="void")
            .execution_options(synchronize_session=False))
        slip.status = "paid"
        mark_paid(self.session, reg, self.actor, note=f"{note} ({payment.source} {payment.external_serial})")
        payment.status, payment.exception_reason = "applied", None
        self._receipts[reg.id] = reg
        self._paid_notices.append((reg.citizen, reg, f"payment:{payment.id}"))
        self.counts["applied"] += 1
        return "applied"

    def _refund(self, payment: Payment, reg: Registration, reason: str) -> str:
        payment.status, payment.exception_reason = "refunded", reason
        self.session.flush()
        refund = refunds.create_automatic(self.session, reg, reason, payment.amount, self.actor,
                                          payment=payment, note=reason, record=False)
        self.counts["refunded"] += 1
        self.counts["exceptions"] += reason == "double_payment"
        self.note("refund_created", f"refund:{refund.id}", registration=reg.id,
                  amount=refund.amount, kind=reason, payment=payment.id)
        return "refunded"

    # -- reversals (沖正)
    def _reverse(self, payment: Payment) -> str:
        preferred = case((Payment.status == "applied", 0), (Payment.status == "exception", 1), else_=2)
        original = self.session.execute(
            select(Payment).where(Payment.source == payment.source,
                                  Payment.reference == payment.reference,
                                  Payment.amount == payment.amount, Payment.kind == "credit",
                                  Payment.status.in_(("applied", "exception", "refunded")),
                                  Payment.id != payment.id)
            .order_by(preferred, Payment.id.desc()).limit(1).with_for_update()
        ).scalar_one_or_none()
        if original is None:
            payment.venue_id = _venue_for_reference(self.session, payment)
            return self._exception(payment, "unmatched_reversal")
        payment.slip_id, payment.venue_id = original.slip_id, original.venue_id
        payment.resolution_note = f"reverses payment #{original.id} ({original.external_serial})"
        done = {"applied": self._undo_applied, "exception": self._undo_exception,
                "refunded": self._undo_refunded}[original.status](original)
        if not done:
            return self._exception(payment, "reversal_needs_clerk")
        original.status = "reversed"
        payment.status = "applied"
        self.note("payment_reversed", f"payment:{original.id}", reversal=payment.id,
                  amount=payment.amount)
        return "reversal"

    def _undo_exception(self, original: Payment) -> bool:
        return True

    def _undo_refunded(self, original: Payment) -> bool:
        refund = self.session.execute(select(Refund).where(Refund.payment_id == original.id)
                                      .with_for_update()).scalars().first()
        if refund is not None:
            if refund.state == "remitted" or refund.batch_id is not None:
                return False
            refund.state, refund.decided_at = "rejected", clock.now()
            refund.decision_note = "withdrawn: the credit was reversed by the bank"
        return True

    def _undo_applied(self, original: Payment) -> bool:
        slip = self.session.get(PaymentSlip, original.slip_id)
        reg = refunds.lock_registration(self.session, slip.registration_id)
        in_time = reg.deadline_at is not None and clock.now() <= reg.deadline_at
        target = "admitted" if in_time else "forfeited"
        if reg.state != "paid" or target not in TRANSITIONS.get("paid", ()):
            return False
        transition(self.session, reg, target, self.actor,
                   note=f"payment {original.external_serial} reversed by the bank")
        reg.paid_at = None  # which also voids its receipt (receipts.valid_receipt)
        self._receipts.pop(reg.id, None)
        voided = receipts.receipt_for(self.session, reg)
        if voided is not None:
            self.note("receipt_voided", f"registration:{reg.id}", number=voided.number)
        if in_time:
            slip.status = "open"
            notify.notify(self.session, "admitted", citizen=reg.citizen, registration=reg,
                          key=f"reversal:{original.id}")
        else:
            slip.status = "void"
            seats.release(self.session, reg.course_id)
            self._promote.add(reg.course_id)
            notify.notify(self.session, "forfeited", citizen=reg.citizen, registration=reg,
                          key=f"reversal:{original.id}")
        return True

    # -- the end of the transaction
    def finish(self) -> None:
        for reg in sorted(self._receipts.values(), key=lambda r: (r.venue_id, r.id)):
            credit = receipts.paying_credit(self.session, reg)
            receipt = receipts.issue_receipt(self.session, reg, credit.amount if credit else 0,
                                             actor_label(self.actor))
            self.note("receipt_issued", f"registration:{reg.id}", number=receipt.number)
        for course_id in sorted(self._promote):
            promote_waitlist(self.session, course_id)
        notify.notify_many(self.session, "payment_received", self._paid_notices)
        audit_review.append_now(self.session, [(event, self.actor, target, detail)
                                               for event, target, detail in self._trail])


def _find_slip(session: Session, credit: Credit) -> PaymentSlip | None:
    column = PaymentSlip.barcode2 if credit.source == "store" else PaymentSlip.virtual_account
    return session.execute(select(PaymentSlip).where(column == credit.reference)
                           .order_by(PaymentSlip.id.desc()).limit(1)).scalar_one_or_none()


def _venue_for_reference(session: Session, credit) -> int | None:
    """The venue whose collection code (企業代號) starts the virtual account, so an
    unmatched credit shows in that venue's exceptions."""
    reference = credit.reference[-14:] if credit.source == "store" else credit.reference
    return session.execute(select(Venue.id).where(
        Venue.collection_code == reference[:5])).scalar_one_or_none()


def _other_active(session: Session, reg: Registration) -> bool:
    """Whether the learner holds another active registration for the course (they
    applied again after the forfeit): then the late payment cannot reinstate this one."""
    from ..models.registration import ACTIVE_STATES

    return session.execute(select(Registration.id).where(
        Registration.learner_id == reg.learner_id, Registration.course_id == reg.course_id,
        Registration.id != reg.id, Registration.state.in_(ACTIVE_STATES))).first() is not None


def _retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES


def _in_transaction(session: Session, work: Callable[[], object], attempts: int = 5):
    """Run ``work`` and commit; on a deadlock or serialization failure roll back and run
    it again (safe: everything it does is idempotent)."""
    for attempt in range(attempts):
        try:
            result = work()
            session.commit()
            return result
        except DBAPIError as exc:
            session.rollback()
            if not _retryable(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# ---- files -----------------------------------------------------------------------

def _source_of(raw: bytes) -> str:
    try:
        return detect_kind(decode_file(raw)[0])
    except FileFormatError:
        return "unknown"


def foreign_lines(session: Session, credits: list[Credit], venue_id: int) -> list[str]:
    """Lines of a file whose account is not the venue's (by its collection code)."""
    code = session.execute(select(Venue.collection_code).where(Venue.id == venue_id)).scalar_one()
    found = []
    for c in sorted(credits, key=lambda c: c.line_no or 0):
        reference = c.reference[-14:] if c.source == "store" else c.reference
        if not reference.startswith(code):
            found.append(f"Line {c.line_no}: the account {c.reference} is not one of this venue's.")
    return found


def import_file(session: Session, raw: bytes, filename: str, actor: Actor = SYSTEM, *,
                venue_id: int | None = None) -> ReconciliationBatch:
    """Import one collection file (bank or store, UTF-8 or Big5) and commit.

    Returns the recorded batch: ``status`` is ``imported``, ``duplicate`` (every serial
    was known already: nothing changed) or ``rejected`` (``error`` lists the problems
    with their line numbers; nothing of the file was applied).  With ``venue_id`` (an
    upload by a venue's staff) a file holding another venue's accounts is rejected."""
    digest = hashlib.sha256(raw).hexdigest()
    # The name comes with the upload: no control characters (PostgreSQL refuses NUL in text).
    name = "".join(ch for ch in os.path.basename(filename or "") if ch.isprintable())[:255] or "upload"
    try:
        parsed = parse_collection_file(raw)
    except FileFormatError as exc:
        return _reject(session, raw, name, digest, [e.message for e in exc.errors],
                       [[e.line_no, e.code] for e in exc.errors[:50]], actor)
    credits = credits_of(parsed)
    too_large = [str(_l("Line %(line)s: the amount %(amount)s is larger than any payment this system records.",
                        line=c.line_no, amount=c.amount))
                 for c in sorted(credits, key=lambda c: c.line_no or 0) if c.amount > MAX_AMOUNT]
    if too_large:
        return _reject(session, raw, name, digest, too_large, [["amount", len(too_large)]], actor)
    if venue_id is not None:
        foreign = foreign_lines(session, credits, venue_id)
        if foreign:
            return _reject(session, raw, name, digest, foreign, [["venue", len(foreign)]], actor)

    def work() -> ReconciliationBatch:
        batch = ReconciliationBatch(source=parsed.kind, filename=name, sha256=digest,
                                    encoding=parsed.encoding or "utf-8", imported_at=clock.now(),
                                    imported_by=actor_label(actor)[:80], lines=len(credits))
        session.add(batch)
        session.flush()
        run = _Run(session, actor, batch)
        for credit in credits:
            run.receive(credit)
        run.finish()
        for key in ("applied", "duplicates", "exceptions", "reversals"):
            setattr(batch, key, run.counts[key])
        batch.status = "duplicate" if credits and run.counts["duplicates"] == len(credits) \
            else "imported"
        audit.record(session, "reconciliation_imported", actor, target=f"batch:{batch.id}",
                     detail={"file": name, "sha256": digest, **run.counts})
        return batch

    return _in_transaction(session, work)


def _reject(session: Session, raw: bytes, name: str, digest: str, messages: list[str],
            codes: list, actor: Actor) -> ReconciliationBatch:
    batch = ReconciliationBatch(source=_source_of(raw), filename=name, sha256=digest,
                                imported_at=clock.now(), imported_by=actor_label(actor)[:80],
                                status="rejected", error="\n".join(messages))
    session.add(batch)
    session.flush()
    audit.record(session, "reconciliation_rejected", actor, target=f"batch:{batch.id}",
                 detail={"file": name, "sha256": digest, "errors": codes})
    session.commit()
    return batch


def rejection_lines(batch: ReconciliationBatch) -> list[str]:
    return (batch.error or "").splitlines()


INBOX_SKIP = (".part", ".tmp", ".partial")


def import_inbox(session: Session, inbox: str | os.PathLike | None = None) -> int:
    """Import every file dropped in the inbox folder, then move it to ``done/`` or
    ``rejected/``.  Files still being written must carry a ``.part``/``.tmp`` suffix (or a
    leading dot) and are skipped.  Safe to run twice or after a crash: a file imported but
    not yet moved is imported again as a duplicate, which changes nothing."""
    folder = Path(inbox or current_app.config["RECONCILIATION_INBOX"])
    if not folder.is_dir():
        return 0
    done = 0
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.name.startswith(".") or path.name.endswith(INBOX_SKIP):
            continue
        batch = import_file(session, path.read_bytes(), path.name)
        target = folder / ("rejected" if batch.status == "rejected" else "done")
        target.mkdir(exist_ok=True)
        stamp = clock.to_taipei(clock.now()).strftime("%Y%m%d%H%M%S")
        try:
            path.rename(target / f"{stamp}-{batch.id}-{path.name}")
        except FileNotFoundError:  # another worker moved it first
            pass
        done += 1
    return done


# ---- payment gateway (ECPay-style callbacks) ----------------------------------------

def gateway_credit(params: Mapping[str, str]) -> Credit:
    """The credit of a verified gateway notification; DomainError if it is malformed."""
    def field(name: str, max_len: int) -> str:
        value = str(params.get(name) or "").strip()
        if not value or len(value) > max_len or not value.isalnum():
            raise DomainError(_l("The payment notification is malformed."), code="bad_notification")
        return value

    serial = field("TradeNo", 40)
    reference = field("MerchantTradeNo", 20)
    amount_text = field("TradeAmt", 9)
    if not amount_text.isdigit() or int(amount_text) <= 0:
        raise DomainError(_l("The payment notification is malformed."), code="bad_notification")
    try:
        local = dt.datetime.strptime(str(params.get("PaymentDate", "")), "%Y/%m/%d %H:%M:%S")
        paid_at = clock.taipei_to_utc(local)
    except ValueError:
        paid_at = clock.now()
    channel = str(params.get("PaymentType") or "gateway")[:16]
    return Credit("gateway", serial, "credit", channel, reference, int(amount_text), paid_at)


def receive_gateway_notification(session: Session, params: Mapping[str, str],
                                 actor: Actor = SYSTEM) -> str:
    """A *verified* gateway notification through the same idempotent path; commits.

    Returns the outcome: applied, refunded, exception, duplicate, or ignored (a failed or
    simulated payment, which moves no money)."""
    if str(params.get("RtnCode")) != "1" or str(params.get("SimulatePaid", "0")) == "1":
        audit.record(session, "gateway_notification_ignored", actor,
                     target=str(params.get("MerchantTradeNo", ""))[:40],
                     detail={"RtnCode": params.get("RtnCode"),
                             "SimulatePaid": params.get("SimulatePaid")})
        session.commit()
        return "ignored"
    credit = gateway_credit(params)

    def work() -> str:
        run = _Run(session, actor, None)
        outcome = run.receive(credit)
        run.finish()
        if outcome == "duplicate":
            audit.record(session, "gateway_notification_duplicate", actor,
                         target=f"gateway:{credit.serial}")
        return outcome

    return _in_transaction(session, work)


# ---- a clerk's resolution of exceptions ------------------------------------------

def _lock_exception(session: Session, payment: Payment) -> Payment:
    payment = session.execute(select(Payment).where(Payment.id == payment.id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()
    if payment.status != "exception":
        raise Conflict(_l("This payment is not waiting for a decision."), code="not_exception")
    return payment


def refund_exception(session: Session, payment: Payment, actor: Actor, note: str = "") -> Refund:
    """Give the money of an exception back to its payer, in full (needs a matched slip)."""
    payment = _lock_exception(session, payment)
    if payment.slip_id is None or payment.kind != "credit":
        raise Conflict(_l("This payment matches no registration: mark it returned instead."),
                       code="no_registration")
    reg = refunds.lock_registration(session, payment.slip.registration_id)
    payment.status = "refunded"
    payment.resolved_by, payment.resolution_note = actor_label(actor)[:80], note or None
    session.flush()
    return refunds.create_automatic(session, reg, "exception", payment.amount, actor,
                                    payment=payment, note=note or payment.exception_reason or "")


def close_exception(session: Session, payment: Payment, actor: Actor, note: str = "") -> Payment:
    """Mark an exception settled outside the system (e.g. the bank returned the transfer)."""
    payment = _lock_exception(session, payment)
    payment.status = "resolved"
    payment.resolved_by, payment.resolution_note = actor_label(actor)[:80], note or None
    audit.record(session, "payment_exception_closed", actor, target=f"payment:{payment.id}",
                 detail={"reason": payment.exception_reason, "amount": payment.amount,
                         "note": note})
    return payment


def match_exception(session: Session, payment: Payment, entry_no: str, actor: Actor) -> str:
    """Match an unmatched credit to a registration by its entry number (報名序號) and
    decide again, exactly as if it had arrived for that registration's latest slip."""
    payment = _lock_exception(session, payment)
    if payment.kind != "credit":
        raise Conflict(_l("Only a credit can be matched to a registration."), code="not_credit")
    reg = session.execute(select(Registration).where(
        Registration.entry_no == (entry_no or "").strip().upper())).scalar_one_or_none()
    if reg is None or (payment.venue_id is not None and reg.venue_id != payment.venue_id):
        raise NotFound(_l("No registration of this venue has that entry number."),
                       code="unknown_registration")
    slip = session.execute(select(PaymentSlip).where(PaymentSlip.registration_id == reg.id)
                           .order_by(PaymentSlip.id.desc()).limit(1)).scalar_one_or_none()
    if slip is None:
        raise Conflict(_l("That registration has no payment slip."), code="no_slip")
    payment.slip_id, payment.venue_id = slip.id, slip.venue_id
    payment.resolved_by = actor_label(actor)[:80]
    payment.resolution_note = f"matched to {reg.entry_no}"
    run = _Run(session, actor, None)
    outcome = run.decide(payment, slip)
    run.finish()
    audit.record(session, "payment_exception_matched", actor, target=f"payment:{payment.id}",
                 detail={"registration": reg.id, "outcome": outcome})
    return outcome


# ---- the counter -------------------------------------------------------------------

def record_counter_payment(session: Session, reg: Registration, actor: Actor):
    """Cash taken at the venue's counter (臨櫃繳費) for an admitted registration, through
    the same path as any credit.  The serial is the slip's, so a double submission changes
    nothing.  Commits nothing: the caller commits.  Returns the receipt."""
    reg = refunds.lock_registration(session, reg.id)
    slip = session.execute(select(PaymentSlip).where(PaymentSlip.registration_id == reg.id)
                           .order_by(PaymentSlip.id.desc()).limit(1)).scalar_one_or_none()
    if reg.state != "admitted" or slip is None or slip.status != "open":
        raise Conflict(_l("Only an admitted registration with an open slip can be paid at the counter."),
                       code="not_payable")
    credit = Credit("counter", f"slip-{slip.id}", "credit", "cash", slip.virtual_account,
                    slip.amount, clock.now())
    run = _Run(session, actor, None)
    outcome = run.receive(credit)
    run.finish()
    if outcome != "applied":  # pragma: no cover - guarded by the checks above
        raise Conflict(_l("The payment could not be applied."), code="not_applied")
    return receipts.receipt_for(session, reg)
