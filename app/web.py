"""Cross-cutting web behaviour: error pages, security headers, the page-view trail."""
from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from config import is_production

from .extensions import db
from .services.errors import DomainError
from .services.ids import MAX_ID

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)
# FAB's own pages carry inline scripts; they are staff-only and get a looser policy.
ADMIN_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every route is a row id: ASCII digits up to PostgreSQL's integer.
    A larger number (or "٣") is an unknown page, 404, not a database error."""

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error(status: int, message: str, code: str = "error", headers: dict | None = None):
    if wants_json():
        resp = jsonify({"error": code, "message": message})
    else:
        resp = render_template("public/error.html", status=status, message=message), status
        from flask import make_response

        resp = make_response(resp)
    resp.status_code = status
    # Error pages are the public template wherever the error happened (an unknown URL, a
    # back-office view): they get the public policy, not the back office's looser one.
    resp.headers["Content-Security-Policy"] = CSP
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def is_public_endpoint() -> bool:
    return bool(request.blueprints) and request.blueprints[0] in ("public", "account", "registration", "pages", "payments", "survey")


_WTFORMS_ZH_TW = None


def wtforms_traditional_chinese() -> None:
    """WTForms' own messages in Traditional Chinese for Taiwan: Flask-WTF would resolve
    zh_Hant_TW to WTForms' Simplified ``zh`` catalog, so hand it the ``zh_TW`` one."""
    global _WTFORMS_ZH_TW
    from . import select_locale

    if select_locale() != "zh_Hant_TW":
        return
    if _WTFORMS_ZH_TW is None:
        from babel import support
        from wtforms.i18n import messages_path

        _WTFORMS_ZH_TW = support.Translations.load(messages_path(), ["zh_TW"], domain="wtforms")
    request.wtforms_translations = _WTFORMS_ZH_TW


def init_web(app: Flask) -> None:
    app.before_request(wtforms_traditional_chinese)
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return _error(exc.status, str(exc), exc.code)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {
            400: _("The request could not be understood."),
            403: _("You do not have permission to do that."),
            404: _("The page you asked for does not exist."),
            405: _("That method is not allowed here."),
            413: _("The file is too large."),
            429: _("Too many attempts. Please wait a moment and try again."),
        }
        if exc.code == 400 and "CSRF" in (exc.description or ""):
            msg = _("Your form expired or was not sent from this site. Please reload the page and try again.")
        else:
            msg = messages.get(exc.code, exc.description or exc.name)
        resp = _error(exc.code or 500, msg, exc.name.lower().replace(" ", "_"))
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(exc):
        try:
            db.session.rollback()
        except Exception:  # the connection may be gone; the pool pre-pings next time
            pass
        if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
            return _error(503, _("The service is briefly unavailable. Please try again shortly."),
                          "unavailable", {"Retry-After": "5"})
        app.logger.exception("database error")
        return _error(500, _("Something went wrong on our side. Nothing was changed; please try again."),
                      "server_error")

    @app.teardown_appcontext
    def end_database_session(exc):
        """End the request's session before Flask-SQLAlchemy's own teardown does.  If the
        database dropped the connection since the answer was made (a restart), ending the
        session's transaction fails; raised from a teardown, that would replace the answer
        with a bare 500.  The transaction died with the connection; the pool replaces it."""
        try:
            db.session.remove()
        except DBAPIError as err:
            app.logger.warning("database connection lost while ending a request: %s", err)
            db.session.registry.clear()

    @app.errorhandler(500)
    def server_error(exc):
        return _error(500, _("Something went wrong on our side. Nothing was changed; please try again."),
                      "server_error")

    @app.after_request
    def security_headers(resp):
        is_admin = not request.path.startswith(("/api/v1/public", "/static")) and not is_public_endpoint()
        resp.headers.setdefault("Content-Security-Policy", ADMIN_CSP if is_admin else CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if is_production(app.config):
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return resp

    @app.after_request
    def audit_page_view(resp):
        """Record every back-office page or module a staff member viewed (資安軌跡)."""
        user = getattr(g, "user", None)
        if (user is None or not getattr(user, "is_authenticated", False) or request.method != "GET"
                or is_public_endpoint() or request.path.startswith(("/static", "/appbuilder"))
                or resp.status_code >= 400 or getattr(g, "page_view_recorded", False)):
            return resp
        from .services import audit
        from .views.admin.security import staff_actor

        try:
            audit.record(db.session, "page_view", staff_actor(user), target=request.path[:128],
                         detail={"endpoint": request.endpoint, "query": request.query_string.decode()[:200]})
            db.session.commit()
        except Exception:  # never break the page for the trail; log loudly instead
            db.session.rollback()
            app.logger.exception("could not record page view")
        return resp

    @app.context_processor
    def inject_globals():
        from . import select_locale

        return {"current_locale": select_locale(), "url_endpoints": app.view_functions,
                "current_citizen": getattr(g, "citizen", None)}
