"""Outbox delivery (通知發送): claim a row, send it, record the attempt.

Life of an outbox row (``app.models.Notification``)::

    pending --claim--> sending --sent------------------------------> sent
       ^                  |----transient error, attempts < max---> pending (next_attempt_at = backoff)
       |                  |----permanent error, or attempts = max-> failed
       |                  '----worker died: lease expires -------> claimable again
       '--------------------------- resend (back office) ---------- failed

* **Claim** is one conditional ``UPDATE … SET status='sending', attempts=attempts+1,
  next_attempt_at=now+lease WHERE id=:id AND (due pending OR sending past its lease)``,
  committed before anything is sent: of any number of concurrent jobs for a row, exactly
  one gets it.  While ``sending``, ``next_attempt_at`` is the lease's end.
* **Send** runs with no transaction open; **record** then, in one short transaction,
  adds a :class:`DeliveryAttempt` and moves the row on, fenced by the attempt number (a
  worker whose lease was taken over does not overwrite the newer attempt's result).
* **Dispatch**: rows are handed to RQ after the transaction that wrote them commits
  (:func:`track`, then session hooks: ``after_commit`` marks them, and once the
  transaction has ended and returned its connection they are dispatched); retries are scheduled at their
  backoff time; :func:`sweep` (every minute, app/jobs/schedule.py) re-dispatches all
  that is due, which covers Redis outages and killed workers.  Without ``REDIS_URL``
  (the demo) delivery runs synchronously right after the commit (the console backend
  is a file append, so this costs the request next to nothing) and retries wait for
  the sweep.

Exactly once?  Delivery is at-least-once with an idempotent claim.  A message can go out
twice only if a worker dies (or loses its database) *after* the provider accepted the
message and *before* the ``sent`` commit right after it: a window of one short UPDATE.
SMS closes even that window: the Mitake ``clientid`` is stable per message and the
gateway drops a repeat within 12 hours.  E-mail cannot (SMTP has no idempotency); the
repeat carries the same Message-ID, which many mailbox providers de-duplicate.  The
lease (``NOTIFY_LEASE_SECONDS``, default 300) must stay well above the send timeout
(``NOTIFY_SEND_TIMEOUT``, default 10) so a slow but live send is never taken over.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable

from sqlalchemy import and_, event, or_, select, update
from sqlalchemy.orm import Session, scoped_session

from ..models import DeliveryAttempt, Notification
from . import clock
from .channels import PermanentError, TransientError, backend_for, setting

log = logging.getLogger(__name__)

_INFO_KEY = "outbox_new_ids"  # written in the open transaction
_READY_KEY = "outbox_ready_ids"  # committed, dispatched when the transaction has ended


# ------------------------------------------------------------------ settings

def max_attempts() -> int:
    return setting("NOTIFY_MAX_ATTEMPTS", 5)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=setting("NOTIFY_LEASE_SECONDS", 300, float))


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failed ones: base·2^(n-1), capped
    (defaults 60 s, 2, 4, 8 min … at most an hour)."""
    base = setting("NOTIFY_RETRY_BASE_SECONDS", 60, float)
    cap = setting("NOTIFY_RETRY_MAX_SECONDS", 3600, float)
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def due(now: dt.datetime):
    """SQL condition: rows a delivery may claim now."""
    return or_(
        and_(Notification.status == "pending",
             or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now)),
        and_(Notification.status == "sending", Notification.next_attempt_at <= now),
    )


def _own_session() -> Session:
    """Delivery uses short sessions of its own: it may run inside another session's
    ``after_commit`` hook, and it must never hold a transaction open while sending."""
    from ..extensions import db

    return Session(bind=db.engine, expire_on_commit=False)


# ------------------------------------------------------------------ one delivery

def claim(session: Session, notification_id: int, now: dt.datetime) -> Notification | None:
    """Take the row for one attempt (committed); ``None`` if it is not due or taken.

    A compare-and-set on (status, attempts) of the due row: of concurrent claimers
    exactly one wins.  Re-claiming a row left ``sending`` by a worker that died records
    that interrupted attempt in the delivery log; a row whose last allowed attempt was
    interrupted is marked failed instead (a message that kills its worker every time
    must not loop forever)."""
    seen = session.execute(select(Notification.status, Notification.attempts)
                           .where(Notification.id == notification_id, due(now))).first()
    if seen is None:
        session.rollback()
        return None
    interrupted = seen.status == "sending"
    give_up = interrupted and seen.attempts >= max_attempts()
    error = (f"attempt {seen.attempts} interrupted: no result before its lease ended "
             "(worker stopped?)")
    values = (dict(status="failed", last_error=error, next_attempt_at=None) if give_up else
              dict(status="sending", attempts=Notification.attempts + 1,
                   next_attempt_at=now + lease()))
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == seen.status,
               Notification.attempts == seen.attempts, due(now))
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        return None
    if interrupted:
        session.add(DeliveryAttempt(notification_id=notification_id, at=now, status="error",
                                    error=error))
    row = None if give_up else session.get(Notification, notification_id, populate_existing=True)
    session.commit()
    return row


def deliver(notification_id: int) -> str:
    """Deliver one outbox row if it is due: ``sent``, ``retry``, ``failed``, ``skipped``
    (not due, already done or taken by another worker) or ``lost`` (our lease was
    taken over while sending).  Safe to call any number of times, concurrently."""
    with _own_session() as session:
        row = claim(session, notification_id, clock.now())
        if row is None:
            return "skipped"
        provider_id, error, permanent = None, None, False
        try:
            provider_id = backend_for(row.channel).send(row)
        except PermanentError as exc:
            error, permanent = str(exc), True
        except TransientError as exc:
            error = str(exc)
        except Exception as exc:  # a bug or an unexpected library error: retry, visibly
            log.exception("delivery of notification %s failed unexpectedly", notification_id)
            error = f"unexpected error: {exc!r}"
        return _record(session, row, provider_id, error, permanent)


def _record(session: Session, row: Notification, provider_id, error, permanent) -> str:
    """Store the attempt and move the row on, in one short transaction."""
    now = clock.now()
    attempt = row.attempts
    session.add(DeliveryAttempt(notification_id=row.id, at=now,
                                status="error" if error else "sent",
                                provider_id=(provider_id or None) and str(provider_id)[:64],
                                error=error and error[:2000]))
    next_at = None
    if error is None:
        outcome, values = "sent", dict(status="sent", provider_id=str(provider_id)[:64],
                                       sent_at=now, last_error=None, next_attempt_at=None)
    elif permanent or attempt >= max_attempts():
        outcome, values = "failed", dict(status="failed", last_error=error[:2000], next_attempt_at=None)
    else:
        next_at = now + backoff(attempt)
        outcome, values = "retry", dict(status="pending", last_error=error[:2000], next_attempt_at=next_at)
    result = session.execute(
        update(Notification)
        .where(Notification.id == row.id, Notification.status == "sending",
               Notification.attempts == attempt)
        .values(**values).execution_options(synchronize_session=False))
    session.commit()
    if result.rowcount != 1:
        log.warning("notification %s: lease lost during attempt %s (%s)", row.id, attempt, outcome)
        return "lost"
    if next_at is not None:
        _dispatch(row.id, attempt, at=next_at)
    return outcome


# ------------------------------------------------------------------ dispatching

def _dispatch(notification_id: int, attempts: int, at: dt.datetime | None = None) -> str:
    from ..jobs.delivery_jobs import dispatch

    return dispatch(notification_id, attempts, at=at)


def sweep(session: Session) -> int:
    """Re-dispatch every row that is due (pending and due, or sending past its lease).

    Returns how many were handed on.  Run every minute; safe to run concurrently with
    itself and with workers (the job id per attempt and the claim prevent doubles)."""
    rows = session.execute(
        select(Notification.id, Notification.attempts).where(due(clock.now()))
        .order_by(Notification.id).limit(setting("NOTIFY_SWEEP_BATCH", 500))).all()
    handed = 0
    for notification_id, attempts in rows:
        if _dispatch(notification_id, attempts) == "unavailable":
            break  # Redis is down: the next sweep tries again
        handed += 1
    return handed


def resend(session: Session, notifications: Iterable[Notification]) -> list[Notification]:
    """Put failed messages back in the outbox (back office "resend"), in the caller's
    transaction; they are dispatched when it commits.  ``attempts`` starts again at 0
    (the delivery log keeps every earlier attempt)."""
    again = []
    for n in notifications:
        if n.status != "failed":
            continue
        n.status, n.attempts, n.next_attempt_at = "pending", 0, None
        again.append(n)
    if again:
        session.flush()
        track(session, again)
    return again


# ------------------------------------------------------------------ after-commit hook

def track(session, rows: Iterable[Notification]) -> None:
    """Remember rows (already flushed, so with ids) to dispatch when ``session`` commits."""
    info = _real_session(session).info
    info.setdefault(_INFO_KEY, set()).update(r.id for r in rows if r.id is not None)


def _real_session(session) -> Session:
    return session() if isinstance(session, scoped_session) else session


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    """The rows are committed: ready to go once the session has let go of its connection."""
    if session.in_nested_transaction():  # a savepoint: wait for the real commit
        return
    ids = session.info.pop(_INFO_KEY, None)
    if ids:
        session.info.setdefault(_READY_KEY, set()).update(ids)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    """Dispatch after the outermost transaction ended and its connection went back to
    the pool, so in-process delivery never holds two connections (which would exhaust
    the pool under load)."""
    if transaction.parent is not None:
        return
    ids = session.info.pop(_READY_KEY, None)
    if not ids:
        return
    from ..jobs.delivery_jobs import dispatch_many

    try:
        dispatch_many(ids)  # Redis down: "unavailable", and the sweep picks them up
    except Exception:  # never fail the caller's (already committed) work
        log.exception("dispatching %s notifications after commit failed", len(ids))


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: forget its rows
        session.info.pop(_INFO_KEY, None)
