"""Recording attendance per class session (出缺席) and what certificates make of it.

A clerk of the course's venue ticks who is present on a class date (today or earlier);
the rest are recorded absent.  Saving again replaces that session's marks.  The rate is
the share of the recorded sessions a learner attended, and a certificate needs the venue's
threshold.  Every save is in the security trail; another venue's staff, a date that is not
a class date, a future session and forged learner ids are all refused without a write.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from app.models import Attendance, AuditEntry, Registration
from app.services import attendance, certificates, clock, registration, rosters
from app.services.audit import Actor
from tests.test_office_fixtures import login, wired_app  # noqa: F401

ACTOR = Actor(type="system", name="test")


@pytest.fixture()
def klass(make, db, wired_app):
    """A Tuesday class at Dadun that began six weeks ago (8 sessions), four paid learners,
    and a class at Huludun."""
    venue = make.venue(code="DD", name="大墩文化中心")
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    today = clock.taipei_today()
    first = today - dt.timedelta(days=42 + (today.isoweekday() - 2) % 7)  # a Tuesday
    term = make.term(venue, code="115F", starts=first - dt.timedelta(days=1))
    course = make.course(venue, term, code="DD115F001", title="書法", weekdays="2",
                         first_date=first, sessions=8, quota=10)
    far = make.course(other, code="HL115F001", title="陶藝", weekdays="2", first_date=first,
                      sessions=8)
    regs = {}
    for name in ("陳美麗", "林大同", "張小華", "王志明"):
        reg = registration.apply(db.session, course, make.citizen(name=name), None, ACTOR)
        db.session.flush()
        registration.transition(db.session, reg, "paid", ACTOR)
        regs[name] = reg
    outsider = registration.apply(db.session, far, make.citizen(name="外館生"), None, ACTOR)
    make.commit()
    make.staff("clerk_a", "Venue Clerk", venue)
    make.staff("clerk_b", "Venue Clerk", other)
    make.staff("super", "Supervisor")
    return {"venue": venue, "course": course, "far": far, "regs": regs, "outsider": outsider}


def url(course, day) -> str:
    return f"/admin/office/courses/{course.id}/attendance/{day.isoformat()}"


def marks(db, course) -> dict:
    db.session.expire_all()
    rows = db.session.execute(
        select(Registration.learner_id, Attendance.session_date, Attendance.present,
               Attendance.recorded_by)
        .join(Registration, Registration.id == Attendance.registration_id)
        .where(Registration.course_id == course.id)).all()
    return {(r.learner_id, r.session_date): (r.present, r.recorded_by) for r in rows}


def count(db, model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_clerk_records_a_session_on_the_screen(wired_app, db, klass):
    course, regs = klass["course"], klass["regs"]
    day = rosters.session_dates(course)[0]
    client = login(wired_app, "clerk_a")
    page = client.get(url(course, day))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in regs:
        assert name in html  # the venue's own clerk sees the names in full
    assert html.count('type="checkbox"') == 4

    present = [regs["陳美麗"].id, regs["王志明"].id]
    resp = client.post(url(course, day), data={"present": [str(i) for i in present]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#attendance")
    got = marks(db, course)
    assert len(got) == 4
    for name, reg in regs.items():
        assert got[(reg.learner_id, day)] == (reg.id in present, "clerk_a"), name

    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "attendance_recorded")).scalar_one()
    detail = json.loads(entry.detail)
    assert entry.actor == "clerk_a" and entry.ip == "10.1.2.3" and entry.venue_id == klass["venue"].id
    assert detail["present"] == 2 and detail["absent"] == 2 and detail["date"] == day.isoformat()
    assert detail["first_time"] is True

    # The course page shows the marks and the rates; the screen remembers them.
    course_page = client.get(f"/admin/office/courses/{course.id}").get_data(as_text=True)
    assert "100.0%" in course_page and "0.0%" in course_page
    again = client.get(url(course, day)).get_data(as_text=True)
    assert again.count(" checked") == 2


def test_saving_again_replaces_the_session_and_is_recorded_as_a_correction(wired_app, db, klass):
    course, regs = klass["course"], klass["regs"]
    day = rosters.session_dates(course)[1]
    client = login(wired_app, "clerk_a")
    client.post(url(course, day), data={"present": [str(regs["陳美麗"].id)]})
    client.post(url(course, day), data={"present": [str(regs["林大同"].id)]})
    got = marks(db, course)
    assert [n for n, r in regs.items() if got[(r.learner_id, day)][0]] == ["林大同"]
    assert count(db, Attendance) == 4
    second = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "attendance_recorded").order_by(AuditEntry.id.desc())).scalars().first()
    detail = json.loads(second.detail)
    assert detail["first_time"] is False
    assert sorted(detail["corrected"]) == sorted([regs["陳美麗"].id, regs["林大同"].id])


@pytest.mark.parametrize("case", ["future", "not_a_class_day", "bad_date", "forged_id",
                                  "not_a_number", "other_venue", "supervisor"])
def test_refused_without_a_write(wired_app, db, klass, case):
    course, regs = klass["course"], klass["regs"]
    dates = rosters.session_dates(course)
    today = clock.taipei_today()
    past = [d for d in dates if d <= today][0]
    future = [d for d in dates if d > today][0]
    user, target, data, expect = "clerk_a", url(course, past), {"present": [str(regs["陳美麗"].id)]}, 400
    if case == "future":
        target, expect = url(course, future), 400
    elif case == "not_a_class_day":
        target, expect = url(course, past + dt.timedelta(days=1)), 404
    elif case == "bad_date":
        target, expect = f"/admin/office/courses/{course.id}/attendance/soon", 404
    elif case == "forged_id":
        data = {"present": [str(regs["陳美麗"].id), str(klass["outsider"].id)]}
    elif case == "not_a_number":
        data = {"present": ["1 OR 1=1"]}
    elif case == "other_venue":
        user, expect = "clerk_b", 403
    elif case == "supervisor":
        user, expect = "super", 403
    before = count(db, AuditEntry)
    client = login(wired_app, user)
    resp = client.post(target, data=data)
    assert resp.status_code == expect, (case, resp.status_code)
    assert count(db, Attendance) == 0
    db.session.expire_all()
    assert not db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "attendance_recorded")).first()
    if expect == 400 and case in ("future", "forged_id"):
        page = resp.get_data(as_text=True)
        assert "alert-danger" in page  # the reason, in the clerk's language
    assert count(db, AuditEntry) >= before


def test_certificates_follow_the_recorded_attendance(wired_app, db, klass):
    course, regs = klass["course"], klass["regs"]
    venue = klass["venue"]
    assert venue.certificate_attendance_percent == 75
    db.session.expire_all()
    # Nothing recorded yet: nobody is eligible (the rate is unknown) ...
    assert certificates.eligible(db.session, course) == []
    client = login(wired_app, "clerk_a")
    resp = client.get(f"/admin/office/courses/{course.id}/certificates.pdf")
    assert resp.status_code == 302
    reg = db.session.get(Registration, regs["陳美麗"].id)
    assert certificates.attendance_rate(db.session, reg) is None

    # ... four sessions recorded: 陳美麗 4/4, 林大同 3/4, 張小華 2/4, 王志明 0/4.
    past = [d for d in rosters.session_dates(course) if d <= clock.taipei_today()][:4]
    plan = {"陳美麗": 4, "林大同": 3, "張小華": 2, "王志明": 0}
    for n, day in enumerate(past):
        present = {regs[name].id for name, k in plan.items() if n < k}
        client.post(url(course, day), data={"present": [str(i) for i in present]})
    db.session.expire_all()
    rates = attendance.rates(db.session, course)
    assert [rates[regs[n].id] for n in plan] == [100.0, 75.0, 50.0, 0.0]
    eligible = {r.learner.name for r in certificates.eligible(db.session, course)}
    assert eligible == {"陳美麗", "林大同"}  # 75% is enough; unrecorded sessions don't count
    assert client.get(f"/admin/office/registrations/{regs['張小華'].id}/certificate.pdf").status_code == 302
    ok = client.get(f"/admin/office/registrations/{regs['林大同'].id}/certificate.pdf")
    assert ok.status_code == 200 and ok.data.startswith(b"%PDF")

    # A venue that asks for no attendance certifies every paid learner.
    venue = db.session.get(type(venue), venue.id)
    venue.certificate_attendance_percent = 0
    db.session.commit()
    db.session.expire_all()
    assert len(certificates.eligible(db.session, db.session.get(type(course), course.id))) == 4


def test_city_wide_roles_see_masked_names_when_recording(wired_app, db, klass, make):
    make.staff("bureau", "Bureau Admin")
    course = klass["course"]
    day = rosters.session_dates(course)[0]
    html = login(wired_app, "bureau").get(url(course, day)).get_data(as_text=True)
    assert "陳○麗" in html and "陳美麗" not in html
