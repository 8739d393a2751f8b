"""Seats: the only code that changes ``course.seats_taken`` and ``phase.seats_filled``.

Each change is a single conditional UPDATE, so the quota (and a phase's seat cap) can
never be exceeded however many requests arrive at once: the row lock taken by the UPDATE
serialises competitors and the WHERE clause re-checks the count after the wait.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_TAKE_COURSE = text(
    "UPDATE course SET seats_taken = seats_taken + :n "
    "WHERE id = :c AND cancelled_at IS NULL AND seats_taken + :n <= quota RETURNING id")
_TAKE_PHASE = text(
    "UPDATE phase SET seats_filled = seats_filled + :n "
    "WHERE id = :p AND (seat_cap IS NULL OR seats_filled + :n <= seat_cap) RETURNING id")
_UNDO_PHASE = text("UPDATE phase SET seats_filled = seats_filled - :n WHERE id = :p")
_RELEASE = text(
    "UPDATE course SET seats_taken = seats_taken - 1 WHERE id = :c AND seats_taken > 0 RETURNING id")


def take(session: Session, course_id: int, phase_id: int | None = None, n: int = 1) -> bool:
    """Take ``n`` seats of the course (and of the phase's cap).  False when full."""
    if n <= 0:
        return True
    if phase_id is not None:
        if session.execute(_TAKE_PHASE, {"p": phase_id, "n": n}).first() is None:
            return False
    if session.execute(_TAKE_COURSE, {"c": course_id, "n": n}).first() is None:
        if phase_id is not None:
            session.execute(_UNDO_PHASE, {"p": phase_id, "n": n})
        return False
    return True


def release(session: Session, course_id: int) -> None:
    """Give one seat back (forfeit, withdrawal after admission, refund, cancellation)."""
    session.execute(_RELEASE, {"c": course_id})


def phase_cap_reached(session: Session, phase_id: int) -> bool:
    row = session.execute(text(
        "SELECT seat_cap IS NOT NULL AND seats_filled >= seat_cap FROM phase WHERE id = :p"),
        {"p": phase_id}).first()
    return bool(row and row[0])


def seats_free(session: Session, course_id: int) -> int:
    row = session.execute(text("SELECT quota - seats_taken FROM course WHERE id = :c"),
                          {"c": course_id}).first()
    return max(int(row[0]), 0) if row else 0
