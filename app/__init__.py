"""Application factory: extensions, Flask-AppBuilder back office, Babel, blueprints, CLI."""
from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask, request, session
from flask_appbuilder import AppBuilder

from config import DEFAULT_SECRET_KEY, INSTANCE_DIR, Config, is_production

from .extensions import csrf, db, mail, migrate

SUPPORTED_LOCALES = ("zh_Hant_TW", "en")


def select_locale() -> str:
    """The visitor's language: ``?lang=``, then the session, then Traditional Chinese.

    ``zh_TW``/``zh-TW`` are normalised to ``zh_Hant_TW`` (Flask-Babel would otherwise
    fall back to Simplified Chinese)."""
    from flask import has_request_context

    if not has_request_context():
        return Config.BABEL_DEFAULT_LOCALE
    wanted = request.args.get("lang") or request.args.get("_l_") or session.get("locale")
    if wanted:
        wanted = wanted.replace("-", "_")
        if wanted in ("zh_TW", "zh", "zh_Hant"):
            wanted = "zh_Hant_TW"
        if wanted in SUPPORTED_LOCALES:
            return wanted
    return Config.BABEL_DEFAULT_LOCALE


def _fresh_request_globals() -> None:
    from flask import g

    for name in ("_login_user", "user", "citizen", "page_view_recorded"):
        g.pop(name, None)


def _tune_sqlite(app: Flask) -> None:
    """The embedded demo database: WAL and a busy timeout so concurrent requests wait
    for the write lock instead of failing."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_conn, _record):  # pragma: no cover - SQLite only
        if dbapi_conn.__class__.__module__.startswith("sqlite3"):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.fspath(INSTANCE_DIR))
    from .web import RowIdConverter

    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.config.from_object(Config)
    if overrides:
        app.config.update(overrides)
    if is_production(app.config) and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise RuntimeError("SECRET_KEY must be set in production (APP_ENV=production).")
    if is_production(app.config):
        app.config.setdefault("SESSION_COOKIE_SECURE", True)
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
        if not app.config.get("AUDIT_HMAC_KEY"):
            app.logger.warning("AUDIT_HMAC_KEY is not set: security-trail entries are not "
                               "sealed, so forged entries are caught only by the anchors.")

    # First hook of every request: forget any per-request identity left in ``g``.  A request
    # normally gets a fresh app context, but one pushed around several requests (tests, CLI
    # scripts) would otherwise leak the previous request's logged-in user into the next.
    app.before_request(_fresh_request_globals)
    db.init_app(app)
    _tune_sqlite(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    mail.init_app(app)
    csrf.init_app(app)

    from . import models  # noqa: F401  (complete metadata)

    with app.app_context():
        appbuilder = AppBuilder(update_perms=app.config.get("FAB_UPDATE_PERMS", True))
        appbuilder.init_app(app, db.session)
        app.extensions["babel"].locale_selector = select_locale
        from .views.admin import register_admin_views

        register_admin_views(appbuilder)
        from .views.api import register_api

        register_api(appbuilder)

    from .views.public import register_public

    register_public(app)
    from .web import init_web

    init_web(app)
    from .cli import register_cli

    register_cli(app)
    if app.config.get("RUN_INPROCESS_SCHEDULER") and not app.config.get("REDIS_URL"):
        from .jobs import inprocess

        inprocess.start(app)
    return app
