"""Counter registration (臨櫃報名): a clerk registers a walk-in through the same services and
rules as the online site, takes the payment at the counter, and everything is in the trail."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.models import AuditEntry, Citizen, Receipt, Registration
from tests.factories import PASSWORD, national_id


def login(client, username):
    assert client.post("/login/", data={"username": username, "password": PASSWORD}).status_code == 302


def test_counter_signup_register_and_pay(app, make, db, client):
    dd, hl = make.venue("DD", "大墩文化中心"), make.venue("HL", "葫蘆墩文化中心")
    make.staff("dd-clerk", "Venue Clerk", dd)
    senior_phase = [{"mode": "first_come", "eligibility": "senior", "seat_cap": 3}]
    adult = make.course(dd, quota=20, phases=senior_phase)
    other = make.course(hl, quota=20)
    make.commit()
    login(client, "dd-clerk")
    # consent is required
    nid = national_id(424242)
    form = {"name": "陳阿嬤", "national_id": nid, "birth_date": "1950-02-02", "phone": "0911222333"}
    client.post("/admin/counter/signup", data=form)
    assert db.session.execute(select(Citizen).where(Citizen.phone == "0911222333")).first() is None
    assert client.post("/admin/counter/signup", data={**form, "consent": "yes"}).status_code == 302
    walk_in = db.session.execute(select(Citizen).where(Citizen.phone == "0911222333")).scalar_one()
    assert walk_in.created_by_staff == "dd-clerk" and walk_in.consent_at is not None
    assert client.get("/admin/counter/?q=0911222333").status_code == 200
    # the same rules as online: another venue's course is refused, a young person in the
    # senior phase is refused, the senior is admitted
    r = client.post("/admin/counter/register", data={"citizen_id": walk_in.id, "course_code": other.code})
    assert r.status_code == 302
    assert db.session.execute(select(Registration).where(Registration.course_id == other.id)).first() is None
    young = make.citizen(birth=dt.date(1995, 1, 1))
    make.commit()
    client.post("/admin/counter/register", data={"citizen_id": young.id, "course_code": adult.code})
    assert db.session.execute(select(Registration).where(Registration.citizen_id == young.id)).first() is None
    r = client.post("/admin/counter/register", data={"citizen_id": walk_in.id, "course_code": adult.code})
    assert r.status_code == 302
    reg = db.session.execute(select(Registration).where(Registration.citizen_id == walk_in.id)).scalar_one()
    assert (reg.state, reg.channel) == ("admitted", "counter")
    # a second registration for the same course is refused like online
    client.post("/admin/counter/register", data={"citizen_id": walk_in.id, "course_code": adult.code})
    assert db.session.execute(select(Registration).where(Registration.citizen_id == walk_in.id)).all().__len__() == 1
    # paid at the counter: numbered receipt, the clerk's name in the trail; twice changes nothing
    assert client.post(f"/admin/counter/pay/{reg.id}").status_code == 302
    client.post(f"/admin/counter/pay/{reg.id}")
    db.session.expire_all()
    reg = db.session.get(Registration, reg.id)
    assert reg.state == "paid"
    receipts = db.session.execute(select(Receipt).where(Receipt.registration_id == reg.id)).scalars().all()
    assert len(receipts) == 1 and receipts[0].number.startswith("DD-")
    events = {e.event: e for e in db.session.execute(select(AuditEntry)).scalars()}
    for name in ("counter_signup", "counter_registration", "counter_lookup"):
        assert events[name].actor == "dd-clerk" and events[name].ip
    # the clerk cannot open another venue's registration at the counter
    theirs = make.citizen(name="外館")
    from app.services import registration
    from app.services.audit import Actor

    other_reg = registration.apply(db.session, other, theirs, None, Actor())
    db.session.commit()
    assert client.get(f"/admin/counter/done/{other_reg.id}").status_code == 403
    assert client.post(f"/admin/counter/pay/{other_reg.id}").status_code == 403
    db.session.expire_all()
    assert db.session.get(Registration, other_reg.id).state == "admitted"
