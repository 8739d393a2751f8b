"""Back-office registrations per course (filled in by the registration engine issue)."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from ...models import Registration
from .roles import grant
from .scoping import VenueScopedMixin


class RegistrationView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Registration)
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Registrations")
    list_columns = ["entry_no", "course", "state", "applied_at", "deadline_at"]
    search_columns = ["entry_no", "course", "state"]
    show_columns = ["entry_no", "course", "phase", "state", "tier", "ticket", "channel",
                    "applied_at", "admitted_at", "deadline_at", "paid_at", "closed_at"]
    label_columns = {"entry_no": _l("Entry number"), "course": _l("Course"), "state": _l("State"),
                     "applied_at": _l("Applied at"), "deadline_at": _l("Payment deadline"),
                     "phase": _l("Phase"), "tier": _l("Tier"), "ticket": _l("Ticket"),
                     "channel": _l("Channel"), "admitted_at": _l("Admitted at"),
                     "paid_at": _l("Paid at"), "closed_at": _l("Closed at")}


def register(appbuilder) -> None:
    appbuilder.add_view(RegistrationView, "Registration list", label=_l("Registrations"),
                        category="Registrations", category_label=_l("Registrations"),
                        icon="fa-users")
    for role in ("Venue Admin", "Venue Clerk"):
        grant(role, "RegistrationView", ("can_list", "can_show", "menu_access"))
