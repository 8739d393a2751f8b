"""Shared fixtures of the back-office area tests (audit, office outputs, course operations,
survey, dashboards).  No tests here.

``wired_app`` is the session's app when ``create_app`` already registers this area's views,
blueprint and CLI; until then it is a second app on the same migrated database with them
registered before its first request (a Flask app refuses new routes after that).
"""
from __future__ import annotations

import contextvars
import importlib

import pytest
from flask.testing import FlaskClient

from tests.factories import PASSWORD

#: admin view module -> an endpoint it registers (to tell whether it is wired already)
ADMIN_VIEW_MODULES = {"audit": "AuditTrailView.index", "office": "OfficeView.index",
                      "survey": "SurveyStatsView.index"}
WIRED_ENDPOINTS = ("AuditTrailView.index", "OfficeView.index", "CourseOpsView.index",
                   "DashboardView.index", "SurveyStatsView.index", "survey.answer")


class RequestClient(FlaskClient):
    """Each request in its own app context, as in production (see test_admin_scoping)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def client_for(app, ip: str = "10.1.2.3", agent: str = "pytest-office") -> RequestClient:
    """A client whose requests come from ``ip`` with a recognisable user agent."""
    client = RequestClient(app, app.response_class, use_cookies=True)
    client.environ_base.update({"REMOTE_ADDR": ip, "HTTP_USER_AGENT": agent})
    return client


def login(app, username, password=PASSWORD, ip: str = "10.1.2.3"):
    client = client_for(app, ip)
    resp = client.post("/login/", data={"username": username, "password": password})
    assert resp.status_code == 302, resp.status_code
    assert client.get("/admin/").status_code == 200
    return client


def _wire(app) -> None:
    from app.audit_cli import register_audit_cli
    from app.cli import sync_permissions

    with app.app_context():
        for name, endpoint in ADMIN_VIEW_MODULES.items():
            if endpoint not in app.view_functions:
                importlib.import_module(f"app.views.admin.{name}").register(app.appbuilder)
        if "survey" not in app.blueprints:
            from app.views.public import survey

            app.register_blueprint(survey.bp)
        if "audit" not in app.cli.commands:
            register_audit_cli(app)
        sync_permissions()


@pytest.fixture(scope="session")
def wired_app(app, database_url, tmp_path_factory):
    if all(e in app.view_functions for e in WIRED_ENDPOINTS) and "audit" in app.cli.commands:
        return app
    from app import create_app

    inst = tmp_path_factory.mktemp("instance-office")
    second = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "SERVER_NAME": None, "UPLOAD_DIR": str(inst / "uploads"),
        "RECONCILIATION_INBOX": str(inst / "inbox"), "NOTIFY_CONSOLE_FILE": str(inst / "outbox.log"),
        "REDIS_URL": "", "AUDIT_ANCHOR_FILE": str(inst / "anchors.txt"),
    })
    _wire(second)
    return second
