"""Venue scoping for back-office views (各場館分層分工).

Flask-AppBuilder's ``base_filters`` guard list, show, edit and delete by primary key, but
not actions, related-field dropdowns or what a form may set.  ``VenueScopedMixin`` closes
each of those paths:

* list/show/edit/delete/export: ``base_filters`` with :class:`VenueScope`;
* related dropdowns: ``add/edit_form_query_rel_fields`` built from :data:`REL_SCOPES`;
* what a form sets: ``pre_add``/``pre_update``/``pre_delete`` compare ``item`` (after the
  form was applied) with the staff member's venue;
* actions: :meth:`VenueScopedMixin.check_items` must be called by every action.
"""
from __future__ import annotations

from flask import abort, g
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import get_field_setup_query

ALL_VENUES = object()


def refuse():
    """Refuse with 403, first dropping whatever a form already applied to the session
    so nothing of the refused change can be committed later in the request."""
    from ...extensions import db

    db.session.rollback()
    abort(403)
CITY_ROLES = {"Bureau Admin", "Supervisor"}


def staff_roles(user=None) -> set[str]:
    user = user if user is not None else getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    return {r.name for r in (user.roles or [])}


def staff_venue_id(user=None):
    """The venue a staff member may act for: an id, ``ALL_VENUES`` for city-wide roles,
    or ``None`` for an account with neither (sees nothing)."""
    user = user if user is not None else getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    profile = getattr(user, "staff_profile", None)
    if profile is not None and profile.venue_id is not None:
        return profile.venue_id
    if staff_roles(user) & CITY_ROLES:
        return ALL_VENUES
    return None


def may_act_for_venue(venue_id, user=None) -> bool:
    scope = staff_venue_id(user)
    if scope is ALL_VENUES:
        return True
    return scope is not None and venue_id == scope


class VenueScope(BaseFilter):
    """Restricts a query to the current staff member's venue (a dotted path works,
    e.g. ``course.venue_id``)."""

    name = "Venue scope"
    arg_name = None

    def apply(self, query, value):
        scope = staff_venue_id()
        if scope is ALL_VENUES:
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field == (scope if scope is not None else -1))


def venue_rel_filter(path: str = "venue_id"):
    """A ``*_query_rel_fields`` entry restricting a dropdown to the staff's venue."""
    return [[path, VenueScope, None]]


class VenueScopedMixin:
    """Mix into a ModelView (before ModelView) and set ``venue_path``.

    ``venue_path`` is the dotted path from the model to the venue id, e.g. ``venue_id``
    or ``course.venue_id``; ``venue_of(item)`` returns the item's venue id.
    ``rel_scopes`` maps a related-field name to the path of *its* venue id.
    """

    venue_path = "venue_id"
    rel_scopes: dict[str, str] = {"venue": "id", "term": "venue_id", "course": "venue_id"}

    def __init__(self, *args, **kwargs):
        self.base_filters = list(getattr(self, "base_filters", None) or []) + [
            [self.venue_path, VenueScope, None]
        ]
        rel = {}
        for field, path in self.rel_scopes.items():
            rel[field] = venue_rel_filter(path)
        self.add_form_query_rel_fields = {**rel, **(self.add_form_query_rel_fields or {})}
        self.edit_form_query_rel_fields = {**rel, **(self.edit_form_query_rel_fields or {})}
        self.search_form_query_rel_fields = {**rel, **(getattr(self, "search_form_query_rel_fields", None) or {})}
        super().__init__(*args, **kwargs)

    # -- the item's venue
    def venue_of(self, item):
        value = item
        for part in self.venue_path.split("."):
            value = getattr(value, part, None) if value is not None else None
        if value is None and self.venue_path.endswith("venue_id"):
            rel = getattr(item, self.venue_path.rsplit("_id", 1)[0].split(".")[-1], None)
            value = getattr(rel, "id", None)
        return value

    def check_item(self, item) -> None:
        if not may_act_for_venue(self.venue_of(item)):
            refuse()

    def check_items(self, items) -> None:
        for item in items if isinstance(items, (list, tuple)) else [items]:
            self.check_item(item)

    # -- form hooks: run after the form was applied to the item
    def pre_add(self, item):
        scope = staff_venue_id()
        if self.venue_path == "venue_id" and getattr(item, "venue_id", None) is None \
                and getattr(item, "venue", None) is None and scope not in (None, ALL_VENUES):
            item.venue_id = scope
        self._check_related(item)
        self.check_item(item)
        super_pre = getattr(super(), "pre_add", None)
        if super_pre:
            super_pre(item)

    def pre_update(self, item):
        self._check_related(item)
        self.check_item(item)
        super_pre = getattr(super(), "pre_update", None)
        if super_pre:
            super_pre(item)

    def pre_delete(self, item):
        self.check_item(item)
        super_pre = getattr(super(), "pre_delete", None)
        if super_pre:
            super_pre(item)

    def _check_related(self, item) -> None:
        """Every related row the form may set must belong to the staff's venue too."""
        for field, path in self.rel_scopes.items():
            related = getattr(item, field, None)
            if related is None:
                continue
            value = related
            for part in path.split("."):
                value = getattr(value, part, None)
            if value is not None and not may_act_for_venue(value):
                refuse()
