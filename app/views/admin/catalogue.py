"""Venue-scoped back-office views of venues, terms, courses, phases and flows."""
from __future__ import annotations

from flask import flash, redirect
from flask_appbuilder import ModelView, action
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from ...extensions import db
from ...models import Course, DiscountRule, FlowTemplate, FlowTemplatePhase, Phase, Term, Venue
from ...services.errors import DomainError
from .scoping import VenueScopedMixin


def optional_text(label, max_length: int | None = None, area: bool = False):
    """A text field that may stay empty (the column is NOT NULL with default ``""``;
    FAB would make it required)."""
    checks = [Optional()] + ([Length(max=max_length)] if max_length else [])
    if area:
        return TextAreaField(label, validators=checks, widget=BS3TextAreaFieldWidget(),
                             filters=[lambda v: v or ""])
    return StringField(label, validators=checks, widget=BS3TextFieldWidget(),
                       filters=[lambda v: v or ""])


class VenueView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Venue)
    venue_path = "id"
    rel_scopes: dict = {}
    list_title = _l("Venues")
    list_columns = ["code", "name", "name_en", "phone", "max_courses_per_term", "payment_days"]
    search_columns = ["code", "name", "name_en", "phone", "email"]
    edit_columns = add_columns = [
        "code", "name", "name_en", "address", "phone", "email", "collection_code",
        "store_item_code", "check_digit_strategy", "max_courses_per_term", "payment_days",
        "posting_grace_days", "allow_discount_stacking", "refund_policy",
        "certificate_attendance_percent",
    ]
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "name_en": _l("English name"),
        "address": _l("Address"), "phone": _l("Phone"), "email": _l("E-mail"),
        "collection_code": _l("Collection code"), "store_item_code": _l("Store item code"),
        "check_digit_strategy": _l("Check-digit strategy"),
        "max_courses_per_term": _l("Courses per person per term"),
        "payment_days": _l("Days to pay"), "posting_grace_days": _l("Posting grace days"),
        "allow_discount_stacking": _l("Discounts stack"), "refund_policy": _l("Refund policy"),
        "certificate_attendance_percent": _l("Attendance for certificate (%)"),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "address": optional_text(_l("Address"), 200), "phone": optional_text(_l("Phone"), 32),
        "email": optional_text(_l("E-mail"), 120),
    }


class TermView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Term)
    list_title = _l("Terms")
    list_columns = ["venue", "code", "name", "starts_on", "ends_on"]
    add_columns = edit_columns = ["venue", "code", "name", "name_en", "starts_on", "ends_on",
                                  "promotion_last_day", "no_class_days"]
    label_columns = {"venue": _l("Venue"), "code": _l("Code"), "name": _l("Name"),
                     "name_en": _l("English name"), "starts_on": _l("Starts on"),
                     "ends_on": _l("Ends on"), "promotion_last_day": _l("Last promotion day"),
                     "no_class_days": _l("No-class days")}
    add_form_extra_fields = edit_form_extra_fields = {
        "name_en": optional_text(_l("English name"), 64),
        "no_class_days": optional_text(_l("No-class days"), area=True),
    }


class DiscountRuleView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(DiscountRule)
    list_title = _l("Discount rules")
    list_columns = ["venue", "identity", "percent", "active"]
    add_columns = edit_columns = ["venue", "identity", "percent", "active"]
    label_columns = {"venue": _l("Venue"), "identity": _l("Identity"),
                     "percent": _l("Percent to pay"), "active": _l("Active")}


class PhaseView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Phase)
    venue_path = "course.venue_id"
    rel_scopes = {"course": "venue_id"}
    list_title = _l("Registration phases")
    list_columns = ["course", "seq", "mode", "eligibility", "seat_cap", "opens_at", "closes_at",
                    "commitment", "drawn_at"]
    add_columns = edit_columns = ["course", "seq", "mode", "eligibility", "identity", "seat_cap",
                                  "opens_at", "closes_at", "auto_draw"]
    show_exclude_columns = ["seed_hex"]
    search_exclude_columns = ["seed_hex", "draw_record"]
    label_columns = {"course": _l("Course"), "seq": _l("Order"), "mode": _l("Mode"),
                     "eligibility": _l("Eligibility"), "identity": _l("Identity"),
                     "seat_cap": _l("Seat cap"), "opens_at": _l("Opens at (UTC)"),
                     "closes_at": _l("Closes at (UTC)"), "auto_draw": _l("Draw automatically"),
                     "commitment": _l("Commitment"), "drawn_at": _l("Drawn at")}


class CourseView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(Course)
    list_title = _l("Courses")
    list_columns = ["code", "title", "term", "teacher", "quota", "seats_taken", "fee"]
    search_columns = ["code", "title", "teacher", "category", "term", "venue"]
    add_columns = edit_columns = [
        "code", "venue", "term", "title", "title_en", "category", "teacher", "description",
        "room", "weekdays", "starts_at", "ends_at", "first_date", "last_date", "sessions",
        "quota", "min_enrolment", "fee", "materials_fee", "age_min", "age_max", "series_code",
        "predecessor_series",
    ]
    show_exclude_columns = ["phases"]
    related_views = [PhaseView]
    label_columns = {
        "code": _l("Course code"), "venue": _l("Venue"), "term": _l("Term"), "title": _l("Title"),
        "title_en": _l("English title"), "category": _l("Category"), "teacher": _l("Teacher"),
        "description": _l("Content"), "room": _l("Room"), "weekdays": _l("Weekdays"),
        "starts_at": _l("Starts at"), "ends_at": _l("Ends at"), "first_date": _l("First date"),
        "last_date": _l("Last date"), "sessions": _l("Sessions"), "quota": _l("Quota"),
        "min_enrolment": _l("Minimum enrolment"), "fee": _l("Fee"),
        "materials_fee": _l("Materials fee"), "age_min": _l("Minimum age"),
        "age_max": _l("Maximum age"), "series_code": _l("Series"),
        "predecessor_series": _l("Predecessor series"), "seats_taken": _l("Seats taken"),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "title_en": optional_text(_l("English title"), 160),
        "description": optional_text(_l("Content"), area=True),
        "room": optional_text(_l("Room"), 64),
    }

    def pre_add(self, item):
        super().pre_add(item)
        self._check_term_of_venue(item)

    def pre_update(self, item):
        super().pre_update(item)
        self._check_term_of_venue(item)

    @staticmethod
    def _check_term_of_venue(item) -> None:
        """A course's term is one of its own venue's terms (a bureau administrator sees
        every venue's terms in the dropdown)."""
        venue_id = item.venue.id if item.venue is not None else item.venue_id
        if item.term is not None and item.term.venue_id != venue_id:
            db.session.rollback()
            raise DomainError(_l("The term belongs to another venue."))

    @action("export_codes", _l("Export course codes"), None, "fa-download", single=False)
    def export_codes(self, items):
        """A small scoped action: shows the selected codes (every action re-checks scope)."""
        items = items if isinstance(items, list) else [items]
        self.check_items(items)
        flash(", ".join(i.code for i in items), "info")
        return redirect(self.get_redirect())


class FlowTemplatePhaseView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(FlowTemplatePhase)
    venue_path = "template.venue_id"
    rel_scopes = {"template": "venue_id"}
    list_title = _l("Flow template phases")
    list_columns = ["template", "seq", "mode", "eligibility", "seat_cap", "opens_at", "closes_at"]
    add_columns = edit_columns = ["template", "seq", "mode", "eligibility", "identity", "seat_cap",
                                  "opens_at", "closes_at", "auto_draw"]
    label_columns = {"template": _l("Template"), "seq": _l("Order"), "mode": _l("Mode"),
                     "eligibility": _l("Eligibility"), "identity": _l("Identity"),
                     "seat_cap": _l("Seat cap"), "opens_at": _l("Opens at (UTC)"),
                     "closes_at": _l("Closes at (UTC)"), "auto_draw": _l("Draw automatically")}


class FlowTemplateView(VenueScopedMixin, ModelView):
    datamodel = SQLAInterface(FlowTemplate)
    list_title = _l("Flow templates")
    list_columns = ["venue", "name"]
    add_columns = edit_columns = search_columns = ["venue", "name"]
    related_views = [FlowTemplatePhaseView]
    label_columns = {"venue": _l("Venue"), "name": _l("Name")}
