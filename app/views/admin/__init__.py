"""The Flask-AppBuilder back office: views, menus and roles."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


def _refuse_what_names_no_row() -> None:
    """Flask-AppBuilder's model views pass ``<pk>``, an action's name and the list's page
    and page size from the URL on unchecked: a key beyond PostgreSQL's integer (or "²")
    reached the database, an unknown action name raised, a page beyond its bigint made the
    query fail, each a 500.  Every model here has an integer key, so anything else names no
    row (404), and so does an action the view does not have; a page that is not one is 400."""
    from flask import abort, current_app, request

    from ...services.ids import parse_id

    @current_app.before_request
    def refuse():
        for arg, values in request.args.lists():
            if arg.startswith(("page_", "psize_")) and not all(
                    parse_id(v) is not None or v.strip() == "0" for v in values):
                abort(400)
        args = request.view_args or {}
        posted_action = (request.endpoint or "").endswith(".action_post")
        if "pk" not in args and not posted_action:
            return
        view = getattr(current_app.view_functions.get(request.endpoint), "__self__", None)
        if view is None:
            return
        if "pk" in args and parse_id(args["pk"]) is None:
            abort(404)
        name = args.get("name") if "name" in args else request.form.get("action") if posted_action else None
        if (name is not None or posted_action) and name not in (getattr(view, "actions", None) or {}):
            abort(404)


def register_admin_views(appbuilder) -> None:
    _refuse_what_names_no_row()
    from .catalogue import (
        CourseView, DiscountRuleView, FlowTemplatePhaseView, FlowTemplateView, PhaseView,
        TermView, VenueView,
    )
    from .staff import StaffProfileView

    venues = "Venues"
    appbuilder.add_view(VenueView, "Venue list", label=_l("Venues"), category=venues,
                        category_label=_l("Venues & courses"), icon="fa-building")
    appbuilder.add_view(TermView, "Term list", label=_l("Terms"), category=venues, icon="fa-calendar")
    appbuilder.add_view(CourseView, "Course list", label=_l("Courses"), category=venues, icon="fa-book")
    appbuilder.add_view(PhaseView, "Phase list", label=_l("Registration phases"), category=venues,
                        icon="fa-list-ol")
    appbuilder.add_view(FlowTemplateView, "Flow templates", label=_l("Flow templates"),
                        category=venues, icon="fa-clone")
    appbuilder.add_view_no_menu(FlowTemplatePhaseView)
    appbuilder.add_view(DiscountRuleView, "Discount rules", label=_l("Discount rules"),
                        category=venues, icon="fa-percent")
    appbuilder.add_view(StaffProfileView, "Staff venues", label=_l("Staff venues"),
                        category="Security", icon="fa-id-badge")
    from . import classes, counter, identity_claims, notifications, payments, registrations

    registrations.register(appbuilder)
    identity_claims.register(appbuilder)
    counter.register(appbuilder)
    classes.register(appbuilder)
    payments.register(appbuilder)
    notifications.register(appbuilder)
    from . import audit, office, survey

    audit.register(appbuilder)
    office.register(appbuilder)
    survey.register(appbuilder)
