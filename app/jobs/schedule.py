"""The one list of periodic jobs, with stable ids.  Cron strings are Asia/Taipei time
(the cron process runs with TZ=Asia/Taipei, see README)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    id: str
    func: str
    cron: str
    queue: str = "default"


PERIODIC: list[Periodic] = [
    Periodic("draw-due-lotteries", "app.jobs.tasks.draw_due_lotteries", "* * * * *"),
    Periodic("forfeit-overdue", "app.jobs.tasks.forfeit_overdue", "*/5 * * * *"),
    Periodic("promote-waitlists", "app.jobs.tasks.promote_waitlists", "*/5 * * * *"),
    Periodic("payment-due-reminders", "app.jobs.tasks.payment_due_reminders", "0 9 * * *"),
    Periodic("class-start-reminders", "app.jobs.tasks.class_start_reminders", "0 18 * * *"),
    Periodic("survey-invitations", "app.jobs.tasks.survey_invitations", "0 10 * * *"),
    Periodic("import-reconciliation-inbox", "app.jobs.tasks.import_inbox", "*/10 * * * *"),
    Periodic("audit-checkpoint", "app.jobs.tasks.audit_checkpoint", "17 * * * *"),
    Periodic("sweep-outbox", "app.jobs.tasks.sweep_outbox", "* * * * *", queue="notifications"),
]
