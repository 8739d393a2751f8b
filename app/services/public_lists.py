"""Public admission lists and waitlists (錄取名單、備取名單): masked names and entry
numbers only (specs/privacy.md)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..models import Course, Phase, Registration
from ..models.registration import SEATED_STATES
from .privacy import mask_name


@dataclass
class ListedEntry:
    entry_no: str
    masked_name: str
    state: str
    position: int | None = None


def admission_lists(session: Session, course: Course) -> dict[str, list[ListedEntry]]:
    regs = session.execute(
        select(Registration).options(joinedload(Registration.learner))
        .where(Registration.course_id == course.id,
               Registration.state.in_(SEATED_STATES + ("waitlisted", "applied")))
        .order_by(Registration.waitlist_key, Registration.id)).scalars().all()
    admitted = [ListedEntry(r.entry_no, mask_name(r.learner.name),
                            "paid" if r.state in ("paid", "refund_requested", "completed") else "admitted")
                for r in regs if r.state in SEATED_STATES]
    admitted.sort(key=lambda e: e.entry_no)
    waiting = [r for r in regs if r.state == "waitlisted"]
    waiting.sort(key=lambda r: r.waitlist_key or 0)
    waitlist = [ListedEntry(r.entry_no, mask_name(r.learner.name), "waitlisted", i)
                for i, r in enumerate(waiting, start=1)]
    applied = sorted((ListedEntry(r.entry_no, mask_name(r.learner.name), "applied")
                      for r in regs if r.state == "applied"), key=lambda e: e.entry_no)
    return {"admitted": admitted, "waitlist": waitlist, "applied": applied}


def lottery_phases(course: Course) -> list[Phase]:
    return [p for p in course.phases if p.mode == "lottery"]
