"""Back-office notification views: the delivery log per registration and the failed
messages with "resend", venue-scoped (each refusal has a positive twin)."""
from __future__ import annotations

import contextvars

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.models import AuditEntry, DeliveryAttempt, Notification
from app.services import registration
from app.services.audit import Actor
from tests.factories import PASSWORD

REFUSED = (403, 404)


class RequestClient(FlaskClient):
    """Each request in its own app context (see tests/test_admin_scoping.py)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="module")
def admin_app(app, tmp_path_factory):
    """The app with the notification views.  Until app/views/admin/__init__.py registers
    them, a second app is built here with them added (same database)."""
    from app.views.admin import notifications

    if any(type(v).__name__ == "NotificationView" for v in app.appbuilder.baseviews):
        yield app
        return
    import app.views.admin as admin_pkg
    from app import create_app

    original = admin_pkg.register_admin_views

    def with_notifications(appbuilder):
        original(appbuilder)
        notifications.register(appbuilder)

    admin_pkg.register_admin_views = with_notifications
    try:
        keys = ("SQLALCHEMY_DATABASE_URI", "TESTING", "WTF_CSRF_ENABLED", "RATELIMIT_ENABLED",
                "SERVER_NAME", "UPLOAD_DIR", "RECONCILIATION_INBOX", "NOTIFY_CONSOLE_FILE",
                "REDIS_URL")
        second = create_app({k: app.config[k] for k in keys})
    finally:
        admin_pkg.register_admin_views = original
    with second.app_context():
        from app.cli import sync_permissions

        sync_permissions()
    yield second


def login(app, username):
    client = RequestClient(app, app.response_class, use_cookies=True)
    resp = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.status_code
    return client


class World:
    """Venues A and B, one admitted registration each (an e-mail and an SMS), the
    e-mail of each failed."""

    def __init__(self, make, db):
        self.db = db
        self.venues, self.regs, self.failed = {}, {}, {}
        for key, code, name in (("a", "NAV", "甲館"), ("b", "NBV", "乙館")):
            venue = make.venue(code=code, name=name)
            course = make.course(venue, code=f"{code}115N001", title=f"{name}陶藝")
            citizen = make.citizen(email=f"citizen-{key}@example.tw")
            self.venues[key] = venue
            self.regs[key] = registration.apply(db.session, course, citizen, None, Actor())
            other = make.citizen(email=f"other-{key}@example.tw")
            registration.apply(db.session, course, other, None, Actor())
        db.session.commit()  # delivered in-process (console) after the commit
        for key, reg in self.regs.items():
            nid = db.session.execute(select(Notification.id).where(
                Notification.registration_id == reg.id, Notification.channel == "email")).scalar_one()
            db.session.execute(update(Notification).where(Notification.id == nid).values(
                status="failed", attempts=5, last_error=f"SMTP 550 mailbox-{key}-unavailable"))
            self.failed[key] = nid
        db.session.commit()

    def row(self, nid):
        self.db.session.expire_all()
        return self.db.session.get(Notification, nid)


@pytest.fixture()
def world(make, db, admin_app):
    w = World(make, db)
    make.staff("nadmin_a", "Venue Admin", w.venues["a"])
    make.staff("nclerk_a", "Venue Clerk", w.venues["a"])
    make.staff("nbureau", "Bureau Admin")
    return w


@pytest.mark.parametrize("username", ["nadmin_a", "nclerk_a"])
def test_failed_messages_list_only_the_staffs_venue(world, admin_app, username):
    client = login(admin_app, username)
    html = client.get("/failednotificationview/list/").get_data(as_text=True)
    assert "mailbox-a-unavailable" in html and "citizen-a@example.tw" in html
    assert "mailbox-b-unavailable" not in html and "citizen-b@example.tw" not in html
    log = client.get("/notificationview/list/").get_data(as_text=True)
    assert "citizen-a@example.tw" in log and "citizen-b@example.tw" not in log


def test_city_wide_role_sees_every_venue(world, admin_app):
    html = login(admin_app, "nbureau").get("/failednotificationview/list/").get_data(as_text=True)
    assert "mailbox-a-unavailable" in html and "mailbox-b-unavailable" in html


def test_delivery_log_per_registration(world, admin_app):
    client = login(admin_app, "nclerk_a")
    own = client.get(f"/notificationview/registration/{world.regs['a'].id}", follow_redirects=True)
    html = own.get_data(as_text=True)
    assert own.status_code == 200 and "citizen-a@example.tw" in html
    assert world.regs["a"].citizen.phone in html  # both channels of that registration
    assert "other-a@example.tw" not in html  # another registration of the same course
    assert "other-a@example.tw" in client.get("/notificationview/list/").get_data(as_text=True)
    other = client.get(f"/notificationview/registration/{world.regs['b'].id}")
    assert other.status_code in REFUSED


def test_show_is_scoped_and_never_shows_the_body(world, admin_app):
    client = login(admin_app, "nclerk_a")
    own = client.get(f"/notificationview/show/{world.failed['a']}")
    html = own.get_data(as_text=True)
    assert own.status_code == 200 and "mailbox-a-unavailable" in html
    body = world.row(world.failed["a"]).body
    assert body.split("\n")[0] not in html  # the text may hold codes or links: not shown
    other = client.get(f"/notificationview/show/{world.failed['b']}")
    assert other.status_code in REFUSED or "mailbox-b-unavailable" not in other.get_data(as_text=True)


def test_resend_refuses_another_venues_message(world, admin_app, db):
    client = login(admin_app, "nadmin_a")
    resp = client.post("/failednotificationview/action_post",
                       data={"action": "resend", "rowid": [str(world.failed["b"])]})
    assert resp.status_code in REFUSED
    row = world.row(world.failed["b"])
    assert (row.status, row.attempts) == ("failed", 5)
    # Mixed with an own row: the whole action is refused.
    resp = client.post("/failednotificationview/action_post",
                       data={"action": "resend", "rowid": [str(world.failed["a"]), str(world.failed["b"])]})
    assert resp.status_code in REFUSED and world.row(world.failed["a"]).status == "failed"
    # And through the single-row action route.
    assert client.post(f"/notificationview/action/resend/{world.failed['b']}").status_code in REFUSED
    assert world.row(world.failed["b"]).status == "failed"


def test_resend_puts_an_own_failed_message_back_and_it_is_delivered(world, admin_app, db):
    client = login(admin_app, "nclerk_a")
    resp = client.post("/failednotificationview/action_post",
                       data={"action": "resend", "rowid": [str(world.failed["a"])]})
    assert resp.status_code == 302
    row = world.row(world.failed["a"])
    assert (row.status, row.attempts) == ("sent", 1)  # no Redis here: delivered at commit
    # (the setup's first delivery was sent too, then marked failed by hand)
    assert db.session.execute(select(DeliveryAttempt.status).where(
        DeliveryAttempt.notification_id == row.id)).scalars().all() == ["sent", "sent"]
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "notification_resend")).scalar_one()
    assert entry.actor == "nclerk_a" and entry.target == f"notification:{row.id}"
    html = client.get("/failednotificationview/list/").get_data(as_text=True)
    assert "mailbox-a-unavailable" not in html
