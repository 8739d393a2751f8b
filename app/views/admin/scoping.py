"""Venue scoping for back-office views (各場館分層分工).

Flask-AppBuilder's ``base_filters`` guard list, show, edit and delete by primary key, but
not actions, related-field dropdowns or what a form may set.  ``VenueScopedMixin`` closes
each of those paths:

* list/show/edit/delete and related lists: ``base_filters`` with :class:`VenueScope`;
* related dropdowns of the add, edit and search forms: ``*_query_rel_fields`` built from
  ``rel_scopes``; a view that offers a relation missing from ``rel_scopes`` refuses to start;
* what a form sets: ``pre_add``/``pre_update``/``pre_delete`` compare ``item`` (after the
  form was applied) with the staff member's venue;
* actions: ``action``/``action_post`` run only on rows the base filters let through (404
  otherwise), and every action also calls :meth:`VenueScopedMixin.check_items`;
* downloads: the scoped models have no files, so FAB's ``download`` route is not registered.
"""
from __future__ import annotations

import re

from flask import abort, g, request
from flask_appbuilder import expose
from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import get_field_setup_query

from ...services.ids import is_number, parse_id

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
    exclude_route_methods = {"download"}

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
        offered = set(self.search_columns)
        offered |= set(self.add_columns) if "can_add" in self.base_permissions else set()
        offered |= set(self.edit_columns) if "can_edit" in self.base_permissions else set()
        unscoped = {c for c in offered if self.datamodel.is_relation(c)} - set(self.rel_scopes)
        if unscoped:
            raise TypeError(f"{type(self).__name__} offers relations without a venue scope: "
                            f"{sorted(unscoped)}; add them to rel_scopes or drop the columns")

    # -- request arguments FAB trusts
    @before_request
    def _refuse_malformed_arguments(self):
        """FAB uses its list arguments unchecked: a page or page size that is not a
        number, the n-th filter of a column (``_flt_<n>_<column>``) that does not exist, a
        related row's key that is not a number, a NUL byte PostgreSQL refuses in text: each
        a 500.  Answer 400 instead."""
        if any("\x00" in v for _, values in request.values.lists() for v in values):
            abort(400)
        filters = self._filters._all_filters
        for arg in request.args:
            values = request.args.getlist(arg)
            if arg.startswith(("page_", "psize_")) and not all(is_number(v) for v in values):
                abort(400)
            m = re.match(r"_flt_(\d)_(.*)", arg)
            if m and m.group(2) in filters:
                column = m.group(2)
                if int(m.group(1)) >= len(filters[column]):
                    abort(400)
                if self.datamodel.is_relation(column) and not all(is_number(v) for v in values):
                    abort(400)

    # -- primary keys and actions
    def _deserialize_pk_if_composite(self, pk):
        """Every scoped model has an integer key: anything else is a 404, not a DB error."""
        key = parse_id(pk)
        if key is None:
            abort(404)
        return key

    def _scoped_action_items(self, name, pks) -> None:
        """An action runs only on rows the staff member may see; 404 otherwise."""
        if name not in self.actions:
            abort(404)
        for pk in pks:
            if self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters) is None:
                abort(404)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._scoped_action_items(name, [pk])
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._scoped_action_items(request.form.get("action"), request.form.getlist("rowid"))
        return super().action_post()

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
        self._check_form_result(item)
        super_pre = getattr(super(), "pre_add", None)
        if super_pre:
            super_pre(item)

    def pre_update(self, item):
        self._check_form_result(item)
        super_pre = getattr(super(), "pre_update", None)
        if super_pre:
            super_pre(item)

    def pre_delete(self, item):
        self.check_item(item)
        super_pre = getattr(super(), "pre_delete", None)
        if super_pre:
            super_pre(item)

    def _check_form_result(self, item) -> None:
        """Check the item as the form left it, without flushing the change first (a
        flush could fail on a constraint, or write before the refusal)."""
        from ...extensions import db

        with db.session.no_autoflush:
            self._check_related(item)
            self.check_item(item)

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
