"""The satisfaction survey on the public site (滿意度問卷).

* ``POST /survey/answer`` and ``POST /survey/dismiss``: the pop-up's endpoints
  (``templates/public/survey/_invite.html`` + ``static/js/survey.js``).  They answer JSON
  to the script and redirect back (``next``) for a plain form post without script.
* ``GET|POST /survey/terms/<term_id>``: the standalone page the after-course invitation
  links to.

Only a logged-in citizen who registered for something in the term may answer; each
citizen answers at most once per term (``app.services.survey``).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...models import Term
from ...services import survey
from ...services.errors import DomainError
from ...services.ids import parse_id
from .auth import require_citizen

bp = Blueprint("survey", __name__, url_prefix="/survey")


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"


def _safe_next(default: str) -> str:
    target = (request.form.get("next") or request.args.get("next") or "").strip()
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _term(raw) -> Term:
    term_id = parse_id(raw)
    if term_id is None:
        abort(404)
    term = db.session.get(Term, term_id)
    if term is None or not survey.took_part(db.session, g.citizen, term):
        abort(404)
    return term


def _answer(term: Term, source: str):
    return survey.answer(db.session, g.citizen, term, request.form.get("overall"),
                         request.form.get("ease"), request.form.get("comment", ""), source)


@bp.route("/answer", methods=["POST"])
@require_citizen
def answer():
    term = _term(request.form.get("term_id"))
    source = request.form.get("source") or "popup"
    try:
        _answer(term, source)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if _wants_json():
            return jsonify({"error": exc.code, "field": getattr(exc, "field", None),
                            "message": str(exc)}), exc.status
        flash(str(exc), "error")
        return redirect(url_for("survey.page", term_id=term.id, next=_safe_next("")))
    message = _("Thank you for your answer!")
    if _wants_json():
        return jsonify({"ok": True, "message": message})
    flash(message, "success")
    return redirect(_safe_next(url_for("survey.page", term_id=term.id)))


@bp.route("/dismiss", methods=["POST"])
@require_citizen
def dismiss():
    term = _term(request.form.get("term_id"))
    survey.dismiss(db.session, g.citizen, term, request.form.get("source") or "popup")
    db.session.commit()
    if _wants_json():
        return jsonify({"ok": True})
    return redirect(_safe_next(url_for("registration.mine")))


@bp.route("/terms/<int:term_id>", methods=["GET", "POST"])
@require_citizen
def page(term_id):
    """The after-course invitation's page (and the pop-up's fallback without script)."""
    term = _term(term_id)
    error = None
    status = 200
    if request.method == "POST":
        try:
            _answer(term, request.form.get("source") or "after_course")
            db.session.commit()
            flash(_("Thank you for your answer!"), "success")
            return redirect(url_for("survey.page", term_id=term.id))
        except DomainError as exc:
            db.session.rollback()
            error, status = exc, exc.status
    existing = survey.response_of(db.session, g.citizen, term)
    return render_template("public/survey/page.html", term=term, error=error,
                           may_answer=survey.may_answer(db.session, g.citizen, term),
                           existing=existing, form=request.form,
                           source=request.args.get("source") or "after_course"), status
