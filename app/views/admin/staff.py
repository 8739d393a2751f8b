"""Bureau administrators assign back-office accounts to venues."""
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from ...models import StaffProfile


class StaffProfileView(ModelView):
    """Only the bureau administrator role is granted this view (see roles.py)."""

    datamodel = SQLAInterface(StaffProfile)
    # No files and no actions: FAB's routes for them would only answer 500s.
    exclude_route_methods = {"download", "action", "action_post"}
    list_title = _l("Staff venues")
    list_columns = ["user", "venue"]
    add_columns = edit_columns = ["user", "venue"]
    label_columns = {"user": _l("Account"), "venue": _l("Venue")}
