"""Dashboards per venue and city-wide: the figures match the database, every chart is an
inline SVG with a title and description, and each has a data table; venue staff see only
their venue."""
from __future__ import annotations

import re

import pytest
from app.models import Notification, Payment, Refund
from app.services import clock, dashboards, registration
from app.services.audit import Actor
from tests.test_office_fixtures import login, wired_app  # noqa: F401

ACTOR = Actor(type="system", name="test")


@pytest.fixture()
def figures(make, db, wired_app):
    dd = make.venue(code="DD", name="大墩文化中心")
    hl = make.venue(code="HL", name="葫蘆墩文化中心")
    small = make.course(dd, code="DD115A001", title="水彩入門", quota=2)
    big = make.course(dd, code="DD115A002", title="書法", quota=10)
    far = make.course(hl, code="HL115A001", title="陶藝", quota=4)
    regs = [registration.apply(db.session, small, make.citizen(), None, ACTOR) for _ in range(3)]
    registration.apply(db.session, big, make.citizen(), None, ACTOR)
    registration.apply(db.session, far, make.citizen(), None, ACTOR)
    now = clock.now()
    for n, (venue, channel, amount) in enumerate([(dd, "711", 2800), (dd, "atm", 2800),
                                                  (dd, "atm", 1500), (hl, "counter", 900)]):
        db.session.add(Payment(source="bank", external_serial=f"S{n}", channel=channel,
                               reference=f"R{n}", amount=amount, status="applied",
                               venue_id=venue.id, paid_at=now))
    db.session.add(Refund(registration_id=regs[0].id, venue_id=dd.id, amount=2520, state="remitted"))
    db.session.add(Refund(registration_id=regs[1].id, venue_id=dd.id, amount=1400, state="requested"))
    citizen = regs[0].citizen
    for n, (venue, channel, status) in enumerate([(dd, "sms", "failed"), (dd, "sms", "failed"),
                                                  (dd, "email", "sent"), (hl, "email", "failed")]):
        db.session.add(Notification(idempotency_key=f"test-{n}", event="admitted", channel=channel,
                                    citizen_id=citizen.id, venue_id=venue.id, recipient="x",
                                    body="x", status=status, last_error="gateway down"))
    make.commit()
    make.staff("admin_a", "Venue Admin", dd)
    make.staff("clerk_b", "Venue Clerk", hl)
    make.staff("bureau", "Bureau Admin")
    make.staff("super", "Supervisor")
    return {"dd": dd, "hl": hl, "small": small, "big": big, "far": far}


def test_figures_match_the_database(wired_app, db, figures):
    dd = figures["dd"].id
    lines = {c.code: c for c in dashboards.courses(db.session, dd)}
    assert set(lines) == {"DD115A001", "DD115A002"}
    assert (lines["DD115A001"].seats_taken, lines["DD115A001"].waitlisted,
            lines["DD115A001"].fill_percent) == (2, 1, 100.0)
    assert lines["DD115A002"].fill_percent == 10.0
    today = dashboards.registrations_per_day(db.session, dd, days=7)[-1]
    assert (today.label, today.value) == (clock.taipei_today().isoformat(), 4)
    assert sum(b.value for b in dashboards.registrations_per_day(db.session, None, days=7)) == 5
    channels = {b.label: (b.value, b.extra) for b in dashboards.payment_channels(db.session, dd)}
    assert channels == {"atm": (2, "4300"), "711": (1, "2800")}
    money = dashboards.money(db.session, dd)
    assert (money.received, money.refunded, money.refunds_pending, money.net) == (7100, 2520, 1400, 4580)
    assert dashboards.money(db.session).received == 8000
    assert dashboards.revenue_per_month(db.session, dd)[-1].value == 7100
    failures = {b.label: (b.value, b.extra) for b in dashboards.notification_failures(db.session, dd)}
    assert failures["sms"][0] == 2 and failures["email"][0] == 0


def test_venue_dashboard_has_charts_and_tables(wired_app, db, figures):
    client = login(wired_app, "admin_a")
    resp = client.get("/admin/dashboards/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    svgs = re.findall(r"<svg [^>]*role=\"img\"[^>]*aria-labelledby=\"([^\"]+)\"", html)
    assert len(svgs) == 7
    for ids in svgs:
        title, desc = ids.split()
        assert f'<title id="{title}">' in html and f'<desc id="{desc}">' in html
    assert html.count("<details>") == 7 and html.count("<table") >= 7
    assert "DD115A001" in html and "HL115A001" not in html and "陶藝" not in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts)  # no external JS
    content = html.split('<div class="container-fluid dashboards">', 1)[1].split("<script", 1)[0]
    assert content.count("<svg") == 7  # the charts are all in the page, drawn by the server
    assert "7,100" in html and "4,580" in html
    # venue staff cannot look at another venue, whatever they ask for
    other = client.get(f"/admin/dashboards/?venue={figures['hl'].id}").get_data(as_text=True)
    assert "HL115A001" not in other and "DD115A001" in other


def test_city_wide_dashboard(wired_app, db, figures):
    for user in ("bureau", "super"):
        client = login(wired_app, user)
        html = client.get("/admin/dashboards/").get_data(as_text=True)
        assert "DD115A001" in html and "HL115A001" in html
        assert "大墩文化中心" in html and "葫蘆墩文化中心" in html and "8,000" in html
        one = client.get(f"/admin/dashboards/?venue={figures['hl'].id}").get_data(as_text=True)
        assert "HL115A001" in one and "DD115A001" not in one


def test_clerk_sees_own_venue(wired_app, db, figures):
    client = login(wired_app, "clerk_b")
    html = client.get("/admin/dashboards/").get_data(as_text=True)
    assert "HL115A001" in html and "DD115A001" not in html
    assert client.get("/admin/dashboards/?term=999999").status_code == 404
