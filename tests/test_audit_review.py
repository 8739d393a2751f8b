"""The supervisor's read-only review of the security trail.

* A supervisor reads the trail with filters (person, venue, event, IP, dates), a person's
  activity, every account's roles and permissions with their history, failed-log-in hot
  spots and the chain check, and downloads a filtered CSV — which is itself recorded.
* Clerks and administrators (venue and bureau) cannot read the trail: the bureau
  administrator's blanket role does not count as a grant.
* A supervisor changes nothing: every write path of the back office — FAB's user, role,
  permission and group screens, password resets, every ModelView and this area's own
  views — is refused, and the database is left exactly as it was.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select, text

from app.models import AuditEntry, Course
from app.services import audit, clock
from app.services.audit import Actor
from tests.test_office_fixtures import client_for, login, wired_app  # noqa: F401

TRAIL_PATHS = ("/admin/audit/", "/admin/audit/accounts", "/admin/audit/hotspots",
               "/admin/audit/verify", "/admin/audit/export.csv")


@pytest.fixture()
def people(make, db, wired_app):
    venue = make.venue(code="DD", name="大墩文化中心")
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    term = make.term(venue)
    course = make.course(venue, term, code="DD115A001")
    make.commit()
    make.staff("admin_a", "Venue Admin", venue)
    make.staff("clerk_a", "Venue Clerk", venue)
    make.staff("admin_b", "Venue Admin", other)
    make.staff("bureau", "Bureau Admin")
    make.staff("super", "Supervisor")
    return {"venue": venue, "other": other, "term": term, "course": course}


def record(db, event, name, ip, venue_id=None, target=""):
    entry = audit.record(db.session, event, Actor(type="staff", name=name, ip=ip,
                                                  venue_id=venue_id), target=target)
    db.session.commit()
    return entry


def rows_of(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>\s*<td>(\d+)</td>", body)


def test_supervisor_filters_the_trail(wired_app, db, people):
    a = record(db, "page_view", "admin_a", "10.0.0.1", people["venue"].id)
    b = record(db, "page_view", "admin_b", "10.0.1.1", people["other"].id)
    c = record(db, "record_updated", "admin_a", "192.0.2.7", people["venue"].id, target="course:1")
    client = login(wired_app, "super")

    def ids(**query):
        resp = client.get("/admin/audit/", query_string=query)
        assert resp.status_code == 200
        return {int(i) for i in rows_of(resp.get_data(as_text=True))}

    assert {a.id, b.id, c.id} <= ids()
    assert ids(person="admin_a") == {a.id, c.id}
    assert ids(person="ADMIN_A", event="record_updated") == {c.id}
    assert ids(venue=people["other"].id) == {b.id}
    assert ids(ip="10.0.") == {a.id, b.id}
    assert ids(ip="192.0.2.7") == {c.id}
    assert ids(target="course:1") == {c.id}
    today = clock.taipei_today()
    assert {a.id, b.id, c.id} <= ids(**{"from": today.isoformat(), "to": today.isoformat()})
    assert ids(**{"from": (today + dt.timedelta(days=1)).isoformat()}) == set()
    assert ids(**{"to": (today - dt.timedelta(days=1)).isoformat()}) == set()
    assert client.get("/admin/audit/?from=yesterday").status_code == 400
    assert client.get("/admin/audit/?venue=x").status_code == 400
    # a person's activity, linked from each entry
    page = client.get("/admin/audit/?person=admin_a").get_data(as_text=True)
    assert "admin_a" in page and "admin_b" not in page.split("<tbody>", 1)[1]


def test_filtered_csv_export_is_recorded(wired_app, db, people):
    record(db, "page_view", "admin_a", "10.0.0.1")
    record(db, "page_view", "admin_b", "10.0.0.2")
    client = login(wired_app, "super", ip="10.7.7.7")
    resp = client.get("/admin/audit/export.csv?person=admin_b")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][0] == "id" and [r[4] for r in table[1:]] == ["admin_b"]
    db.session.expire_all()
    export = db.session.execute(select(AuditEntry).where(AuditEntry.event == "export")).scalar_one()
    assert (export.actor, export.ip) == ("super", "10.7.7.7")
    assert '"person":"admin_b"' in export.detail and '"rows":1' in export.detail
    # the download replaced the page view: one entry for one download
    views = db.session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.event == "page_view", AuditEntry.actor == "super",
        AuditEntry.target.like("/admin/audit/export%"))).scalar()
    assert views == 0


def test_accounts_roles_permissions_and_their_history(wired_app, db, people):
    sm = wired_app.appbuilder.sm
    bureau = login(wired_app, "bureau")
    clerk = sm.find_user(username="clerk_a")
    admin_role = sm.find_role("Venue Admin")
    resp = bureau.post(f"/users/edit/{clerk.id}", data={
        "first_name": "clerk_a", "last_name": "-", "username": "clerk_a", "active": "y",
        "email": "clerk_a@example.tw", "roles": [admin_role.id]})
    assert resp.status_code == 302
    client = login(wired_app, "super")
    page = client.get("/admin/audit/accounts").get_data(as_text=True)
    for name in ("admin_a", "clerk_a", "bureau", "super", "大墩文化中心", "can_list on CourseView",
                 "Supervisor", "can_read on AuditTrailView"):
        assert name in page, name
    history = client.get(f"/admin/audit/accounts/{clerk.id}").get_data(as_text=True)
    assert "user_roles_changed" in history and "Venue Clerk" in history and "bureau" in history


def test_failed_login_hot_spots(wired_app, db, people):
    attacker = client_for(wired_app, "198.51.100.9")
    for name in ("admin_a", "clerk_a", "nobody", "nobody"):
        attacker.post("/login/", data={"username": name, "password": "guess-guess"})
    client_for(wired_app, "10.0.0.5").post("/login/", data={"username": "clerk_a",
                                                            "password": "typo-typo"})
    client = login(wired_app, "super")
    html = client.get("/admin/audit/hotspots").get_data(as_text=True)
    by_ip, by_name = html.split("<h2>", 2)[1:]
    assert re.search(r"198\.51\.100\.9</a></th>\s*<td>4</td><td>3</td>", by_ip)
    assert re.search(r"clerk_a</a></th>\s*<td>2</td><td>2</td>", by_name)
    assert re.search(r"nobody</a></th>\s*<td>2</td><td>1</td>", by_name)


def test_verify_page(wired_app, db, people):
    record(db, "page_view", "admin_a", "10.0.0.1")
    client = login(wired_app, "super")
    assert "alert-success" in client.get("/admin/audit/verify").get_data(as_text=True)


@pytest.mark.parametrize("username", ["admin_a", "clerk_a", "bureau"])
def test_clerks_and_admins_cannot_read_the_trail(wired_app, db, people, username):
    record(db, "page_view", "someone", "10.0.0.1")
    client = login(wired_app, username)
    for path in TRAIL_PATHS + ("/admin/audit/accounts/1",):
        resp = client.get(path)
        assert resp.status_code == 403, (username, path, resp.status_code)
    db.session.expire_all()
    assert not db.session.execute(select(AuditEntry).where(AuditEntry.event == "export")).first()


def test_the_bureau_administrators_menu_has_no_audit_entries(wired_app, db, people):
    """The blanket role holds no permission on the trail, so its menu does not offer it."""
    sm = wired_app.appbuilder.sm
    with wired_app.app_context():
        admin = sm.find_role("Bureau Admin")
        held = {pv.view_menu.name for pv in admin.permissions}
        assert "CourseView" in held  # the blanket grant itself is intact
        assert not held & {"AuditTrailView", "Security trail", "Accounts and permissions",
                           "Failed log-ins", "Verify the trail", "Audit"}
    page = login(wired_app, "bureau").get("/admin/office/").get_data(as_text=True)
    assert "/admin/audit" not in page
    page = login(wired_app, "super").get("/admin/dashboards/").get_data(as_text=True)
    assert "/admin/audit/" in page


def test_a_granted_administrator_can_read(wired_app, db, people):
    """'Unless granted': the bureau administrator who is also given the Supervisor role."""
    sm = wired_app.appbuilder.sm
    with wired_app.app_context():
        user = sm.find_user(username="bureau")
        user.roles.append(sm.find_role("Supervisor"))
        sm.session.commit()
    client = login(wired_app, "bureau")
    assert client.get("/admin/audit/").status_code == 200


def test_anonymous_is_sent_to_log_in(wired_app, db, people):
    resp = client_for(wired_app).get("/admin/audit/")
    assert resp.status_code == 302 and "/login/" in resp.headers["Location"]


# -- the supervisor writes nothing ----------------------------------------------------------

WRITE_EXCLUDED_ENDPOINTS = {"AuthDBView.login", "AuthDBView.logout", "LocaleView.index",
                            "UtilView.back", "SecurityApi.login", "SecurityApi.refresh"}
#: Self-service on one's own account (roles.SELF_SERVICE): every staff member, the
#: supervisor included, may change their own password and contact details.
SELF_SERVICE_ENDPOINTS = {"UserInfoEditView.this_form_post", "ResetMyPasswordView.this_form_post"}


def snapshot(db) -> dict:
    """Every table's rows (audit trail aside), to prove nothing changed."""
    db.session.expire_all()
    state = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in ("audit_entry",):
                continue
            rows = conn.execute(table.select()).all()
            drop = {"last_login", "login_count", "fail_login_count", "changed_on"}
            keep = [c.name for c in table.columns if c.name not in drop]
            state[table.name] = sorted(repr(tuple(r._mapping[c] for c in keep)) for r in rows)
    return state


def write_paths(app, pks: dict) -> list[tuple[str, str]]:
    """Every back-office route that can change something, with real ids filled in."""
    out = []
    views = {type(v).__name__: v for v in app.appbuilder.baseviews}
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in WRITE_EXCLUDED_ENDPOINTS | SELF_SERVICE_ENDPOINTS \
                or endpoint.startswith("static") \
                or rule.rule.startswith("/api/") or "." not in endpoint:
            continue
        view = endpoint.split(".", 1)[0]
        if view[:1].islower():  # public blueprints: citizens, not back office
            continue
        methods = rule.methods - {"HEAD", "OPTIONS"}
        name = endpoint.split(".", 1)[1]
        writes = "POST" in methods or name in ("delete", "action", "edit", "add", "cancel")
        if not writes:
            continue
        values = {}
        for arg in rule.arguments:
            values[arg] = pks.get((view, arg), pks.get(arg, 1))
        if name in ("action", "action_post"):
            actions = sorted(set(getattr(views.get(view), "actions", None) or {})
                             - {"resetmypassword", "userinfoedit"})  # self-service
            if not actions:  # no action to try (FAB answers an unknown one with a 500)
                continue
            values["name"] = actions[0]
        path = rule.rule
        for arg, value in values.items():
            path = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(value), path)
        out.append(("POST" if "POST" in methods else "GET", path, values.get("name")))
        if name == "delete" and "GET" in methods:
            out.append(("GET", path, None))
    return out


def test_supervisor_can_read_but_not_change_anything(wired_app, db, people, make):
    sm = wired_app.appbuilder.sm
    user = sm.find_user(username="admin_a")
    role = sm.find_role("Venue Admin")
    group_count = db.session.execute(text("SELECT count(*) FROM ab_group")).scalar()
    course = people["course"]
    pks = {"pk": user.id, ("RoleModelView", "pk"): role.id, "course_id": course.id,
           "reg_id": 1, "phase_id": course.phases[0].id, "user_id": user.id,
           "name": "resetpasswords", "fmt": "csv"}
    client = login(wired_app, "super")
    for path in ("/users/list/", "/roles/list/", "/permissions/list/", "/admin/audit/",
                 "/admin/audit/accounts", "/admin/dashboards/", "/admin/survey/"):
        assert client.get(path).status_code == 200, path
    before = snapshot(db)
    paths = write_paths(wired_app, pks)
    names = {p for _, p, _ in paths}
    for required in (f"/users/edit/{user.id}", f"/users/delete/{user.id}", "/users/add",
                     f"/roles/edit/{role.id}", f"/roles/delete/{role.id}", "/roles/add",
                     "/resetpassword/form",
                     "/permissions/add", "/permissionviews/add", "/groups/add",
                     "/staffprofileview/add", f"/courseview/edit/{course.id}",
                     f"/admin/office/courses/{course.id}/cancel", "/admin/course-ops/copy",
                     "/admin/course-ops/import", "/admin/course-ops/apply",
                     f"/admin/lottery/{course.phases[0].id}/draw", "/users/action_post",
                     "/courseview/action_post"):
        assert required in names, required
    for method, path, action in paths:
        form = {"action": action or "x", "rowid": [user.id], "name": "x", "username": "x",
                "password": "Changed-pass-2026", "conf_password": "Changed-pass-2026",
                "first_name": "x", "last_name": "x", "email": "x@example.tw",
                "confirm_code": course.code, "source": people["term"].id,
                "target": people["term"].id, "term": people["term"].id}
        resp = client.post(path, data=form) if method == "POST" else client.get(path)
        # FAB answers a refused action with a redirect to "." and an "Access is Denied" flash
        fab_refusal = resp.status_code == 302 and "/action" in path \
            and resp.headers["Location"] in (".", "./")
        assert resp.status_code in (403, 404) or fab_refusal, (method, path, resp.status_code,
                                                               resp.headers.get("Location"))
    resp = client.post(f"/resetpassword/form?pk={user.id}",
                       data={"password": "Changed-pass-2026", "conf_password": "Changed-pass-2026"})
    assert resp.status_code == 403
    assert snapshot(db) == before
    assert db.session.execute(text("SELECT count(*) FROM ab_group")).scalar() == group_count
    assert db.session.get(Course, course.id).cancelled_at is None
