"""The satisfaction survey (滿意度問卷): asked at most once per citizen per term, dismissible,
answered from the pop-up or the after-course page; statistics and CSV in the back office."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import select

from app.models import AuditEntry, SurveyResponse
from app.services import registration, survey
from app.services.audit import Actor
from tests.factories import PASSWORD
from tests.test_office_fixtures import client_for, login, wired_app  # noqa: F401

ACTOR = Actor(type="system", name="test")
JSON = {"Accept": "application/json"}


def citizen_client(app, email):
    client = client_for(app, "203.0.113.5")
    resp = client.post("/account/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302
    return client


@pytest.fixture()
def world(make, db, wired_app):
    venue = make.venue(code="DD", name="大墩文化中心")
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    term = make.term(venue, code="115S", name="115年春季班")
    far_term = make.term(other, code="115S", name="葫蘆墩春季班")
    course = make.course(venue, term)
    far = make.course(other, far_term)
    amei = make.citizen(name="陳美麗", email="amei@example.tw")
    bob = make.citizen(name="林大同", email="bob@example.tw")
    registration.apply(db.session, course, amei, None, ACTOR)
    registration.apply(db.session, course, bob, None, ACTOR)
    registration.apply(db.session, far, bob, None, ACTOR)
    make.commit()
    make.staff("admin_a", "Venue Admin", venue)
    make.staff("admin_b", "Venue Admin", other)
    make.staff("clerk_a", "Venue Clerk", venue)
    make.staff("super", "Supervisor")
    return {"venue": venue, "other": other, "term": term, "far_term": far_term,
            "amei": amei, "bob": bob, "course": course}


def test_answered_once_per_term(wired_app, db, world):
    term, amei = world["term"], world["amei"]
    assert survey.should_invite(db.session, amei, term)
    client = citizen_client(wired_app, "amei@example.tw")
    resp = client.post("/survey/answer", headers=JSON, data={
        "term_id": term.id, "overall": "5", "ease": "4", "comment": "報名很順利"})
    assert resp.status_code == 200 and resp.json["ok"] is True
    db.session.expire_all()
    answer = db.session.execute(select(SurveyResponse)).scalar_one()
    assert (answer.overall, answer.ease, answer.comment, answer.dismissed, answer.source) == \
        (5, 4, "報名很順利", 0, "popup")
    assert answer.venue_id == world["venue"].id
    assert not survey.should_invite(db.session, amei, term)
    again = client.post("/survey/answer", headers=JSON, data={
        "term_id": term.id, "overall": "1", "ease": "1"})
    assert again.status_code == 409 and again.json["error"] == "survey_answered"
    db.session.expire_all()
    assert db.session.execute(select(SurveyResponse.overall)).scalars().all() == [5]


def test_dismissal_is_recorded_and_stops_the_pop_up(wired_app, db, world):
    term, amei = world["term"], world["amei"]
    client = citizen_client(wired_app, "amei@example.tw")
    assert client.post("/survey/dismiss", headers=JSON, data={"term_id": term.id}).json == {"ok": True}
    assert client.post("/survey/dismiss", headers=JSON, data={"term_id": term.id}).status_code == 200
    db.session.expire_all()
    row = db.session.execute(select(SurveyResponse)).scalar_one()
    assert row.dismissed == 1 and row.overall is None
    assert not survey.should_invite(db.session, amei, term)
    # the after-course invitation may still be answered once
    page = client.get(f"/survey/terms/{term.id}")
    assert page.status_code == 200 and 'name="overall"' in page.get_data(as_text=True)
    resp = client.post(f"/survey/terms/{term.id}", data={"overall": "4", "ease": "5",
                                                          "source": "after_course"})
    assert resp.status_code == 302
    db.session.expire_all()
    row = db.session.execute(select(SurveyResponse)).scalar_one()
    assert (row.overall, row.ease, row.dismissed, row.source) == (4, 5, 0, "after_course")
    done = client.get(f"/survey/terms/{term.id}").get_data(as_text=True)
    assert 'name="overall"' not in done
    assert client.post(f"/survey/terms/{term.id}", data={"overall": "1", "ease": "1"}).status_code == 409


def test_bad_answers_are_refused_with_the_field(wired_app, db, world):
    client = citizen_client(wired_app, "amei@example.tw")
    term_id = world["term"].id
    for data, field in (({"overall": "6", "ease": "3"}, "overall"),
                        ({"overall": "3", "ease": "0"}, "ease"),
                        ({"overall": "3"}, "ease"),
                        ({"overall": "3", "ease": "3", "comment": "長" * 1001}, "comment")):
        resp = client.post("/survey/answer", headers=JSON, data={"term_id": term_id, **data})
        assert resp.status_code == 400 and resp.json["field"] == field, data
    page = client.post(f"/survey/terms/{term_id}?lang=en", data={"overall": "9", "ease": "3"})
    assert page.status_code == 400 and "1 to 5" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.execute(select(SurveyResponse)).first() is None


def test_only_citizens_who_registered_in_the_term(wired_app, db, world):
    client = citizen_client(wired_app, "amei@example.tw")
    assert client.post("/survey/answer", headers=JSON, data={
        "term_id": world["far_term"].id, "overall": "5", "ease": "5"}).status_code == 404
    assert client.get(f"/survey/terms/{world['far_term'].id}").status_code == 404
    assert client.post("/survey/dismiss", data={"term_id": "x"}).status_code == 404
    anonymous = client_for(wired_app)
    resp = anonymous.post("/survey/answer", data={"term_id": world["term"].id})
    assert resp.status_code == 302 and "login" in resp.headers["Location"]


def test_plain_form_post_without_script_comes_back(wired_app, db, world):
    client = citizen_client(wired_app, "amei@example.tw")
    resp = client.post("/survey/answer", data={"term_id": world["term"].id, "overall": "3",
                                               "ease": "3", "next": "/my/registrations/1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/my/registrations/1"
    resp = client.post("/survey/dismiss", data={"term_id": world["term"].id,
                                                "next": "https://evil.example/"})
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]


def test_invite_partial_is_an_accessible_dialog_without_inline_script(wired_app, db, world):
    with wired_app.test_request_context("/my/registrations/7"):
        from flask import render_template

        g.citizen = world["amei"]
        html = render_template("public/survey/_invite.html", survey_term=world["term"])
    assert re.search(r'<dialog id="survey-dialog"[^>]*aria-labelledby="survey-dialog-title"', html)
    assert 'aria-describedby="survey-dialog-desc"' in html
    assert re.search(r'<script src="[^"]*/static/js/survey\.js" defer></script>', html)
    assert not re.search(r"<script(?![^>]*src=)", html)  # no inline script (CSP script-src 'self')
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html)  # no inline event handlers
    assert "style=" not in html
    assert html.count('type="radio"') == 10 and html.count("<legend>") == 2
    for s in range(1, 6):
        assert f'for="survey-popup-overall-{s}"' in html and f'id="survey-popup-overall-{s}"' in html
    assert 'name="next" value="/my/registrations/7"' in html
    assert "/survey/terms/%d" % world["term"].id in html  # the no-script fallback link


def test_survey_js_behaviour_is_wired():
    """The script's accessibility duties (a browser test of the dialog lives with the
    registration page that includes it)."""
    js = (Path(__file__).resolve().parent.parent / "app/static/js/survey.js").read_text()
    for needle in ("showModal", '"Escape"', '"Tab"', "shiftKey", "restoreFocus", "focusin",
                   '"cancel"', "data-survey-dismiss", "Accept"):
        assert needle in js, needle


# -- the back office --------------------------------------------------------------------------

def _answers(db, world, make):
    term, far_term = world["term"], world["far_term"]
    people = [world["amei"], world["bob"]] + [make.citizen() for _ in range(3)]
    for person in people[2:]:
        registration.apply(db.session, world["course"], person, None, ACTOR)
    survey.answer(db.session, people[0], term, 5, 4, "很方便")
    survey.answer(db.session, people[1], term, 4, 4, "")
    survey.answer(db.session, people[2], term, 3, 2, "=cmd|' /C calc'!A0")
    survey.dismiss(db.session, people[3], term)
    survey.answer(db.session, world["bob"], far_term, 1, 1, "他館意見")
    db.session.commit()


def test_statistics_per_venue_and_term(wired_app, db, world, make):
    _answers(db, world, make)
    lines = survey.stats(db.session)
    total, dd, hl = lines
    assert (total.answers, total.dismissed, total.overall_avg, total.ease_avg) == (4, 1, 3.25, 2.75)
    assert (dd.venue, dd.term, dd.answers, dd.dismissed, dd.overall_avg, dd.ease_avg) == \
        ("大墩文化中心", "115年春季班", 3, 1, 4.0, 3.33)
    assert dd.overall_dist == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}
    assert dd.ease_dist == {1: 0, 2: 1, 3: 0, 4: 2, 5: 0}
    assert dd.response_rate == 75.0
    assert (hl.answers, hl.overall_avg) == (1, 1.0)


def test_back_office_pages_are_scoped_and_the_csv_is_recorded(wired_app, db, world, make):
    _answers(db, world, make)
    admin = login(wired_app, "admin_a")
    html = admin.get("/admin/survey/").get_data(as_text=True)
    assert "很方便" in html and "他館意見" not in html and "<svg" in html and "<table" in html
    assert admin.get(f"/admin/survey/?venue={world['other'].id}").get_data(as_text=True).count("他館意見") == 0
    assert admin.get(f"/admin/survey/?term={world['far_term'].id}").status_code == 403
    resp = admin.get("/admin/survey/export.csv")
    assert resp.status_code == 200
    table = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert len(table) == 1 + 4 and {r[1] for r in table[1:]} == {"大墩文化中心"}
    assert any(r[5].startswith("'=cmd") for r in table[1:])  # a formula is neutralised
    assert "陳美麗" not in resp.data.decode("utf-8-sig")  # answers are anonymous
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.event == "export")).scalar_one()
    assert entry.actor == "admin_a" and '"what":"survey_responses"' in entry.detail
    supervisor = login(wired_app, "super")
    everything = supervisor.get("/admin/survey/").get_data(as_text=True)
    assert "很方便" in everything and "他館意見" in everything
    assert login(wired_app, "clerk_a").get("/admin/survey/").status_code == 403


def test_the_after_course_invitation_links_to_the_terms_survey(wired_app, db, world):
    """The day after a course ends its learners are invited once, with a link to the
    term's survey page, which they can then answer."""
    import datetime as dt

    from app.models import Course, Notification, Registration
    from app.services import clock, reminders

    course, amei = world["course"], world["amei"]
    reg = db.session.execute(select(Registration).where(
        Registration.course_id == course.id, Registration.citizen_id == amei.id)).scalar_one()
    registration.transition(db.session, reg, "paid", ACTOR)
    db.session.get(Course, course.id).last_date = clock.taipei_today() - dt.timedelta(days=1)
    db.session.commit()
    assert reminders.survey_invitations(db.session) == 1
    assert reminders.survey_invitations(db.session) == 1  # idempotent by key: still one message
    db.session.commit()
    notes = db.session.execute(select(Notification).where(
        Notification.event == "survey")).scalars().all()
    link = f"/survey/terms/{world['term'].id}?source=after_course"
    assert notes and all(n.citizen_id == amei.id for n in notes)
    assert len({n.channel for n in notes}) == len(notes)  # one per channel
    assert all(link in n.body for n in notes)
    page = citizen_client(wired_app, "amei@example.tw").get(link)
    assert page.status_code == 200 and 'name="overall"' in page.get_data(as_text=True)
