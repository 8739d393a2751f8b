"""Class operations for venue staff: closures (typhoon days), broadcasts with preview and
delivery report, and class-transfer approvals.  All through the services, all scoped."""
from __future__ import annotations

import datetime as dt

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, ModelView, action, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...services.ids import parse_id
from ...models import Broadcast, Closure, Course, Transfer, Venue
from ...services import broadcasts, calendar, catalogue, transfers
from ...services.errors import DomainError
from .roles import grant
from .scoping import ALL_VENUES, VenueScopedMixin, may_act_for_venue, refuse, staff_venue_id
from .security import staff_actor


def _venue_from_form() -> Venue:
    scope = staff_venue_id()
    if scope is None:
        refuse()
    raw = request.form.get("venue_id") or (str(scope) if scope is not ALL_VENUES else "")
    venue_id = parse_id(raw)
    venue = db.session.get(Venue, venue_id) if venue_id else None
    if venue is None:
        raise DomainError(_l("Choose a venue."), code="no_venue")
    if not may_act_for_venue(venue.id):
        refuse()
    return venue


def _course_from_form(venue: Venue) -> Course | None:
    code = (request.form.get("course_code") or "").strip()
    if not code:
        return None
    course = catalogue.get_course(db.session, code)
    if course.venue_id != venue.id:
        raise DomainError(_l("That course belongs to another venue."), code="wrong_venue")
    return course


def _day_from_form(required: bool) -> dt.date | None:
    raw = (request.form.get("day") or "").strip()
    if not raw:
        if required:
            raise DomainError(_l("Choose a date."), code="no_day")
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise DomainError(_l("Enter the date as YYYY-MM-DD."), code="bad_day")


def _venues():
    scope = staff_venue_id()
    stmt = select(Venue).order_by(Venue.id)
    if scope is not ALL_VENUES:
        stmt = stmt.where(Venue.id == (scope if scope is not None else -1))
    return db.session.execute(stmt).scalars().all()


class ClassOperationsView(BaseView):
    route_base = "/admin/classes"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        venue_ids = [v.id for v in _venues()]
        recent = db.session.execute(select(Broadcast).where(Broadcast.venue_id.in_(venue_ids))
                                    .order_by(Broadcast.id.desc()).limit(20)).scalars().all()
        closures = db.session.execute(select(Closure).where(Closure.venue_id.in_(venue_ids))
                                      .order_by(Closure.day.desc()).limit(20)).scalars().all()
        return self.render_template(
            "admin/classes.html", venues=_venues(), broadcasts=recent, closures=closures,
            report=lambda b: broadcasts.delivery_report(db.session, b), preview=None)

    @expose("/closure", methods=["POST"])
    @has_access
    def closure(self):
        try:
            venue = _venue_from_form()
            affected = calendar.add_closure(db.session, venue, _day_from_form(True),
                                            request.form.get("reason", ""), staff_actor(g.user),
                                            course=_course_from_form(venue))
            db.session.commit()
            flash(_("Day closed; %(n)s classes moved their session to the end and their learners are being told.",
                    n=len(affected)), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("ClassOperationsView.index"))

    @expose("/broadcast", methods=["POST"])
    @has_access
    def broadcast(self):
        try:
            venue = _venue_from_form()
            course = _course_from_form(venue)
            day = _day_from_form(course is None)
            if request.form.get("confirm") != "yes":
                people = broadcasts.recipients(db.session, venue, course=course, day=day)
                return self.render_template(
                    "admin/classes.html", venues=_venues(), broadcasts=[], closures=[],
                    report=lambda b: {}, preview={
                        "venue": venue, "course": course, "day": day, "count": len(people),
                        "subject": request.form.get("subject", ""),
                        "body": request.form.get("body", "")})
            item = broadcasts.send(db.session, venue, staff_actor(g.user),
                                   request.form.get("subject", ""), request.form.get("body", ""),
                                   course=course, day=day)
            db.session.commit()
            flash(_("Sent to %(n)s registrations.", n=item.recipients), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        return redirect(url_for("ClassOperationsView.index"))


class TransferView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Transfer)
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Class transfers")
    list_columns = ["registration", "to_course", "state", "requested_at", "decided_by"]
    show_columns = ["registration", "to_course", "state", "reason", "requested_at", "decided_by",
                    "decided_at"]
    rel_scopes = {"to_course": "venue_id", "registration": "venue_id", "venue": "id"}
    label_columns = {"registration": _l("Registration"), "to_course": _l("New course"),
                     "state": _l("State"), "requested_at": _l("Requested at"),
                     "decided_by": _l("Decided by"), "decided_at": _l("Decided at"),
                     "reason": _l("Reason")}

    def _each(self, items, step):
        items = items if isinstance(items, list) else [items]
        self.check_items(items)
        for item in items:
            try:
                step(item)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
        return redirect(self.get_redirect())

    @action("approve", _l("Approve"), _l("Approve the selected transfers?"), "fa-check")
    def approve(self, items):
        return self._each(items, lambda t: transfers.approve(db.session, t, staff_actor(g.user)))

    @action("reject", _l("Reject"), _l("Reject the selected transfers?"), "fa-times")
    def reject(self, items):
        return self._each(items, lambda t: transfers.reject(db.session, t, staff_actor(g.user)))


def register(appbuilder) -> None:
    appbuilder.add_view(ClassOperationsView, "Class operations", label=_l("Closures & broadcasts"),
                        category="Registrations", icon="fa-bullhorn")
    appbuilder.add_view(TransferView, "Class transfers", label=_l("Class transfers"),
                        category="Registrations", icon="fa-exchange")
    for role in ("Venue Admin", "Venue Clerk"):
        grant(role, "ClassOperationsView", ("can_index", "can_closure", "can_broadcast"))
        grant(role, "Class operations", ("menu_access",))
        grant(role, "TransferView", ("can_list", "can_show", "approve", "reject"))
        grant(role, "Class transfers", ("menu_access",))
