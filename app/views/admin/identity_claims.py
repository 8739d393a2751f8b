"""Back office: citizens' identity claims (身分別證明) of the staff member's venue.

Clerks and venue administrators see their venue's claims, open the proof file and verify or
reject the claim.  Every path is venue-scoped: the list and show pages by ``base_filters``,
the actions by ``check_items`` and again in the service, the proof download by the service's
``proof_for_staff`` (another venue's claim answers 404).
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, send_file, url_for
from flask_appbuilder import ModelView, action, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _, lazy_gettext as _l
from markupsafe import Markup, escape

from ...extensions import db
from ...models import IdentityClaim
from ...services import identity_claims as claims_service
from ...services.identities import label as identity_label
from .roles import grant
from .scoping import ALL_VENUES, VenueScopedMixin, staff_venue_id
from .security import staff_actor

VIEW_NAME = "IdentityClaimView"
MENU_NAME = "Identity claims"


def service_scope():
    """The staff member's venue in the form the service expects."""
    scope = staff_venue_id()
    return claims_service.ALL_VENUES if scope is ALL_VENUES else scope


def _proof_link(pk) -> Markup:
    return Markup('<a href="{}">{}</a>').format(
        url_for(f"{VIEW_NAME}.proof", pk=pk), _("Open the proof file"))


class IdentityClaimView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(IdentityClaim)
    rel_scopes = {"venue": "id"}
    base_permissions = ["can_list", "can_show", "can_proof"]  # + the actions verify, reject
    base_order = ("claimed_at", "desc")
    list_title = _l("Identity claims")
    show_title = _l("Identity claim")
    list_columns = ["claimed_at", "venue", "citizen.name", "learner.name", "identity", "status",
                    "decided_at", "id"]
    show_columns = ["venue", "citizen.name", "learner.name", "identity", "status", "proof_name",
                    "proof_mime", "claimed_at", "decided_at", "decided_by", "note", "id"]
    search_columns = ["venue", "identity", "status", "claimed_at"]
    label_columns = {
        "claimed_at": _l("Claimed at (UTC)"), "venue": _l("Venue"), "citizen.name": _l("Citizen"),
        "learner.name": _l("Learner"), "identity": _l("Identity"), "status": _l("Status"),
        "decided_at": _l("Decided at (UTC)"), "decided_by": _l("Decided by"), "note": _l("Note"),
        "proof_name": _l("File name"), "proof_mime": _l("File type"), "id": _l("Proof file"),
    }
    formatters_columns = {
        "identity": lambda v: escape(identity_label(v)),
        "status": lambda v: escape(claims_service.status_label(v)),
        "id": _proof_link,
    }

    @expose("/proof/<int:pk>")
    @has_access
    def proof(self, pk):
        """Download the proof file; only for staff of the claim's venue."""
        proof = claims_service.proof_for_staff(db.session, pk, service_scope(), staff_actor(g.user))
        db.session.commit()  # the viewing is in the security trail
        resp = send_file(proof.path, mimetype=proof.mime, as_attachment=True,
                         download_name=proof.name, max_age=0)
        resp.headers["Cache-Control"] = "private, no-store"
        return resp

    def _decide(self, items, to: str):
        items = items if isinstance(items, list) else [items]
        if not items or any(item is None for item in items):
            abort(404)
        self.check_items(items)  # refuses another venue's claims before anything changes
        actor = staff_actor(g.user)
        changed = skipped = 0
        decide = claims_service.verify_claim if to == "verified" else claims_service.reject_claim
        for item in items:
            if item.status == to:
                skipped += 1
                continue
            decide(db.session, item.id, service_scope(), actor)
            changed += 1
        db.session.commit()
        if to == "verified":
            flash(_("%(n)s claim(s) verified.", n=changed), "success")
        else:
            flash(_("%(n)s claim(s) not accepted.", n=changed), "success")
        if skipped:
            flash(_("%(n)s claim(s) already had that decision and were left unchanged.", n=skipped),
                  "info")
        return redirect(self.get_redirect())

    @action("verify", _l("Verify"), _l("Accept the proof of the selected claims?"), "fa-check")
    def verify(self, items):
        return self._decide(items, "verified")

    @action("reject", _l("Do not accept"), _l("Refuse the proof of the selected claims?"), "fa-times")
    def reject(self, items):
        return self._decide(items, "rejected")


def register(appbuilder) -> None:
    appbuilder.add_view(IdentityClaimView, MENU_NAME, label=_l("Identity claims"),
                        category="Registrations", category_label=_l("Registrations"),
                        icon="fa-id-card")
    for role in ("Venue Admin", "Venue Clerk"):
        grant(role, VIEW_NAME, ("can_list", "can_show", "can_proof", "verify", "reject"))
        grant(role, MENU_NAME, ("menu_access",))
