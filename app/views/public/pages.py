"""Pages people expect: accessibility statement, privacy notice, venue contacts."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from ...extensions import db
from ...models import Venue

bp = Blueprint("pages", __name__)


@bp.route("/accessibility")
def accessibility():
    return render_template("public/pages/accessibility.html")


@bp.route("/privacy")
def privacy():
    return render_template("public/pages/privacy.html")


@bp.route("/contact")
def contact():
    venues = db.session.execute(select(Venue).order_by(Venue.id)).scalars().all()
    return render_template("public/pages/contact.html", venues=venues)
