"""Back-office notification views (通知紀錄), venue-scoped and read-only but for "resend".

* **Delivery log** (:class:`NotificationView`): every message with its status, attempts,
  provider id and last error; its show page lists each attempt
  (:class:`DeliveryAttemptView`).  Per registration: ``/notificationview/registration/<id>``
  (or ``related_views = [NotificationView]`` on the registration view).
* **Failed messages** (:class:`FailedNotificationView`): the failed ones, with the
  "resend" action (also on the log).

Message bodies are never shown: they may hold one-time codes or password-reset links.
Messages without a venue (account verification) are seen by city-wide roles only.
Every action re-checks the venue of each item (``check_items``), as base filters do
not guard actions.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _, lazy_gettext as _l

from ...extensions import db
from ...models import DeliveryAttempt, Notification, Registration
from ...services import audit, delivery
from .roles import READ, grant
from .scoping import VenueScopedMixin, may_act_for_venue

LABELS = {
    "created_at": _l("Created at (UTC)"), "event": _l("Event"), "channel": _l("Channel"),
    "recipient": _l("Recipient"), "subject": _l("Subject"), "status": _l("Status"),
    "attempts": _l("Attempts"), "next_attempt_at": _l("Next attempt at (UTC)"),
    "last_error": _l("Last error"), "provider_id": _l("Provider id"),
    "sent_at": _l("Sent at (UTC)"), "registration": _l("Registration"), "venue": _l("Venue"),
    "locale": _l("Language"), "citizen": _l("Citizen"), "at": _l("At (UTC)"),
    "error": _l("Error"), "notification": _l("Message"),
}


class DeliveryAttemptView(VenueScopedMixin, ModelView):
    """Each attempt to deliver a message: when, result, provider id, error."""

    datamodel = SQLAInterface(DeliveryAttempt)
    venue_path = "notification.venue_id"
    rel_scopes = {"notification": "venue_id"}
    base_permissions = ["can_list", "can_show"]
    base_order = ("at", "desc")
    list_title = _l("Delivery attempts")
    list_columns = ["at", "notification", "status", "provider_id", "error"]
    show_columns = list_columns
    search_columns = ["status", "provider_id"]
    label_columns = LABELS


class NotificationView(VenueScopedMixin, ModelView):
    """The delivery log: every outbox message of the staff member's venue."""

    datamodel = SQLAInterface(Notification)
    rel_scopes = {"venue": "id", "registration": "venue_id"}
    base_permissions = ["can_list", "can_show", "can_registration", "resend"]
    base_order = ("created_at", "desc")
    related_views = [DeliveryAttemptView]
    list_title = _l("Delivery log")
    show_title = _l("Message")
    list_columns = ["created_at", "event", "channel", "recipient", "registration", "status",
                    "attempts", "sent_at", "last_error"]
    show_columns = ["created_at", "event", "channel", "recipient", "locale", "subject",
                    "registration", "venue", "status", "attempts", "next_attempt_at",
                    "provider_id", "sent_at", "last_error"]
    search_columns = ["registration", "event", "channel", "status", "recipient", "provider_id"]
    label_columns = LABELS

    @expose("/registration/<int:reg_id>")
    @has_access
    def registration(self, reg_id: int):
        """The delivery log of one registration (its venue checked first)."""
        reg = db.session.get(Registration, reg_id)
        if reg is None:
            abort(404)
        if not may_act_for_venue(reg.venue_id):
            abort(403)
        return redirect(url_for(f"{self.endpoint}.list", _flt_0_registration=reg_id))

    @action("resend", _l("Resend"), _l("Send the selected failed messages again?"), "fa-repeat")
    def resend(self, items):
        """Put failed messages back in the outbox; others are left as they are."""
        items = [i for i in (items if isinstance(items, list) else [items]) if i is not None]
        self.check_items(items)
        again = delivery.resend(db.session, items)
        if again:
            from .security import staff_actor

            actor = staff_actor(g.user)
            for n in again:
                audit.record(db.session, "notification_resend", actor, target=f"notification:{n.id}",
                             detail={"event": n.event, "channel": n.channel})
        db.session.commit()
        if again:
            flash(_("%(n)d message(s) will be sent again.", n=len(again)), "success")
        else:
            flash(_("Only failed messages can be sent again."), "warning")
        return redirect(self.get_redirect())


class FailedNotificationView(NotificationView):
    """Failed messages, to check and resend."""

    base_filters = [["status", FilterEqual, "failed"]]
    base_permissions = ["can_list", "can_show", "resend"]
    list_title = _l("Failed messages")
    list_columns = ["created_at", "event", "channel", "recipient", "registration", "attempts",
                    "last_error"]


def register(appbuilder) -> None:
    """Add the views and menus, and grant them to the venue roles."""
    category = "Notifications"
    appbuilder.add_view_no_menu(DeliveryAttemptView)
    appbuilder.add_view(NotificationView, "Delivery log", label=_l("Delivery log"),
                        category=category, category_label=_l("Notifications"), icon="fa-envelope")
    appbuilder.add_view(FailedNotificationView, "Failed messages", label=_l("Failed messages"),
                        category=category, icon="fa-exclamation-triangle")
    for role in ("Venue Admin", "Venue Clerk"):
        # FAB names an action's permission after the action itself: "resend".
        grant(role, "NotificationView", READ + ("can_registration", "resend"))
        grant(role, "FailedNotificationView", READ + ("resend",))
        grant(role, "DeliveryAttemptView", ("can_list", "can_show"))
        grant(role, category, ("menu_access",))
        grant(role, "Delivery log", ("menu_access",))
        grant(role, "Failed messages", ("menu_access",))
