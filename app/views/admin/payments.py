"""Back office for money: slips, payments, exceptions to resolve, reconciliation batches
(with the upload form), receipts, the refunds queue, remittance batches and revenue.

Every view is scoped to the staff member's venue (``VenueScopedMixin``); every action
re-checks the venue of each selected row and goes through the services.  Reconciliation
batches have no venue column: a venue's staff see the batches that hold its payments or
were uploaded by its staff (:class:`BatchScope`).
"""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template_string, url_for
from flask_appbuilder import BaseView, ModelView, SimpleFormView, action, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, or_, select
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, Length

from ...extensions import db
from ...models import (
    Course, Payment, PaymentSlip, Receipt, ReconciliationBatch, Refund, Registration,
    RemittanceBatch, StaffProfile, User,
)
from ...services import receipts, reconciliation, refunds, slips
from ...services.errors import DomainError
from .roles import grant
from .scoping import ALL_VENUES, VenueScopedMixin, may_act_for_venue, refuse, staff_venue_id
from .security import staff_actor

MONEY = "Money"

#: Shared column labels.
LABELS = {
    "registration": _l("Registration"), "venue": _l("Venue"), "amount": _l("Amount"),
    "virtual_account": _l("Virtual account"), "status": _l("Status"), "state": _l("State"),
    "deadline_at": _l("Deadline"), "issued_at": _l("Issued at"), "fee": _l("Fee"),
    "discount_percent": _l("Percent paid"), "discount_identities": _l("Identities"),
    "materials_fee": _l("Materials fee"), "barcode1": _l("Barcode 1"),
    "barcode2": _l("Barcode 2"), "barcode3": _l("Barcode 3"), "source": _l("Source"),
    "external_serial": _l("Serial"), "kind": _l("Kind"), "channel": _l("Channel"),
    "reference": _l("Reference"), "paid_at": _l("Paid at"), "posted_on": _l("Posted on"),
    "batch": _l("Batch"), "slip": _l("Slip"), "exception_reason": _l("Exception"),
    "resolved_by": _l("Resolved by"), "resolution_note": _l("Note"),
    "created_at": _l("Received at"), "filename": _l("File"), "encoding": _l("Encoding"),
    "imported_at": _l("Imported at"), "imported_by": _l("Imported by"), "lines": _l("Records"),
    "applied": _l("Applied"), "duplicates": _l("Duplicates"), "exceptions": _l("Exceptions"),
    "reversals": _l("Reversals"), "error": _l("Errors"), "number": _l("Receipt number"),
    "issued_by": _l("Issued by"), "percent": _l("Percent"), "reason": _l("Reason"),
    "bank_code": _l("Bank code"), "branch_code": _l("Branch code"),
    "account_holder": _l("Account holder"), "requested_at": _l("Requested at"),
    "decided_at": _l("Decided at"), "decided_by": _l("Decided by"),
    "decision_note": _l("Decision note"), "remitted_at": _l("Remitted at"),
    "count": _l("Refunds"), "total": _l("Total"), "created_by": _l("Created by"),
    "payment": _l("Payment"),
}


def _items(items) -> list:
    return items if isinstance(items, list) else [items]


def _pdf(body: bytes, filename: str) -> Response:
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store"})


class _MoneyView(VenueScopedMixin, ModelView):
    """Read-only, scoped, with a helper that runs a service step per selected row."""

    base_permissions = ["can_list", "can_show"]
    rel_scopes = {"venue": "id"}
    label_columns = LABELS
    page_size = 50

    def _each(self, items, step, done_message):
        items = _items(items)
        self.check_items(items)
        done, errors = 0, []
        for item in items:
            try:
                step(item)
                db.session.commit()
                done += 1
            except DomainError as exc:
                db.session.rollback()
                errors.append(f"#{item.id}: {exc}")
        if done:
            flash(done_message % {"n": done}, "success")
        for message in errors:
            flash(message, "danger")
        return redirect(self.get_redirect())


# ---- slips and receipts ------------------------------------------------------------

class PaymentSlipView(_MoneyView):
    datamodel = SQLAInterface(PaymentSlip)
    list_title = _l("Payment slips")
    list_columns = ["registration", "virtual_account", "amount", "deadline_at", "status",
                    "issued_at"]
    search_columns = ["virtual_account", "status", "amount", "issued_at"]
    show_columns = ["registration", "venue", "virtual_account", "fee", "discount_percent",
                    "discount_identities", "materials_fee", "amount", "deadline_at", "barcode1",
                    "barcode2", "barcode3", "status", "issued_at"]
    base_order = ("issued_at", "desc")

    @action("slip_pdf", _l("Download the slip (PDF)"), None, "fa-file-pdf-o", multiple=False)
    def slip_pdf(self, items):
        slip = _items(items)[0]
        self.check_item(slip)
        return _pdf(slips.render_slip(slip), f"slip-{slip.registration.entry_no}.pdf")


class ReceiptView(_MoneyView):
    datamodel = SQLAInterface(Receipt)
    list_title = _l("Receipts")
    list_columns = ["number", "registration", "amount", "issued_at", "issued_by"]
    search_columns = ["number", "issued_at", "amount"]
    show_columns = list_columns
    base_order = ("number", "desc")

    @action("print_receipts", _l("Print receipts (PDF)"), None, "fa-print")
    def print_receipts(self, items):
        items = sorted(_items(items), key=lambda r: r.number)
        self.check_items(items)
        valid = [r for r in items if receipts.is_valid(r)]
        if len(valid) < len(items):
            flash(_("Receipts of payments the bank reversed are void and were left out."),
                  "warning")
        if not valid:
            return redirect(self.get_redirect())
        return _pdf(slips.render_receipts(db.session, valid), "receipts.pdf")


# ---- payments and exceptions -------------------------------------------------------

class PaymentView(_MoneyView):
    datamodel = SQLAInterface(Payment)
    list_title = _l("Payments received")
    list_columns = ["created_at", "source", "channel", "reference", "amount", "kind", "status",
                    "exception_reason", "slip"]
    search_columns = ["source", "channel", "reference", "external_serial", "amount", "kind",
                      "status", "exception_reason", "created_at"]
    show_columns = ["source", "external_serial", "kind", "channel", "reference", "amount",
                    "paid_at", "posted_on", "batch", "slip", "venue", "status",
                    "exception_reason", "resolved_by", "resolution_note", "created_at"]
    base_order = ("created_at", "desc")


class PaymentExceptionView(PaymentView):
    """Credits waiting for a clerk: no matching slip, or a wrong amount."""

    list_title = _l("Payment exceptions to resolve")
    base_filters = [["status", FilterEqual, "exception"]]

    @action("refund_exception", _l("Refund in full"),
            _l("Refund the selected payments in full to their payers?"), "fa-undo")
    def refund_exception(self, items):
        actor = staff_actor(g.user)
        return self._each(items, lambda p: reconciliation.refund_exception(
            db.session, p, actor, "refunded by a clerk"), _("%(n)s payments will be refunded."))

    @action("close_exception", _l("Mark returned outside the system"),
            _l("Mark the selected payments as returned to the payer outside this system?"),
            "fa-check")
    def close_exception(self, items):
        actor = staff_actor(g.user)
        return self._each(items, lambda p: reconciliation.close_exception(
            db.session, p, actor, "returned outside the system"), _("%(n)s payments closed."))


class MatchPaymentForm(DynamicForm):
    payment_id = IntegerField(_l("Payment number"), validators=[DataRequired()])
    entry_no = StringField(_l("Entry number of the registration"),
                           validators=[DataRequired(), Length(max=20)],
                           widget=BS3TextFieldWidget())


class MatchPaymentView(SimpleFormView):
    """Match an exception (e.g. a transfer to a mistyped account) to a registration."""

    form = MatchPaymentForm
    form_title = _l("Match a payment to a registration")

    def form_post(self, form):
        payment = db.session.get(Payment, form.payment_id.data)
        scope = staff_venue_id()
        if payment is None or (scope is not ALL_VENUES and not may_act_for_venue(payment.venue_id)):
            refuse()
        try:
            outcome = reconciliation.match_exception(db.session, payment, form.entry_no.data,
                                                     staff_actor(g.user))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return None
        flash(_("Payment %(id)s: %(outcome)s.", id=payment.id, outcome=outcome), "success")
        return None


# ---- reconciliation batches --------------------------------------------------------

class BatchScope(BaseFilter):
    """Batches holding a payment of the staff's venue, or uploaded by its staff."""

    name = "Venue scope"
    arg_name = None

    def apply(self, query, value):
        scope = staff_venue_id()
        if scope is ALL_VENUES:
            return query
        venue = scope if scope is not None else -1
        with_payments = select(Payment.batch_id).where(Payment.venue_id == venue,
                                                       Payment.batch_id.is_not(None))
        uploaders = (select(User.username).join(StaffProfile, StaffProfile.user_id == User.id)
                     .where(StaffProfile.venue_id == venue))
        return query.filter(or_(ReconciliationBatch.id.in_(with_payments),
                                ReconciliationBatch.imported_by.in_(uploaders)))


class ReconciliationBatchView(ModelView):
    datamodel = SQLAInterface(ReconciliationBatch)
    base_permissions = ["can_list", "can_show"]
    base_filters = [["id", BatchScope, None]]
    exclude_route_methods = {"download", "action", "action_post"}
    list_title = _l("Reconciliation batches")
    list_columns = ["imported_at", "filename", "source", "status", "lines", "applied",
                    "duplicates", "exceptions", "reversals", "imported_by"]
    search_columns = ["filename", "source", "status", "imported_at", "imported_by"]
    show_columns = list_columns + ["encoding", "sha256", "error"]
    base_order = ("imported_at", "desc")
    label_columns = {**LABELS, "sha256": "SHA-256"}


class UploadForm(DynamicForm):
    file = FileField(_l("Collection file (bank or convenience store, UTF-8 or Big5)"),
                     validators=[FileRequired()])


class ReconciliationUploadView(SimpleFormView):
    """Upload a collection file; a venue's staff may only upload their venue's accounts."""

    form = UploadForm
    form_title = _l("Import a collection file")

    def form_post(self, form):
        upload = form.file.data
        scope = staff_venue_id()
        if scope is None:
            refuse()
        batch = reconciliation.import_file(
            db.session, upload.read(), upload.filename or "upload", staff_actor(g.user),
            venue_id=None if scope is ALL_VENUES else scope)
        if batch.status == "rejected":
            flash(_("The file was rejected; nothing of it was applied."), "danger")
            for line in reconciliation.rejection_lines(batch)[:20]:
                flash(line, "danger")
        else:
            flash(_("%(file)s: %(lines)s records, %(applied)s applied, %(dup)s duplicates, "
                    "%(exc)s exceptions, %(rev)s reversals.", file=batch.filename,
                    lines=batch.lines, applied=batch.applied, dup=batch.duplicates,
                    exc=batch.exceptions, rev=batch.reversals), "success")
        return redirect(url_for("ReconciliationBatchView.list"))


# ---- refunds -----------------------------------------------------------------------

class RefundView(_MoneyView):
    datamodel = SQLAInterface(Refund)
    list_title = _l("Refunds")
    list_columns = ["requested_at", "registration", "kind", "amount", "percent", "state",
                    "bank_code", "batch"]
    search_columns = ["kind", "state", "amount", "requested_at"]
    show_columns = ["registration", "venue", "kind", "amount", "percent", "reason",
                    "bank_code", "branch_code", "account_holder", "state", "requested_at",
                    "decided_at", "decided_by", "decision_note", "batch", "remitted_at",
                    "payment"]
    base_order = ("requested_at", "desc")

    @action("approve", _l("Approve"), _l("Approve the selected refund requests?"), "fa-check")
    def approve(self, items):
        actor = staff_actor(g.user)
        return self._each(items, lambda r: refunds.approve(db.session, r, actor),
                          _("%(n)s refunds approved."))

    @action("reject", _l("Reject"), _l("Reject the selected refund requests? The registrations stay paid."),
            "fa-times")
    def reject(self, items):
        actor = staff_actor(g.user)
        return self._each(items, lambda r: refunds.reject(db.session, r, actor, "rejected by the venue"),
                          _("%(n)s refunds rejected."))

    @action("remit", _l("Export a remittance batch (CSV)"),
            _l("Put the selected approved refunds in a remittance batch and download its CSV?"),
            "fa-bank")
    def remit(self, items):
        items = _items(items)
        self.check_items(items)
        venues = {r.venue_id for r in items}
        if len(venues) != 1:
            flash(_("A remittance batch holds the refunds of one venue."), "danger")
            return redirect(self.get_redirect())
        actor = staff_actor(g.user)
        try:
            batch = refunds.create_remittance_batch(db.session, venues.pop(), items, actor)
            body = refunds.remittance_csv(db.session, batch, actor)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(self.get_redirect())
        return _csv(body, batch)


def _csv(body: str, batch: RemittanceBatch) -> Response:
    return Response("\ufeff" + body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="remittance-{batch.id}.csv"',
        "Cache-Control": "private, no-store"})


class RemittanceBatchView(_MoneyView):
    datamodel = SQLAInterface(RemittanceBatch)
    list_title = _l("Remittance batches")
    list_columns = ["created_at", "venue", "count", "total", "created_by", "remitted_at"]
    search_columns = ["created_at", "remitted_at", "created_by"]
    show_columns = list_columns
    base_order = ("created_at", "desc")

    @action("download_csv", _l("Download the CSV again"), None, "fa-download", multiple=False)
    def download_csv(self, items):
        batch = _items(items)[0]
        self.check_item(batch)
        body = refunds.remittance_csv(db.session, batch, staff_actor(g.user))
        db.session.commit()
        return _csv(body, batch)

    @action("mark_remitted", _l("Mark remitted"),
            _l("Has the bank transferred the selected batches? Their refunds become remitted."),
            "fa-check")
    def mark_remitted(self, items):
        actor = staff_actor(g.user)
        return self._each(items, lambda b: refunds.mark_remitted(db.session, b, actor),
                          _("%(n)s batches marked remitted."))


class CancelCourseForm(DynamicForm):
    course_code = StringField(_l("Course code"), validators=[DataRequired(), Length(max=16)],
                              widget=BS3TextFieldWidget())
    confirm = BooleanField(_l("Yes, cancel this course: every paid registration is refunded in full"),
                           validators=[DataRequired()])


class CancelCourseView(SimpleFormView):
    """The venue cancels a course (停班): full refunds, everyone told."""

    form = CancelCourseForm
    form_title = _l("Cancel a course")

    def form_post(self, form):
        course = db.session.execute(select(Course).where(
            Course.code == form.course_code.data.strip().upper())).scalar_one_or_none()
        if course is None or not may_act_for_venue(course.venue_id):
            flash(_("No course of your venue has that code."), "danger")
            return None
        counts = refunds.cancel_course(db.session, course, staff_actor(g.user))
        db.session.commit()
        flash(_("%(code)s cancelled: %(cancelled)s registrations cancelled, %(refunded)s refunded in full.",
                code=course.code, **counts), "success")
        return None


# ---- revenue ------------------------------------------------------------------------

REVENUE_TEMPLATE = """{% extends appbuilder.base_template %}
{% block content %}
<h1>{{ _("Revenue per course and channel") }}</h1>
<table class="table table-striped">
  <caption>{{ _("Payments applied, and refunds approved or remitted, per course.") }}</caption>
  <thead><tr><th scope="col">{{ _("Course") }}</th><th scope="col">{{ _("Channel") }}</th>
  <th scope="col">{{ _("Payments") }}</th><th scope="col">{{ _("Received") }}</th></tr></thead>
  <tbody>
  {% for row in rows %}
    <tr><td>{{ row.code }} {{ row.title }}</td><td>{{ channel_name(row.channel) or row.channel }}</td>
    <td>{{ row.count }}</td><td>{{ "{:,}".format(row.total) }}</td></tr>
  {% else %}
    <tr><td colspan="4">{{ _("No payments yet.") }}</td></tr>
  {% endfor %}
  </tbody>
</table>
<h2>{{ _("Refunds per course") }}</h2>
<table class="table table-striped">
  <thead><tr><th scope="col">{{ _("Course") }}</th><th scope="col">{{ _("Refunds") }}</th>
  <th scope="col">{{ _("Refunded") }}</th></tr></thead>
  <tbody>
  {% for row in refund_rows %}
    <tr><td>{{ row.code }} {{ row.title }}</td><td>{{ row.count }}</td><td>{{ "{:,}".format(row.total) }}</td></tr>
  {% else %}
    <tr><td colspan="3">{{ _("No refunds.") }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{% endblock %}"""


def revenue(venue_scope) -> tuple[list, list]:
    """Applied payments per (course, channel) and refunds per course, in the scope."""
    paid = (select(Course.code, Course.title, Payment.channel, func.count().label("count"),
                   func.sum(Payment.amount).label("total"))
            .select_from(Payment)
            .join(PaymentSlip, Payment.slip_id == PaymentSlip.id)
            .join(Registration, PaymentSlip.registration_id == Registration.id)
            .join(Course, Registration.course_id == Course.id)
            .where(Payment.status == "applied", Payment.kind == "credit")
            .group_by(Course.code, Course.title, Payment.channel)
            .order_by(Course.code, Payment.channel))
    back = (select(Course.code, Course.title, func.count().label("count"),
                   func.sum(Refund.amount).label("total"))
            .select_from(Refund)
            .join(Registration, Refund.registration_id == Registration.id)
            .join(Course, Registration.course_id == Course.id)
            .where(Refund.state.in_(("approved", "remitted")))
            .group_by(Course.code, Course.title).order_by(Course.code))
    if venue_scope is not ALL_VENUES:
        venue = venue_scope if venue_scope is not None else -1
        paid = paid.where(Course.venue_id == venue)
        back = back.where(Course.venue_id == venue)
    return db.session.execute(paid).all(), db.session.execute(back).all()


class RevenueView(BaseView):
    route_base = "/admin/revenue"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        rows, refund_rows = revenue(staff_venue_id())
        return render_template_string(REVENUE_TEMPLATE, appbuilder=self.appbuilder,
                                      base_template=self.appbuilder.base_template, rows=rows,
                                      refund_rows=refund_rows, channel_name=slips.channel_name)


# ---- wiring --------------------------------------------------------------------------

def register(appbuilder) -> None:
    views = [
        (PaymentSlipView, "Payment slips", _l("Payment slips"), "fa-file-text-o"),
        (PaymentView, "Payments", _l("Payments received"), "fa-money"),
        (PaymentExceptionView, "Payment exceptions", _l("Exceptions to resolve"), "fa-exclamation-triangle"),
        (MatchPaymentView, "Match a payment", _l("Match a payment"), "fa-link"),
        (ReconciliationBatchView, "Reconciliation batches", _l("Reconciliation batches"), "fa-files-o"),
        (ReconciliationUploadView, "Import a collection file", _l("Import a collection file"), "fa-upload"),
        (ReceiptView, "Receipts", _l("Receipts"), "fa-print"),
        (RefundView, "Refunds", _l("Refunds"), "fa-undo"),
        (RemittanceBatchView, "Remittance batches", _l("Remittance batches"), "fa-bank"),
        (RevenueView, "Revenue", _l("Revenue"), "fa-bar-chart"),
        (CancelCourseView, "Cancel a course", _l("Cancel a course"), "fa-ban"),
    ]
    for view, name, label, icon in views:
        appbuilder.add_view(view, name, label=label, category=MONEY,
                            category_label=_l("Payments"), icon=icon)
    read = ("can_list", "can_show")
    form = ("can_this_form_get", "can_this_form_post")
    clerk = {
        "PaymentSlipView": read + ("slip_pdf",), "PaymentView": read,
        "PaymentExceptionView": read + ("refund_exception", "close_exception"),
        "MatchPaymentView": form, "ReconciliationBatchView": read,
        "ReconciliationUploadView": form, "ReceiptView": read + ("print_receipts",),
        "RefundView": read + ("approve", "reject", "remit"),
        "RemittanceBatchView": read + ("download_csv", "mark_remitted"),
        "RevenueView": ("can_index",),
    }
    admin = {**clerk, "CancelCourseView": form}
    for role, grants in (("Venue Clerk", clerk), ("Venue Admin", admin)):
        for view_name, perms in grants.items():
            grant(role, view_name, perms)
        grant(role, MONEY, ("menu_access",))
        for view, name, _label, _icon in views:
            if view.__name__ in grants:
                grant(role, name, ("menu_access",))
