"""Catalogue and course pages, and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from ...extensions import db
from ...services import catalogue as catalogue_service
from ...services import clock

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    query = catalogue_service.CatalogueQuery.from_args(request.args)
    page = catalogue_service.search(db.session, query)
    return render_template(
        "public/catalogue.html", page=page, query=query,
        choices=catalogue_service.filter_choices(db.session), now=clock.now(),
        status_of=catalogue_service.course_status, phase_of=catalogue_service.current_phase,
    )


@bp.route("/courses/<code>")
def course(code: str):
    course = catalogue_service.get_course(db.session, code)
    counts = catalogue_service.live_counts(db.session, [course.id])[course.id]
    now = clock.now()
    return render_template(
        "public/course.html", course=course, counts=counts, now=now,
        status=catalogue_service.course_status(course, now),
        phase=catalogue_service.current_phase(course, now),
        next_phase=catalogue_service.next_phase(course, now),
        extra=_course_extras(course),
    )


def _course_extras(course):
    """Hook for the registration engine: register button state, lists (filled later)."""
    from flask import current_app

    provider = current_app.extensions.get("course_page_extras")
    return provider(course) if provider else {}


@bp.route("/language/<locale>")
def language(locale: str):
    from ... import SUPPORTED_LOCALES

    if locale not in SUPPORTED_LOCALES:
        abort(404)
    session["locale"] = locale
    target = request.args.get("next") or url_for("public.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        target = url_for("public.index")
    return redirect(target)
