"""Counter registration (臨櫃/現場報名): a clerk registers a walk-in citizen through the same
services and rules as the online site, prints the slip and can take the payment."""
from __future__ import annotations

import secrets

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import or_, select

from ...extensions import db
from ...models import Citizen, Course, Learner, Registration
from ...services import accounts, audit, catalogue, privacy, registration as engine
from ...services.errors import DomainError
from ...services.ids import parse_id
from .roles import grant
from .scoping import ALL_VENUES, may_act_for_venue, refuse, staff_venue_id
from .security import staff_actor


def _find(query: str) -> list[Citizen]:
    query = (query or "").strip()
    if not query:
        return []
    conds = []
    nid = privacy.normalize_national_id(query)
    if privacy.is_valid_national_id(nid):
        conds.append(Citizen.national_id_hash == accounts.id_hash(nid))
    digits = query.replace("-", "").replace(" ", "")
    if digits.isdigit():
        conds.append(Citizen.phone == digits)
    if "@" in query:
        conds.append(Citizen.email == query.lower())
    if not conds:
        return []
    return db.session.execute(select(Citizen).where(or_(*conds)).limit(5)).scalars().all()


class CounterRegistrationView(BaseView):
    route_base = "/admin/counter"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        query = request.args.get("q", "")
        found = _find(query)
        if query:
            audit.record(db.session, "counter_lookup", staff_actor(g.user),
                         detail={"matches": len(found)})
            db.session.commit()
        return self.render_template("admin/counter.html", query=query, found=found,
                                    mask_id=lambda c: privacy.mask_national_id(
                                        accounts.cipher().decrypt(c.national_id_enc)),
                                    learners=lambda c: db.session.execute(
                                        select(Learner).where(Learner.citizen_id == c.id)).scalars().all(),
                                    scope_all=staff_venue_id() is ALL_VENUES)

    @expose("/signup", methods=["POST"])
    @has_access
    def signup(self):
        """Create the walk-in's account; consent to the privacy notice is required."""
        form = request.form
        if form.get("consent") != "yes":
            flash(_("The citizen's consent to the privacy notice is required."), "danger")
            return redirect(url_for("CounterRegistrationView.index"))
        email = (form.get("email") or "").strip()
        notify_email = bool(email)
        if not email:
            nid = privacy.normalize_national_id(form.get("national_id", ""))
            email = f"counter-{accounts.id_hash(nid)[:12]}@no-email.invalid"
        try:
            citizen = accounts.sign_up(db.session, accounts.SignUp(
                name=form.get("name", ""), national_id=form.get("national_id", ""),
                birth_date=form.get("birth_date", ""), phone=form.get("phone", ""), email=email,
                password=secrets.token_urlsafe(18) + "a1", notify_email=notify_email,
                notify_sms=True), staff_actor(g.user), created_by_staff=g.user.username)
            audit.record(db.session, "counter_signup", staff_actor(g.user),
                         target=f"citizen:{citizen.id}", detail={"consent": True})
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("CounterRegistrationView.index"))
        flash(_("Account created."), "success")
        return redirect(url_for("CounterRegistrationView.index", q=citizen.phone))

    @expose("/register", methods=["POST"])
    @has_access
    def register(self):
        form = request.form
        citizen_id, learner_id = parse_id(form.get("citizen_id")), parse_id(form.get("learner_id"))
        citizen = db.session.get(Citizen, citizen_id) if citizen_id else None
        if citizen is None:
            abort(404)
        learner = db.session.get(Learner, learner_id) if learner_id else None
        try:
            course: Course = catalogue.get_course(db.session, (form.get("course_code") or "").strip())
            if not may_act_for_venue(course.venue_id):
                raise DomainError(_l("That course belongs to another venue."), code="wrong_venue")
            reg = engine.apply(db.session, course, citizen, learner, staff_actor(g.user),
                               channel="counter")
            audit.record(db.session, "counter_registration", staff_actor(g.user),
                         target=f"registration:{reg.id}", detail={"course": course.code,
                                                                  "state": reg.state})
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("CounterRegistrationView.index", q=citizen.phone))
        flash(_("Registered: %(entry)s (%(state)s).", entry=reg.entry_no,
                state=engine.state_label(reg.state)), "success")
        return redirect(url_for("CounterRegistrationView.done", reg_id=reg.id))

    @expose("/done/<int:reg_id>")
    @has_access
    def done(self, reg_id):
        reg = db.session.get(Registration, reg_id)
        if reg is None:
            abort(404)
        if not may_act_for_venue(reg.venue_id):
            refuse()
        from ...services import payments

        return self.render_template("admin/counter_done.html", reg=reg,
                                    slip=payments.current_slip(db.session, reg),
                                    state_label=engine.state_label)

    @expose("/pay/<int:reg_id>", methods=["POST"])
    @has_access
    def pay(self, reg_id):
        """Take the payment at the counter: the registration is marked paid with a
        numbered receipt and the clerk's name in the trail."""
        reg = db.session.get(Registration, reg_id)
        if reg is None:
            abort(404)
        if not may_act_for_venue(reg.venue_id):
            refuse()
        from ...services import payments

        try:
            receipt = payments.record_counter_payment(db.session, reg, staff_actor(g.user))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(_("Paid at the counter; receipt %(number)s.", number=receipt.number), "success")
        return redirect(url_for("CounterRegistrationView.done", reg_id=reg.id))


def register(appbuilder) -> None:
    appbuilder.add_view(CounterRegistrationView, "Counter registration",
                        label=_l("Counter registration"), category="Registrations",
                        icon="fa-user-plus")
    for role in ("Venue Admin", "Venue Clerk"):
        grant(role, "CounterRegistrationView", ("can_index", "can_signup", "can_register",
                                                "can_done", "can_pay"))
        grant(role, "Counter registration", ("menu_access",))
