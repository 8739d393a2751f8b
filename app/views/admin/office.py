"""Office outputs, course operations and dashboards of the back office.

* :class:`OfficeView` (``/admin/office``): class rosters (班級名單) as CSV, XLSX and PDF,
  attendance sheets (點名單) and recording attendance per session (出缺席), certificates
  (研習證書) for one learner or a whole class (by the attendance threshold),
  a link to receipt reprints, and cancelling a course.
* :class:`CourseOpsView` (``/admin/course-ops``): copy a term's courses, bulk import from
  XLSX, apply a flow template to many courses.
* :class:`DashboardView` (``/admin/dashboards``): per venue and city-wide figures as
  server-rendered SVG charts, each with its data table.

Every route checks the venue of every row it touches (``may_act_for_venue``; FAB scopes
nothing for a ``BaseView``), and every file handed out is recorded as an ``export``.
"""
from __future__ import annotations

import datetime as dt
from typing import Sequence

from flask import Response, abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func, select

from ...extensions import db
from ...models import Course, FlowTemplate, Registration, Term, Venue
from ...services import attendance, audit_review, certificates, course_ops, dashboards, rosters
from ...services import clock
from ...services.errors import DomainError
from ...services.ids import parse_id
from ...services.registration import state_label
from .roles import grant
from .scoping import ALL_VENUES, may_act_for_venue, refuse, staff_venue_id
from .security import staff_actor

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RECEIPT_ENDPOINTS = ("ReceiptView.list", "ReceiptsView.list", "ReceiptAdminView.list")


# ---- scoping helpers ------------------------------------------------------------------------

def scope_venue_id():
    """The staff member's venue id, ``None`` for city-wide roles, -1 for neither."""
    scope = staff_venue_id()
    if scope is ALL_VENUES:
        return None
    return scope if scope is not None else -1


def scoped(stmt, column):
    venue = scope_venue_id()
    return stmt if venue is None else stmt.where(column == venue)


def owned(model, pk):
    """The row if it exists and belongs to the staff member's venue; 404/403 otherwise."""
    row = db.session.get(model, pk)
    if row is None:
        abort(404)
    venue_id = row.id if model is Venue else row.venue_id
    if not may_act_for_venue(venue_id):
        refuse()
    return row


def int_arg(name: str, source=None):
    """A row id from the query string (or ``source``): None when absent, 400 when it is
    not one (not ASCII digits, or beyond any row id)."""
    raw = ((source or request.args).get(name) or "").strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        abort(400)
    return value


def download(body: bytes | str, filename: str, mimetype: str, what: str, rows: int,
             target: str = "", **context) -> Response:
    """Hand out a file and record the export (the page view is not recorded twice)."""
    audit_review.record_export(db.session, staff_actor(g.user), what, filename.rsplit(".", 1)[-1],
                               rows, target=target, file=filename, **context)
    db.session.commit()
    g.page_view_recorded = g.export_recorded = True
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "ignore").decode() or "download"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "no-store"})


# ---- SVG charts (server-rendered, no script) ------------------------------------------------

def _fmt(value) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) and float(value).is_integer() \
        else f"{value:,.1f}"


def bar_chart(bars: Sequence[dashboards.Bar], title: str, *, chart_id: str,
              horizontal: bool = False, unit: str = "", max_value: float | None = None,
              width: int = 640) -> Markup:
    """A bar chart as inline SVG with a title and description for screen readers.

    Vertical bars suit time series (labels thinned to fit), horizontal ones categories."""
    bars = list(bars)
    top = max([max_value or 0] + [float(b.value) for b in bars]) or 1
    total = sum(float(b.value) for b in bars)
    desc = _("%(n)s values, total %(total)s%(unit)s, highest %(top)s%(unit)s.", n=len(bars),
             total=_fmt(total), top=_fmt(max((float(b.value) for b in bars), default=0)),
             unit=unit)
    parts = []
    if horizontal:
        row, label_w = 24, 150
        height = max(row * len(bars) + 10, 40)
        plot = width - label_w - 70
        for i, b in enumerate(bars):
            y = 5 + i * row
            w = plot * float(b.value) / top
            parts.append(
                f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                f'{escape(b.label[:24])}</text>'
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="#2f6f9f">'
                f'<title>{escape(b.label)}: {_fmt(b.value)}{escape(unit)}</title></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">'
                f'{_fmt(b.value)}{escape(unit)}</text>')
    else:
        height, base, left = 220, 190, 40
        plot_w = width - left - 10
        step = plot_w / max(len(bars), 1)
        every = max(1, int(len(bars) / 10 + 0.999))
        parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#555"/>'
                     f'<text x="{left - 4}" y="{base - 160 + 4}" text-anchor="end" font-size="11">'
                     f'{_fmt(top)}</text>'
                     f'<text x="{left - 4}" y="{base}" text-anchor="end" font-size="11">0</text>')
        for i, b in enumerate(bars):
            h = 160 * float(b.value) / top
            x = left + i * step
            parts.append(
                f'<rect x="{x + step * 0.1:.1f}" y="{base - h:.1f}" width="{step * 0.8:.1f}" '
                f'height="{h:.1f}" fill="#2f6f9f"><title>{escape(b.label)}: {_fmt(b.value)}'
                f'{escape(unit)}</title></rect>')
            if i % every == 0:
                parts.append(f'<text x="{x + step / 2:.1f}" y="{base + 14}" text-anchor="middle" '
                             f'font-size="10">{escape(b.label[-5:])}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" '
           f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-t {chart_id}-d" '
           f'class="chart"><title id="{chart_id}-t">{escape(title)}</title>'
           f'<desc id="{chart_id}-d">{escape(desc)}</desc>{"".join(parts)}</svg>')
    return Markup(svg)


# ---- office outputs -------------------------------------------------------------------------

class OfficeView(BaseView):
    """Rosters, attendance sheets, certificates and course cancellation, per venue."""

    route_base = "/admin/office"
    default_view = "index"
    method_permission_name = {
        "index": "read", "course": "read", "roster": "roster", "attendance": "roster",
        "class_certificates": "certificates", "certificate": "certificates",
        "cancel": "cancel", "record_attendance": "attendance",
    }

    def _full_data(self, course: Course) -> bool:
        """Names and phones in clear only for staff of the course's own venue."""
        scope = staff_venue_id()
        return scope is not ALL_VENUES and scope == course.venue_id

    @expose("/")
    @has_access
    def index(self):
        term_id = int_arg("term")
        terms = db.session.execute(scoped(select(Term), Term.venue_id)
                                   .order_by(Term.starts_on.desc())).scalars().all()
        stmt = scoped(select(Course), Course.venue_id).order_by(Course.code)
        if term_id:
            term = owned(Term, term_id)
            stmt = stmt.where(Course.term_id == term.id)
        elif terms:
            term_id = terms[0].id
            stmt = stmt.where(Course.term_id == term_id)
        courses = db.session.execute(stmt.limit(500)).scalars().all()
        counts = dict(db.session.execute(
            select(Registration.course_id, func.count()).where(
                Registration.course_id.in_([c.id for c in courses] or [-1]),
                Registration.state.in_(rosters.ROSTER_STATES)).group_by(Registration.course_id)).all())
        return self.render_template("admin/office/index.html", terms=terms, term_id=term_id,
                                    courses=courses, counts=counts)

    @expose("/courses/<int:course_id>")
    @has_access
    def course(self, course_id):
        course = owned(Course, course_id)
        lines = rosters.roster(db.session, course, self._full_data(course))
        eligible = {r.id for r in certificates.eligible(db.session, course)}
        grid = attendance.sheet(db.session, course)
        receipt_link = next((url_for(e) for e in RECEIPT_ENDPOINTS
                             if e in self.appbuilder.app.view_functions), None)
        sm = self.appbuilder.sm
        return self.render_template(
            "admin/office/course.html", course=course, lines=lines, regs=grid.registrations,
            eligible=eligible, grid=grid, dates=grid.dates, receipt_link=receipt_link,
            may_cancel=sm.has_access("can_cancel", self.class_permission_name),
            may_record=sm.has_access("can_attendance", self.class_permission_name),
            today=clock.taipei_today(), threshold=course.venue.certificate_attendance_percent,
            state_label=state_label)

    @expose("/courses/<int:course_id>/attendance/<day>", methods=["GET", "POST"])
    @has_access
    def record_attendance(self, course_id, day):
        """Record one class session: a checkbox per learner holding a seat."""
        course = owned(Course, course_id)
        try:
            day = dt.date.fromisoformat(day)
        except ValueError:
            abort(404)
        grid = attendance.sheet(db.session, course)
        if day not in grid.dates:
            abort(404)
        status, checked = 200, None
        if request.method == "POST":
            checked = {parse_id(v) for v in request.form.getlist("present")}
            if None in checked:
                abort(400)
            try:
                counts = attendance.record(db.session, course, day, checked, staff_actor(g.user))
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc), "danger")
                status = exc.status
            else:
                flash(_("Attendance of %(day)s saved: %(p)s present, %(a)s absent.",
                        day=day.isoformat(), p=counts["present"], a=counts["absent"]), "success")
                return redirect(url_for("OfficeView.course", course_id=course.id) + "#attendance")
        names = {reg.id: line.learner for reg, line in
                 zip(grid.registrations, rosters.roster(db.session, course, self._full_data(course)))}
        return self.render_template(
            "admin/office/attendance.html", course=course, day=day, grid=grid, checked=checked,
            names=names, future=day > clock.taipei_today()), status

    @expose("/courses/<int:course_id>/roster.<fmt>")
    @has_access
    def roster(self, course_id, fmt):
        course = owned(Course, course_id)
        if fmt not in ("csv", "xlsx", "pdf"):
            abort(404)
        full = self._full_data(course)
        lines = rosters.roster(db.session, course, full)
        name = f"{course.code}-班級名單.{fmt}"
        body, mime = {
            "csv": (lambda: (rosters.to_csv(lines), "text/csv; charset=utf-8")),
            "xlsx": (lambda: (rosters.to_xlsx(course, lines), XLSX)),
            "pdf": (lambda: (rosters.to_pdf(course, lines), "application/pdf")),
        }[fmt]()
        return download(body, name, mime, "roster", len(lines), target=f"course:{course.id}",
                        course=course.code, personal_data="full" if full else "masked")

    @expose("/courses/<int:course_id>/attendance.pdf")
    @has_access
    def attendance(self, course_id):
        course = owned(Course, course_id)
        day = None
        if request.args.get("date"):
            try:
                day = dt.date.fromisoformat(request.args["date"])
            except ValueError:
                abort(400)
            if day not in rosters.session_dates(course):
                abort(404)
        lines = rosters.roster(db.session, course, self._full_data(course))
        body = rosters.attendance_pdf(course, lines, day)
        suffix = f"-{day.isoformat()}" if day else ""
        return download(body, f"{course.code}-點名單{suffix}.pdf", "application/pdf",
                        "attendance", len(lines), target=f"course:{course.id}", course=course.code)

    @expose("/courses/<int:course_id>/certificates.pdf")
    @has_access
    def class_certificates(self, course_id):
        course = owned(Course, course_id)
        try:
            body, count = certificates.for_course(db.session, course, staff_actor(g.user))
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(url_for("OfficeView.course", course_id=course.id))
        return download(body, f"{course.code}-研習證書.pdf", "application/pdf", "certificates",
                        count, target=f"course:{course.id}", course=course.code)

    @expose("/registrations/<int:reg_id>/certificate.pdf")
    @has_access
    def certificate(self, reg_id):
        reg = owned(Registration, reg_id)
        try:
            body = certificates.for_registration(db.session, reg, staff_actor(g.user))
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return redirect(url_for("OfficeView.course", course_id=reg.course_id))
        return download(body, f"{reg.course.code}-{reg.entry_no}-研習證書.pdf", "application/pdf",
                        "certificate", 1, target=f"registration:{reg.id}", course=reg.course.code)

    @expose("/courses/<int:course_id>/cancel", methods=["GET", "POST"])
    @has_access
    def cancel(self, course_id):
        course = owned(Course, course_id)
        if request.method == "GET":
            active = db.session.execute(select(func.count()).select_from(Registration).where(
                Registration.course_id == course.id,
                Registration.state.in_(("applied", "admitted", "waitlisted", "paid",
                                        "refund_requested")))).scalar_one()
            return self.render_template("admin/office/cancel.html", course=course, active=active)
        if request.form.get("confirm_code", "").strip() != course.code:
            flash(_("Type the course code to confirm the cancellation."), "danger")
            return redirect(url_for("OfficeView.cancel", course_id=course.id))
        try:
            counts = course_ops.cancel_course(db.session, course, staff_actor(g.user))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("OfficeView.course", course_id=course.id))
        flash(_("%(code)s is cancelled: %(n)s registrations cancelled, %(r)s refunds started.",
                code=course.code, n=counts.get("cancelled", 0), r=counts.get("refunded", 0)),
              "success")
        return redirect(url_for("OfficeView.course", course_id=course.id))


# ---- course operations ----------------------------------------------------------------------

class CourseOpsView(BaseView):
    """Copy a term, import courses from XLSX, apply a flow template (venue administrators)."""

    route_base = "/admin/course-ops"
    default_view = "index"
    method_permission_name = {"index": "read", "copy": "copy", "import_courses": "import",
                              "import_template": "import", "apply": "apply"}

    def _page(self, errors=None, status=200, **values):
        terms = db.session.execute(scoped(select(Term), Term.venue_id)
                                   .order_by(Term.starts_on.desc())).scalars().all()
        templates = db.session.execute(scoped(select(FlowTemplate), FlowTemplate.venue_id)
                                       .order_by(FlowTemplate.name)).scalars().all()
        term_id = int_arg("term")
        stmt = scoped(select(Course), Course.venue_id).where(Course.cancelled_at.is_(None))
        if term_id:
            stmt = stmt.where(Course.term_id == owned(Term, term_id).id)
        courses = db.session.execute(stmt.order_by(Course.code).limit(1000)).scalars().all()
        body = self.render_template("admin/office/course_ops.html", terms=terms,
                                    templates=templates, courses=courses, term_id=term_id,
                                    errors=errors or [], form=request.form, **values)
        return body, status

    @expose("/")
    @has_access
    def index(self):
        return self._page()

    @expose("/copy", methods=["POST"])
    @has_access
    def copy(self):
        source = owned(Term, int_arg("source", request.form) or 0)
        target = owned(Term, int_arg("target", request.form) or 0)
        try:
            created = course_ops.copy_term(
                db.session, source, target, staff_actor(g.user),
                code_from=request.form.get("code_from") or None,
                code_to=request.form.get("code_to") if request.form.get("code_from") else None)
            db.session.commit()
        except course_ops.BatchRejected as exc:
            db.session.rollback()
            return self._page(exc.errors, 400, failed="copy", message=str(exc))
        flash(_("%(n)s courses copied to %(term)s.", n=len(created), term=target.name), "success")
        return redirect(url_for("CourseOpsView.index", term=target.id))

    @expose("/import", methods=["POST"])
    @has_access
    def import_courses(self):
        term = owned(Term, int_arg("term", request.form) or 0)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Choose the workbook to import."), "danger")
            return redirect(url_for("CourseOpsView.index"))
        raw = upload.read()
        try:
            created = course_ops.import_courses(db.session, raw, term, staff_actor(g.user),
                                                filename=upload.filename)
            db.session.commit()
        except course_ops.BatchRejected as exc:
            db.session.rollback()
            return self._page(exc.errors, 400, failed="import", message=str(exc))
        flash(_("%(n)s courses imported into %(term)s.", n=len(created), term=term.name), "success")
        return redirect(url_for("CourseOpsView.index", term=term.id))

    @expose("/import/template.xlsx")
    @has_access
    def import_template(self):
        g.page_view_recorded = True
        return Response(course_ops.template_xlsx(), mimetype=XLSX, headers={
            "Content-Disposition": "attachment; filename=\"course-import-template.xlsx\""})

    @expose("/apply", methods=["POST"])
    @has_access
    def apply(self):
        template = owned(FlowTemplate, int_arg("template", request.form) or 0)
        ids = [parse_id(i) for i in request.form.getlist("course")]
        if None in ids:
            abort(400)
        courses = [owned(Course, i) for i in ids]
        try:
            n = course_ops.apply_template(db.session, template, courses, staff_actor(g.user),
                                          replace=bool(request.form.get("replace")))
            db.session.commit()
        except course_ops.BatchRejected as exc:
            db.session.rollback()
            return self._page(exc.errors, 400, failed="apply", message=str(exc))
        flash(_("The flow %(name)s was applied to %(n)s courses.", name=template.name, n=n),
              "success")
        return redirect(url_for("CourseOpsView.index"))


# ---- dashboards -----------------------------------------------------------------------------

class DashboardView(BaseView):
    """Figures for the staff member's venue; city-wide roles see every venue too."""

    route_base = "/admin/dashboards"
    default_view = "index"
    method_permission_name = {"index": "read"}

    @expose("/")
    @has_access
    def index(self):
        scope = scope_venue_id()
        venue_id = int_arg("venue")
        if scope is not None:
            venue_id = scope  # venue staff always see their own venue
        elif venue_id is not None:
            owned(Venue, venue_id)
        term_id = int_arg("term")
        if term_id is not None:
            term = owned(Term, term_id)
            if venue_id is not None and term.venue_id != venue_id:
                abort(404)
        days = int_arg("days") or 30
        days = min(max(days, 7), 366)
        per_day = dashboards.registrations_per_day(db.session, venue_id, term_id, days)
        lines = dashboards.courses(db.session, venue_id, term_id)
        fill = [dashboards.Bar(c.code, c.fill_percent) for c in lines]
        waits = [dashboards.Bar(c.code, c.waitlisted) for c in lines if c.waitlisted]
        channels = dashboards.payment_channels(db.session, venue_id, term_id)
        revenue = dashboards.revenue_per_month(db.session, venue_id)
        refunds = dashboards.refunds_by_state(db.session, venue_id)
        failures = dashboards.notification_failures(db.session, venue_id)
        charts = {
            "per_day": bar_chart(per_day, _("Registrations per day"), chart_id="c-days"),
            "fill": bar_chart(fill[:40], _("Fill rate per course, in per cent"), chart_id="c-fill",
                              horizontal=True, unit="%", max_value=100),
            "waits": bar_chart(waits[:40], _("Waitlist sizes"), chart_id="c-wait", horizontal=True),
            "channels": bar_chart(channels, _("Payments per channel"), chart_id="c-chan",
                                  horizontal=True),
            "revenue": bar_chart(revenue, _("Received per month (NT$)"), chart_id="c-rev"),
            "refunds": bar_chart(refunds, _("Refunds by state"), chart_id="c-ref", horizontal=True),
            "failures": bar_chart(failures, _("Failed notifications per channel (30 days)"),
                                  chart_id="c-fail", horizontal=True),
        }
        venues = db.session.execute(scoped(select(Venue), Venue.id).order_by(Venue.id)).scalars().all()
        return self.render_template(
            "admin/office/dashboards.html", charts=charts, per_day=per_day, lines=lines,
            channels=channels, revenue=revenue, refunds=refunds, failures=failures,
            money=dashboards.money(db.session, venue_id), venue_id=venue_id, term_id=term_id,
            venues=venues, terms=dashboards.terms(db.session, venue_id), city_wide=scope is None,
            per_venue=dashboards.per_venue(db.session) if scope is None and venue_id is None else [],
            recent_failures=dashboards.recent_failures(db.session, venue_id), days=days,
            channel_name=_channel_name)


def _channel_name(code: str) -> str:
    from ...services.slips import channel_name

    return channel_name(code) or code


def register(appbuilder) -> None:
    office, ops, dash = "Office", "Course operations", "Dashboards"
    appbuilder.add_view(OfficeView, "Rosters and certificates", label=_l("Rosters and certificates"),
                        category=office, category_label=_l("Office"), icon="fa-print")
    appbuilder.add_view(CourseOpsView, "Course operations", label=_l("Course operations"),
                        category=office, icon="fa-copy")
    appbuilder.add_view(DashboardView, "Dashboards", label=_l("Dashboards"), category=office,
                        icon="fa-bar-chart")
    read_office = ("can_read", "can_roster", "can_certificates", "can_attendance")
    grant("Venue Admin", "OfficeView", read_office + ("can_cancel",))
    grant("Venue Clerk", "OfficeView", read_office)
    grant("Venue Admin", "CourseOpsView", ("can_read", "can_copy", "can_import", "can_apply"))
    for role in ("Venue Admin", "Venue Clerk", "Supervisor"):
        grant(role, "DashboardView", ("can_read",))
        grant(role, "Dashboards", ("menu_access",))
        grant(role, office, ("menu_access",))
    for role in ("Venue Admin", "Venue Clerk"):
        grant(role, "Rosters and certificates", ("menu_access",))
    grant("Venue Admin", "Course operations", ("menu_access",))
