"""The security trail in the back office (資安軌跡記錄): recording and the supervisor's review.

Recording
    * row changes with field-level diffs (``audit_review.install_change_trail``) with the
      actor taken from the request: a logged-in staff member's changes are all recorded;
      account, role, group, permission and staff-venue changes are recorded in every
      context (CLI, jobs) — see :func:`request_scope`;
    * FAB's file downloads (``<view>.download``) as ``export`` entries.

Review (read-only, role Supervisor)
    the trail with filters (person, venue, event, IP, dates), a person's activity, every
    back-office account with its current roles and permissions and their history,
    failed-login hot spots, chain verification, and a CSV of the filtered view (itself
    recorded).  Reading needs the permission through a role other than the bureau
    administrator's blanket role: administrators and clerks do not read the trail unless
    a role that grants it (e.g. Supervisor) is given to them.
"""
from __future__ import annotations

import datetime as dt
import json
from functools import wraps
from urllib.parse import urlencode

from flask import Response, abort, g, has_request_context, request, session
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...services.ids import parse_id
from ...models import Venue
from ...services import audit_review, clock
from ...services.audit_review import Scope, TrailFilter
from .roles import grant, withhold_from_admin
from .security import staff_actor

READ_PERMISSION = "read"
EXPORT_PERMISSION = "export"
TRAIL_VIEW = "AuditTrailView"


# ---- who is acting, for the change trail ------------------------------------------------

def _is_staff(user) -> bool:
    """A logged-in back-office account (checked on the class: no lazy load)."""
    return (user is not None and getattr(user, "is_authenticated", False)
            and hasattr(type(user), "roles") and hasattr(type(user), "username"))


def current_staff():
    """The logged-in staff member (loading them if needed: not for use inside a flush)."""
    user = getattr(g, "user", None)
    real = getattr(user, "_get_current_object", None)
    user = real() if real is not None else user
    return user if _is_staff(user) else None


def request_scope() -> Scope:
    """The scope of the current request (or of a CLI command / job outside one).

    Runs inside every flush, so it must not query: the staff member is the one Flask-Login
    already loaded for this request (``g._login_user``; FAB's permission check loads it
    before any view code runs), the citizen is the id in the session cookie, and the
    staff actor (roles, venue) is worked out only when something is recorded."""
    if not has_request_context():
        return Scope(audit_review.SYSTEM, False, "system")
    from ...web import is_public_endpoint
    from ..public.auth import SESSION_KEY

    via = request.endpoint or request.path
    user = g.get("_login_user")
    if _is_staff(user) and not is_public_endpoint():
        return Scope(None, True, via, actor_fn=lambda: staff_actor(user))
    ip = request.remote_addr or ""
    agent = request.headers.get("User-Agent", "")[:256]
    citizen_id = session.get(SESSION_KEY)
    if citizen_id is not None:
        return Scope(audit_review.Actor(type="citizen", name=f"citizen:{citizen_id}", ip=ip,
                                        user_agent=agent), False, via)
    return Scope(audit_review.Actor(type="anonymous", name="", ip=ip, user_agent=agent), False, via)


# ---- downloads: FAB's own routes, and any attachment a view did not record ---------------

def _install_download_trail(app) -> None:
    if app.extensions.get("audit_download_trail"):
        return
    app.extensions["audit_download_trail"] = True

    @app.before_request
    def _mark_download():
        if (request.endpoint or "").endswith(".download") and current_staff() is not None:
            g.audit_download = True
            g.page_view_recorded = True  # the export entry replaces the page view

    @app.after_request
    def _record_download(resp):
        """Every file the back office hands out is an ``export`` entry: FAB's downloads and
        any response sent as an attachment that its view did not record itself."""
        if resp.status_code >= 400 or getattr(g, "export_recorded", False):
            return resp
        disposition = resp.headers.get("Content-Disposition") or ""
        if not getattr(g, "audit_download", False) and "attachment" not in disposition:
            return resp
        from ...web import is_public_endpoint

        staff = current_staff()
        if staff is None or is_public_endpoint():
            return resp
        filename = ""
        if "filename=" in disposition:
            filename = disposition.split("filename=", 1)[1].split(";", 1)[0].strip().strip('"')
        try:
            audit_review.record_export(
                db.session, staff_actor(staff), request.endpoint or request.path,
                (filename.rsplit(".", 1)[-1] if "." in filename else "file")[:10], None,
                target=request.path[:128], file=filename[:120], method=request.method)
            db.session.commit()
            g.export_recorded = True
        except Exception:  # never break the download for the trail; log loudly
            db.session.rollback()
            app.logger.exception("could not record a download")
        return resp


# ---- access: the permission must come from a role other than the admin's blanket one ----

def granted_beyond_admin(sm, user, permission: str, view: str) -> bool:
    roles = list(getattr(user, "roles", None) or [])
    for group in getattr(user, "groups", None) or []:
        roles += list(group.roles)
    for role in roles:
        if role.name == sm.auth_role_admin:
            continue
        for pv in role.permissions:
            if pv.permission.name == permission and pv.view_menu.name == view:
                return True
    return False


def trail_reader(f):
    """After ``has_access``: refuse readers who hold the permission only through the
    bureau administrator's role (which FAB's setup gives every permission)."""
    @wraps(f)
    def wrapper(self, *args, **kwargs):
        name = (self.method_permission_name or {}).get(f.__name__, f.__name__)
        if not granted_beyond_admin(self.appbuilder.sm, g.user, f"can_{name}",
                                    self.class_permission_name):
            abort(403)
        return f(self, *args, **kwargs)
    return wrapper


# ---- helpers ------------------------------------------------------------------------------

def taipei(value) -> str:
    return clock.to_taipei(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _date_arg(name: str):
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400)


def filter_from_args() -> TrailFilter:
    venue = (request.args.get("venue") or "").strip()
    if venue and parse_id(venue) is None:
        abort(400)
    events = tuple(e for e in request.args.getlist("event") if e)
    return TrailFilter(person=(request.args.get("person") or "").strip()[:128],
                       venue_id=int(venue) if venue else None, events=events,
                       ip=(request.args.get("ip") or "").strip()[:64],
                       date_from=_date_arg("from"), date_to=_date_arg("to"),
                       target=(request.args.get("target") or "").strip()[:128])


def filter_query(f: TrailFilter) -> str:
    pairs = [("person", f.person), ("venue", f.venue_id or ""), ("ip", f.ip),
             ("from", f.date_from.isoformat() if f.date_from else ""),
             ("to", f.date_to.isoformat() if f.date_to else ""), ("target", f.target)]
    pairs += [("event", e) for e in f.events]
    return urlencode([(k, v) for k, v in pairs if v not in ("", None)])


def pretty(detail: str) -> str:
    """``key: value`` lines of an entry's JSON detail (values as compact JSON)."""
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return detail
    if not isinstance(data, dict):
        return detail
    return "\n".join(f"{key}: {json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"
                     for key, value in sorted(data.items()))


class AuditTrailView(BaseView):
    """The supervisor's read-only review of the security trail."""

    route_base = "/admin/audit"
    default_view = "index"
    method_permission_name = {"index": READ_PERMISSION, "accounts": READ_PERMISSION,
                              "account": READ_PERMISSION, "hotspots": READ_PERMISSION,
                              "verify": READ_PERMISSION, "export": EXPORT_PERMISSION}
    PER_PAGE = 50

    def _venues(self):
        return db.session.execute(select(Venue).order_by(Venue.id)).scalars().all()

    @expose("/")
    @has_access
    @trail_reader
    def index(self):
        f = filter_from_args()
        page = parse_id(request.args.get("page")) or 1
        rows, total = audit_review.trail_page(db.session, f, page, self.PER_PAGE)
        pages = max((total + self.PER_PAGE - 1) // self.PER_PAGE, 1)
        return self.render_template(
            "admin/audit/index.html", rows=rows, total=total, page=page, pages=pages, f=f,
            query=filter_query(f), venues=self._venues(),
            events=audit_review.event_names(db.session), taipei=taipei, pretty=pretty)

    @expose("/export.csv")
    @has_access
    @trail_reader
    def export(self):
        f = filter_from_args()
        rows = audit_review.trail_rows(db.session, f)
        body = audit_review.trail_csv(rows)
        audit_review.record_export(db.session, staff_actor(g.user), "audit_trail", "csv",
                                   len(rows), filters=f.as_dict())
        db.session.commit()
        g.page_view_recorded = g.export_recorded = True
        stamp = clock.taipei_today().isoformat()
        return Response(body, mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="audit-trail-{stamp}.csv"',
            "Cache-Control": "no-store"})

    @expose("/accounts")
    @has_access
    @trail_reader
    def accounts(self):
        return self.render_template(
            "admin/audit/accounts.html", accounts=audit_review.accounts_overview(db.session),
            role_history=audit_review.role_history(db.session, limit=200), taipei=taipei,
            detail_of=audit_review.detail_of)

    @expose("/accounts/<int:user_id>")
    @has_access
    @trail_reader
    def account(self, user_id):
        summary = next((a for a in audit_review.accounts_overview(db.session) if a.id == user_id),
                       None)
        if summary is None:
            abort(404)
        history = audit_review.account_history(db.session, user_id, summary.username)
        return self.render_template("admin/audit/account.html", account=summary, history=history,
                                    taipei=taipei, pretty=pretty)

    @expose("/hotspots")
    @has_access
    @trail_reader
    def hotspots(self):
        days = parse_id(request.args.get("days")) or 30
        days = days if days <= 3660 else 30
        since = clock.now() - dt.timedelta(days=days)
        spots = audit_review.failed_login_hotspots(db.session, since)
        return self.render_template("admin/audit/hotspots.html", spots=spots, days=days,
                                    taipei=taipei)

    @expose("/verify")
    @has_access
    @trail_reader
    def verify(self):
        report = audit_review.verify_report(db.session)
        return self.render_template("admin/audit/verify.html", report=report)


def register(appbuilder) -> None:
    """Add the review views, grant them to supervisors and start recording changes."""
    audit_review.install_change_trail(request_scope)
    _install_download_trail(appbuilder.app)
    appbuilder.add_view(AuditTrailView, "Security trail", label=_l("Security trail"),
                        category="Audit", category_label=_l("Audit"), icon="fa-shield")
    appbuilder.add_link("Accounts and permissions", label=_l("Accounts and permissions"),
                        href="/admin/audit/accounts", category="Audit", icon="fa-key")
    appbuilder.add_link("Failed log-ins", label=_l("Failed log-ins"),
                        href="/admin/audit/hotspots", category="Audit", icon="fa-exclamation")
    appbuilder.add_link("Verify the trail", label=_l("Verify the trail"),
                        href="/admin/audit/verify", category="Audit", icon="fa-check")
    grant("Supervisor", TRAIL_VIEW, (f"can_{READ_PERMISSION}", f"can_{EXPORT_PERMISSION}"))
    grant("Supervisor", "Security trail", ("menu_access",))
    grant("Supervisor", "Accounts and permissions", ("menu_access",))
    grant("Supervisor", "Failed log-ins", ("menu_access",))
    grant("Supervisor", "Verify the trail", ("menu_access",))
    grant("Supervisor", "Audit", ("menu_access",))
    withhold_from_admin(TRAIL_VIEW, "Security trail", "Accounts and permissions",
                        "Failed log-ins", "Verify the trail", "Audit")

