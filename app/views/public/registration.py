"""Registering for a course, "my registrations", withdrawal, public lists and lottery pages."""
from __future__ import annotations

import json

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template,
                   request, url_for)
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from ...extensions import db
from ...models import Learner, Registration
from ...services import accounts, catalogue, draws, public_lists, registration as engine
from ...services.errors import DomainError
from ...services.ids import parse_id
from .auth import request_actor, require_citizen

bp = Blueprint("registration", __name__)


def _learners(citizen):
    return db.session.execute(select(Learner).where(Learner.citizen_id == citizen.id)
                              .order_by(Learner.id)).scalars().all()


def course_page_extras(course) -> dict:
    """The register block (with the reason when one cannot) and the public lists."""
    citizen = getattr(g, "citizen", None)
    reason = None
    learners = []
    if citizen is None:
        reason = _("Log in to register.")
    else:
        learners = _learners(citizen)
        try:
            engine.check_can_apply(db.session, course, citizen, None)
        except DomainError as exc:
            reason = str(exc)
            if exc.code == "duplicate" and len(learners) > 1:
                reason = None  # another learner on the account may still register
    lists = public_lists.admission_lists(db.session, course)
    register_block = Markup(render_template("public/registration/_register.html", course=course,
                                            reason=reason, learners=learners, citizen=citizen))
    lists_block = Markup(render_template("public/registration/_lists.html", course=course,
                                         lists=lists,
                                         lotteries=public_lists.lottery_phases(course)))
    return {"register_block": register_block, "lists_block": lists_block}


@bp.route("/courses/<code>/register", methods=["POST"])
@require_citizen
def register(code):
    course = catalogue.get_course(db.session, code)
    learner = None
    raw = (request.form.get("learner_id") or "").strip()
    if raw:
        learner_id = parse_id(raw)
        learner = db.session.get(Learner, learner_id) if learner_id else None
        if learner is None or learner.citizen_id != g.citizen.id:
            raise DomainError(_("Choose a learner from the list."), code="bad_learner")
    reg = engine.apply(db.session, course, g.citizen, learner, request_actor())
    reg_id, state = reg.id, reg.state  # the commit expires ``reg``: no reload after it
    db.session.commit()
    messages = {
        "admitted": _("You are admitted. Please pay by the deadline shown below."),
        "waitlisted": _("The course is full: you are on the waitlist."),
        "applied": _("Your application is in. The lottery will be drawn after the phase closes."),
    }
    flash(messages.get(state, _("Your application is in.")), "success")
    return redirect(url_for("registration.detail", reg_id=reg_id))


@bp.route("/my/registrations")
@require_citizen
def mine():
    regs = db.session.execute(select(Registration).where(Registration.citizen_id == g.citizen.id)
                              .order_by(Registration.applied_at.desc())).scalars().all()
    positions = {}
    for reg in regs:
        if reg.state == "waitlisted" and reg.course_id not in positions:
            positions[reg.course_id] = engine.waitlist_positions(db.session, reg.course_id)
    return render_template("public/registration/mine.html", regs=regs, positions=positions,
                           state_label=engine.state_label)


@bp.route("/my/registrations/<int:reg_id>")
@require_citizen
def detail(reg_id):
    reg = engine.for_citizen(db.session, g.citizen, reg_id)
    position = None
    if reg.state == "waitlisted":
        position = engine.waitlist_positions(db.session, reg.course_id).get(reg.id)
    from ...services import payments

    slip = payments.current_slip(db.session, reg)
    from ...services import survey

    invite = ("survey.answer" in current_app.view_functions
              and survey.should_invite(db.session, g.citizen, reg.course.term))
    return render_template("public/registration/detail.html", reg=reg, position=position,
                           slip=slip, state_label=engine.state_label,
                           has_payments="payments.slip" in current_app.view_functions,
                           survey_invite=invite, survey_term=reg.course.term)


@bp.route("/my/registrations/<int:reg_id>/withdraw", methods=["GET", "POST"])
@require_citizen
def withdraw(reg_id):
    reg = engine.for_citizen(db.session, g.citizen, reg_id)
    error = None
    if request.method == "POST":
        try:
            accounts.verify_password(g.citizen, request.form.get("password", ""))
            engine.withdraw(db.session, reg, request_actor(), note="by the citizen")
            from ...services import audit

            audit.record(db.session, "citizen_withdrawal", request_actor(),
                         target=f"registration:{reg.id}")
            db.session.commit()
            flash(_("Your registration was withdrawn."), "success")
            return redirect(url_for("registration.detail", reg_id=reg.id))
        except accounts.FieldError as exc:
            db.session.rollback()
            error = str(exc)
    status = 400 if error else 200
    return render_template("public/registration/withdraw.html", reg=reg, error=error), status


@bp.route("/courses/<code>/admissions")
def admissions(code):
    course = catalogue.get_course(db.session, code)
    lists = public_lists.admission_lists(db.session, course)
    return render_template("public/registration/admissions.html", course=course, lists=lists)


def _lottery_phase(course):
    phases = public_lists.lottery_phases(course)
    if not phases:
        abort(404)
    raw = request.args.get("phase")
    if raw is None:
        drawn = [p for p in phases if p.drawn_at]
        return drawn[-1] if drawn else phases[0]
    seq = parse_id(raw)
    for p in phases:
        if p.seq == seq:
            return p
    abort(404)


@bp.route("/courses/<code>/lottery")
def lottery(code):
    course = catalogue.get_course(db.session, code)
    phase = _lottery_phase(course)
    record = draws.public_record(db.session, phase)
    return render_template("public/registration/lottery.html", course=course, phase=phase,
                           record=record, phases=public_lists.lottery_phases(course))


@bp.route("/courses/<code>/lottery.json")
def lottery_json(code):
    course = catalogue.get_course(db.session, code)
    phase = _lottery_phase(course)
    record = draws.public_record(db.session, phase)
    body = json.dumps(record, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="lottery-{course.code}-{phase.seq}.json"'})


def init_registration(app) -> None:
    app.extensions["course_page_extras"] = course_page_extras
