"""Back-office registrations per course and lottery draw management.

Every manual action goes through the same services as the public site and re-checks the
venue of each selected row (FAB does not scope actions by itself)."""
from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, action, expose, has_access
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import Course, Phase, Registration
from ...services import clock, draws, registration as engine, seats
from ...services.errors import DomainError
from .roles import grant
from .scoping import ALL_VENUES, VenueScopedMixin, may_act_for_venue, refuse, staff_venue_id
from .security import staff_actor


class RegistrationView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Registration)
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Registrations")
    list_columns = ["entry_no", "course", "state", "channel", "applied_at", "deadline_at"]
    search_columns = ["entry_no", "course", "state", "channel"]
    show_columns = ["entry_no", "course", "phase", "state", "tier", "ticket", "channel",
                    "applied_at", "admitted_at", "deadline_at", "paid_at", "closed_at"]
    order_columns = ["entry_no", "applied_at", "deadline_at", "state"]
    base_order = ("applied_at", "desc")
    label_columns = {"entry_no": _l("Entry number"), "course": _l("Course"), "state": _l("State"),
                     "applied_at": _l("Applied at"), "deadline_at": _l("Payment deadline"),
                     "phase": _l("Phase"), "tier": _l("Tier"), "ticket": _l("Ticket"),
                     "channel": _l("Channel"), "admitted_at": _l("Admitted at"),
                     "paid_at": _l("Paid at"), "closed_at": _l("Closed at")}

    def _each(self, items, step):
        items = items if isinstance(items, list) else [items]
        self.check_items(items)
        done, errors = 0, []
        for item in items:
            try:
                step(item)
                db.session.commit()
                done += 1
            except DomainError as exc:
                db.session.rollback()
                errors.append(f"{item.entry_no}: {exc}")
        if done:
            flash(_("%(n)s registrations updated.", n=done), "success")
        for message in errors:
            flash(message, "danger")
        return redirect(self.get_redirect())

    @action("admit_from_waitlist", _l("Admit from the waitlist"),
            _l("Admit the selected waitlisted registrations if seats are free?"), "fa-check")
    def admit_from_waitlist(self, items):
        def step(reg):
            if reg.state != "waitlisted":
                raise DomainError(_l("Only waitlisted registrations can be admitted from the waitlist."))
            if not seats.take(db.session, reg.course_id):
                raise DomainError(_l("The course has no free seat."))
            engine.admit(db.session, reg, staff_actor(g.user), seat_taken=True,
                         note="admitted from the waitlist by staff")
        return self._each(items, step)

    @action("mark_withdrawn", _l("Mark withdrawn"),
            _l("Mark the selected registrations withdrawn? Their seats go to the waitlist."),
            "fa-times")
    def mark_withdrawn(self, items):
        return self._each(items, lambda reg: engine.withdraw(
            db.session, reg, staff_actor(g.user), note="withdrawn by staff"))


class LotteryDrawView(BaseView):
    """Lottery phases of the staff's venue that have closed and wait for a draw; the
    administrator types the public beacon and starts the draw."""

    route_base = "/admin/lottery"
    default_view = "index"

    def _phases(self):
        scope = staff_venue_id()
        stmt = (select(Phase).join(Course, Phase.course_id == Course.id)
                .where(Phase.mode == "lottery").order_by(Phase.closes_at.desc()).limit(200))
        if scope is not ALL_VENUES:
            stmt = stmt.where(Course.venue_id == (scope if scope is not None else -1))
        return db.session.execute(stmt).scalars().all()

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("admin/lottery.html", phases=self._phases(), now=clock.now())

    @expose("/<int:phase_id>/draw", methods=["POST"])
    @has_access
    def draw(self, phase_id):
        phase = db.session.get(Phase, phase_id)
        if phase is None:
            return redirect(url_for("LotteryDrawView.index"))
        if not may_act_for_venue(phase.course.venue_id):
            refuse()
        try:
            draws.draw(db.session, phase, request.form.get("beacon", ""), staff_actor(g.user))
            db.session.commit()
            flash(_("The lottery of %(code)s was drawn.", code=phase.course.code), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("LotteryDrawView.index"))


def register(appbuilder) -> None:
    appbuilder.add_view(RegistrationView, "Registration list", label=_l("Registrations"),
                        category="Registrations", category_label=_l("Registrations"),
                        icon="fa-users")
    appbuilder.add_view(LotteryDrawView, "Lottery draws", label=_l("Lottery draws"),
                        category="Registrations", icon="fa-random")
    for role in ("Venue Admin", "Venue Clerk"):
        # FAB names an action's permission after the action itself (no can_ prefix).
        grant(role, "RegistrationView", ("can_list", "can_show", "admit_from_waitlist",
                                         "mark_withdrawn"))
        grant(role, "Registration list", ("menu_access",))
    grant("Venue Admin", "LotteryDrawView", ("can_index", "can_draw"))
    grant("Venue Admin", "Lottery draws", ("menu_access",))
