"""Back-office registration actions and lottery draws go through the services and stay
inside the staff member's venue."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.models import AuditEntry, Phase, Registration
from app.services import clock, registration
from app.services.audit import Actor
from tests.factories import PASSWORD


def login(client, username):
    r = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert r.status_code in (302, 200)
    return client


def setup_two_venues(make):
    dd, hl = make.venue("DD", "大墩文化中心"), make.venue("HL", "葫蘆墩文化中心")
    make.staff("dd-admin", "Venue Admin", dd)
    make.staff("dd-clerk", "Venue Clerk", dd)
    return dd, hl


def test_admit_from_waitlist_action_is_scoped(app, make, db, client):
    dd, hl = setup_two_venues(make)
    own = make.course(dd, quota=1)
    other = make.course(hl, quota=1)
    regs = {}
    for course in (own, other):
        a = registration.apply(db.session, course, make.citizen(), None, Actor())
        w = registration.apply(db.session, course, make.citizen(name="候補"), None, Actor())
        regs[course.code] = (a, w)
    db.session.commit()
    # make a seat free in both courses without promoting (simulate a raised quota)
    for course in (own, other):
        course.quota = 2
    db.session.commit()
    login(client, "dd-clerk")
    theirs = regs[other.code][1]
    r = client.post("/registrationview/action_post",
                    data={"action": "admit_from_waitlist", "rowid": [str(theirs.id)]})
    assert r.status_code in (403, 302, 404)
    db.session.expire_all()
    assert db.session.get(Registration, theirs.id).state == "waitlisted"
    mine = regs[own.code][1]
    r = client.post("/registrationview/action_post",
                    data={"action": "admit_from_waitlist", "rowid": [str(mine.id)]})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, mine.id).state == "admitted"


def test_draw_with_beacon_only_for_own_venue_admin(app, make, db, client):
    dd, hl = setup_two_venues(make)
    now = clock.now()
    spec = {"mode": "lottery", "opens_at": now - dt.timedelta(hours=3),
            "closes_at": now - dt.timedelta(minutes=5), "auto_draw": False}
    own = make.course(dd, quota=1, phases=[dict(spec)])
    other = make.course(hl, quota=1, phases=[dict(spec)])
    make.commit()
    own_phase, other_phase = own.phases[0].id, other.phases[0].id
    clerk = app.test_client()
    login(clerk, "dd-clerk")
    assert clerk.post(f"/admin/lottery/{own_phase}/draw", data={"beacon": "x"}).status_code in (302, 403)
    db.session.expire_all()
    assert db.session.get(Phase, own_phase).drawn_at is None  # clerks cannot draw
    login(client, "dd-admin")
    assert client.get("/admin/lottery/").status_code == 200
    assert client.post(f"/admin/lottery/{other_phase}/draw", data={"beacon": "x"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Phase, other_phase).drawn_at is None
    assert client.post(f"/admin/lottery/{own_phase}/draw",
                       data={"beacon": "05 12 19 22 33 41"}).status_code == 302
    db.session.expire_all()
    phase = db.session.get(Phase, own_phase)
    assert phase.drawn_at is not None and phase.beacon == "05 12 19 22 33 41"
    assert phase.drawn_by == "dd-admin"
    assert db.session.execute(select(AuditEntry).where(AuditEntry.event == "lottery_draw")).scalar_one()
