"""Every kind of event the security trail (資安軌跡記錄) must hold is there, each with the
actor and the IP address it came from.

The events are caused the way people cause them — through the back office's pages, FAB's
own user and role screens, the public log-in — and then looked up in ``audit_entry``.
Field-level diffs of records mask personal data and never hold secrets.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import g
from sqlalchemy import select

from app.models import AuditEntry, Citizen, DiscountRule, StaffProfile
from app.services import audit_review, clock
from tests.factories import PASSWORD
from tests.test_office_fixtures import client_for, login, wired_app  # noqa: F401

STAFF_IP, OTHER_IP, CITIZEN_IP = "10.1.2.3", "10.9.9.9", "203.0.113.8"


def entries(db, event=None, **where):
    db.session.expire_all()
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if event:
        stmt = stmt.where(AuditEntry.event == event)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, key) == value)
    return db.session.execute(stmt).scalars().all()


def detail(entry) -> dict:
    return json.loads(entry.detail)


@pytest.fixture()
def office(make, db, wired_app):
    venue = make.venue(code="DD", name="大墩文化中心")
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    term = make.term(venue)
    course = make.course(venue, term, code="DD115A001", title="水彩入門")
    lottery = make.course(venue, term, code="DD115A002", title="書法", phases=(
        {"mode": "lottery", "opens_at": clock.now() - dt.timedelta(days=3),
         "closes_at": clock.now() - dt.timedelta(hours=1)},))
    citizen = make.citizen(email="amei@example.tw")
    make.commit()
    make.staff("admin_a", "Venue Admin", venue)
    make.staff("clerk_a", "Venue Clerk", venue)
    make.staff("bureau", "Bureau Admin")
    make.staff("super", "Supervisor")
    return {"venue": venue, "other": other, "term": term, "course": course,
            "lottery": lottery, "citizen": citizen}


def test_every_event_type_has_actor_and_ip(wired_app, db, office):
    app, sm = wired_app, wired_app.appbuilder.sm
    venue = office["venue"]
    expected: dict[str, tuple[str, str]] = {}  # event -> (actor, ip)

    # log-in, page views, record changes, lottery draw, course cancellation, log-out
    admin = login(app, "admin_a")
    expected["staff_login"] = ("admin_a", STAFF_IP)
    assert admin.get("/discountruleview/list/").status_code == 200
    expected["page_view"] = ("admin_a", STAFF_IP)
    resp = admin.post("/discountruleview/add", data={"venue": venue.id, "identity": "senior",
                                                     "percent": 90, "active": "y"})
    assert resp.status_code == 302
    rule = db.session.execute(select(DiscountRule)).scalar_one()
    expected["record_created"] = ("admin_a", STAFF_IP)
    resp = admin.post(f"/discountruleview/edit/{rule.id}", data={
        "venue": venue.id, "identity": "senior", "percent": 80, "active": "y"})
    assert resp.status_code == 302
    expected["record_updated"] = ("admin_a", STAFF_IP)
    assert admin.post(f"/discountruleview/delete/{rule.id}").status_code == 302
    expected["record_deleted"] = ("admin_a", STAFF_IP)
    resp = admin.post(f"/admin/lottery/{office['lottery'].phases[0].id}/draw", data={"beacon": "123"})
    assert resp.status_code == 302
    expected["lottery_draw"] = ("admin_a", STAFF_IP)
    resp = admin.post(f"/admin/office/courses/{office['course'].id}/cancel",
                      data={"confirm_code": "DD115A001"})
    assert resp.status_code == 302
    expected["course_cancelled"] = ("admin_a", STAFF_IP)
    resp = admin.get(f"/admin/office/courses/{office['course'].id}/roster.xlsx")
    assert resp.status_code == 200
    expected["export"] = ("admin_a", STAFF_IP)
    assert admin.get("/logout/").status_code == 302
    expected["staff_logout"] = ("admin_a", STAFF_IP)

    # failed log-ins: a wrong password, an unknown user name, then a lockout
    other = client_for(app, OTHER_IP)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        other.post("/login/", data={"username": "clerk_a", "password": "wrong-password"})
    other.post("/login/", data={"username": "ghost", "password": "whatever"})
    other.post("/login/", data={"username": "clerk_a", "password": PASSWORD})
    expected["staff_login_failed"] = ("clerk_a", OTHER_IP)
    expected["staff_lockout"] = ("clerk_a", OTHER_IP)
    expected["staff_login_locked"] = ("clerk_a", OTHER_IP)
    ghost = entries(db, "staff_login_failed", actor="ghost")
    assert ghost and ghost[0].ip == OTHER_IP and detail(ghost[0])["reason"] == "unknown user"

    # accounts, roles and permissions through FAB's own screens
    bureau = login(app, "bureau")
    clerk_role, admin_role = sm.find_role("Venue Clerk"), sm.find_role("Venue Admin")
    resp = bureau.post("/users/add", data={
        "first_name": "新", "last_name": "同事", "username": "newbie", "active": "y",
        "email": "newbie@example.tw", "roles": [clerk_role.id], "password": "Another-pass-2026",
        "conf_password": "Another-pass-2026"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    newbie = sm.find_user(username="newbie")
    expected["user_created"] = ("bureau", STAFF_IP)
    resp = bureau.post(f"/users/edit/{newbie.id}", data={
        "first_name": "新", "last_name": "同事", "username": "newbie", "active": "y",
        "email": "newbie2@example.tw", "roles": [admin_role.id]})
    assert resp.status_code == 302
    expected["user_roles_changed"] = ("bureau", STAFF_IP)
    expected["user_updated"] = ("bureau", STAFF_IP)
    resp = bureau.post(f"/resetpassword/form?pk={newbie.id}", data={
        "password": "Third-pass-2026", "conf_password": "Third-pass-2026"})
    assert resp.status_code == 302
    expected["password_reset"] = ("bureau", STAFF_IP)
    profile = db.session.execute(select(StaffProfile).join(StaffProfile.user).where(
        StaffProfile.user.has(username="admin_a"))).scalar_one()
    resp = bureau.post(f"/staffprofileview/edit/{profile.id}", data={
        "user": profile.user_id, "venue": office["other"].id})
    assert resp.status_code == 302
    expected["user_venue_changed"] = ("bureau", STAFF_IP)
    pvs = [pv.id for pv in clerk_role.permissions][:3]
    try:
        resp = bureau.post("/roles/add", data={"name": "Temp auditors", "permissions": pvs})
        assert resp.status_code == 302
        temp = sm.find_role("Temp auditors")
        expected["role_created"] = ("bureau", STAFF_IP)
        resp = bureau.post(f"/roles/edit/{temp.id}", data={"name": "Temp auditors",
                                                            "permissions": pvs[:1]})
        assert resp.status_code == 302
        expected["role_permissions_changed"] = ("bureau", STAFF_IP)
        assert bureau.post(f"/roles/delete/{temp.id}").status_code == 302
        expected["role_deleted"] = ("bureau", STAFF_IP)
    finally:
        db.session.expire_all()
        leftover = sm.find_role("Temp auditors")
        if leftover is not None:
            db.session.delete(db.session.merge(leftover))
            db.session.commit()

    # the supervisor's CSV export of the trail
    supervisor = login(app, "super", ip="10.5.5.5")
    assert supervisor.get("/admin/audit/export.csv?event=staff_login").status_code == 200

    # citizens: log-in failed and succeeded, from the public site
    public = client_for(app, CITIZEN_IP)
    public.post("/account/login", data={"email": "amei@example.tw", "password": "nope-nope"})
    public.post("/account/login", data={"email": "amei@example.tw", "password": PASSWORD})
    expected["citizen_login_failed"] = ("anonymous", CITIZEN_IP)
    expected["citizen_login"] = ("anonymous", CITIZEN_IP)

    for event, (actor, ip) in expected.items():
        found = entries(db, event, actor=actor)
        assert found, f"no {event} by {actor}: {[(e.event, e.actor) for e in entries(db)][-40:]}"
        assert all(e.ip == ip for e in found), (event, [e.ip for e in found])
        assert all(e.actor_type in ("staff", "anonymous", "citizen") for e in found), event
    for event in ("user_created", "user_roles_changed", "record_created", "export"):
        assert all(e.user_agent == "pytest-office" for e in entries(db, event, actor_type="staff")), event
    exports = entries(db, "export", actor="super")
    assert exports and exports[0].ip == "10.5.5.5" and detail(exports[0])["what"] == "audit_trail"
    assert audit_review.verify_report(db.session).ok


def test_record_diffs_are_field_level_and_masked(wired_app, db, office):
    admin = login(wired_app, "admin_a")
    venue = office["venue"]
    admin.post("/discountruleview/add", data={"venue": venue.id, "identity": "senior",
                                              "percent": 90, "active": "y"})
    rule = db.session.execute(select(DiscountRule)).scalar_one()
    admin.post(f"/discountruleview/edit/{rule.id}", data={"venue": venue.id, "identity": "senior",
                                                          "percent": 80, "active": "y"})
    created = entries(db, "record_created", target=f"discount_rule:{rule.id}")[0]
    assert detail(created)["values"]["percent"] == 90 and detail(created)["model"] == "DiscountRule"
    updated = entries(db, "record_updated", target=f"discount_rule:{rule.id}")[0]
    assert detail(updated)["changes"] == {"percent": [90, 80]}
    assert detail(updated)["via"] == "DiscountRuleView.edit"


def test_personal_data_and_secrets_never_enter_a_diff(wired_app, db, office):
    """A staff member's change to a citizen (as at the counter) is recorded masked."""
    citizen = office["citizen"]
    sm = wired_app.appbuilder.sm
    with wired_app.test_request_context("/admin/counter", environ_base={"REMOTE_ADDR": STAFF_IP}):
        from app.extensions import db as _db

        g.user = g._login_user = _db.session.merge(sm.find_user(username="clerk_a"))
        person = _db.session.get(Citizen, citizen.id)
        old_phone, old_email = person.phone, person.email
        person.name, person.phone, person.email = "陳美麗", "0912345678", "meili@example.tw"
        person.password_hash = "scrypt:32768:8:1$salt$0123456789abcdef"
        person.national_id_enc = "gAAAAA-new-ciphertext"
        _db.session.commit()
    entry = entries(db, "record_updated", target=f"citizen:{citizen.id}")[0]
    assert (entry.actor, entry.ip, entry.actor_type) == ("clerk_a", STAFF_IP, "staff")
    changes = detail(entry)["changes"]
    assert changes["name"] == ["王○明", "陳○麗"]
    assert changes["phone"][1] == "09*****678" and old_phone not in entry.detail
    assert changes["email"] == [old_email[0] + "***@example.tw", "m***@example.tw"]
    assert changes["password_hash"] == ["***", "***"]
    assert changes["national_id_enc"] == ["***", "***"]
    for secret in ("scrypt", "gAAAAA", "0912345678", "meili@", "陳美麗"):
        assert secret not in entry.detail


def test_any_attachment_the_back_office_hands_out_is_recorded(wired_app, db, office):
    """A view that does not record its own download (here the blank import template) is
    caught by the generic hook: one export entry, with the file name."""
    admin = login(wired_app, "admin_a")
    resp = admin.get("/admin/course-ops/import/template.xlsx")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    found = entries(db, "export", actor="admin_a")
    assert len(found) == 1 and found[0].ip == STAFF_IP
    assert detail(found[0])["what"] == "CourseOpsView.import_template"
    assert detail(found[0])["file"] == "course-import-template.xlsx"
    admin.get(f"/admin/office/courses/{office['course'].id}/roster.csv")  # records itself
    assert len(entries(db, "export", actor="admin_a")) == 2


def test_user_changes_outside_requests_are_recorded_as_system(wired_app, db, make):
    """flask create-staff and other commands change accounts too: recorded, actor system."""
    make.staff("cli_made", "Venue Clerk")
    user = wired_app.appbuilder.sm.find_user(username="cli_made")
    created = entries(db, "user_created", target=f"user:{user.id}")
    assert created and created[0].actor == "system" and created[0].actor_type == "system"
    values = detail(created[0])["values"]
    assert "password" not in values and values["email"] == "c***@example.tw"
    assert values["first_name"] == "c**_****"
    roles = entries(db, "user_roles_changed", target=f"user:{user.id}")
    assert detail(roles[0])["added"] == ["Venue Clerk"]


def test_role_permission_history_names_the_permissions(wired_app, db, make):
    sm = wired_app.appbuilder.sm
    with wired_app.app_context():
        from app.extensions import db as _db

        role = sm.add_role("Temp readers")
        pv = sm.find_permission_view_menu("can_list", "CourseView")
        try:
            sm.add_permission_role(role, pv)
            sm.del_permission_role(role, pv)
        finally:
            _db.session.delete(_db.session.merge(role))
            _db.session.commit()
    changes = entries(db, "role_permissions_changed")
    assert [detail(e)["added"] for e in changes][0] == ["can_list on CourseView"]
    assert [detail(e)["removed"] for e in changes][1] == ["can_list on CourseView"]
    assert entries(db, "role_created") and entries(db, "role_deleted")
