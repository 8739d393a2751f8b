"""The Flask-AppBuilder back office: views, menus and roles."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_admin_views(appbuilder) -> None:
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
