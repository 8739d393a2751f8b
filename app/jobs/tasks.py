"""Job functions: thin wrappers that call a service with the job's session.

Every job is idempotent: running it twice, or again after a crash half-way, leaves the
same result (each service step locks its rows and re-checks their state)."""
from __future__ import annotations

from ..extensions import db
from ..services import draws, reminders, registration


def draw_due_lotteries() -> int:
    return draws.run_due_draws(db.session)


def forfeit_overdue() -> int:
    n = registration.forfeit_overdue(db.session)
    db.session.commit()
    return n


def promote_waitlists() -> int:
    n = reminders.promote_all(db.session)
    db.session.commit()
    return n


def payment_due_reminders() -> int:
    n = reminders.payment_due(db.session)
    db.session.commit()
    return n


def class_start_reminders() -> int:
    n = reminders.class_starts(db.session)
    db.session.commit()
    return n


def survey_invitations() -> int:
    n = reminders.survey_invitations(db.session)
    db.session.commit()
    return n


def import_inbox() -> int:
    try:
        from ..services import reconciliation
    except ImportError:  # pragma: no cover - until the payments module lands
        return 0
    return reconciliation.import_inbox(db.session)


def sweep_outbox() -> int:
    try:
        from ..services import delivery
    except ImportError:  # pragma: no cover - until the notification module lands
        return 0
    return delivery.sweep(db.session)


def audit_checkpoint() -> str:
    """Anchor the security trail: record an ``audit_checkpoint`` entry and append its line
    to ``AUDIT_ANCHOR_FILE`` (keep that file off the database host), so deleting the
    newest entries (tail truncation) shows in ``flask audit verify --anchors``."""
    from ..services import audit_review

    line = audit_review.checkpoint(db.session)
    db.session.commit()
    audit_review.append_anchor(audit_review.anchor_file(), line)
    return line
