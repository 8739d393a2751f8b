"""Cross-site request forgery, on every state-changing route the app has.

With CSRF protection on (as in production), every rule of ``app.url_map`` that accepts
POST, PUT, PATCH or DELETE — the public site, the account pages, the survey, the payment
pages and every Flask-AppBuilder back-office view — is posted to without a token, by the
kind of user the route is for, and must answer the app's 400 "form expired" page while the
database stays exactly as it was (every table's rows, compared by digest).  The routes that
are exempt on purpose are listed in :data:`EXEMPT` with the reason; a new exempt
state-changing route fails the test until it is listed (and a listed one that disappears
fails too, so the list stays true).

Positive twins: the same requests with the form's token do change the database, so the
refusals above are the token's doing, not a malformed request's.  Flask-AppBuilder's
GET-able delete and action URLs change nothing while CSRF protection is on.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.models import Learner, Registration, SurveyResponse
from tests.attack_world import (
    CSRF_MESSAGE, PDF, PUBLIC_BLUEPRINTS, World, attack_app, audit_events_since, changed,
    citizen_client, csrf_token, fingerprint, last_audit_id, new_client, staff_client,
)
from tests.factories import PASSWORD

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

#: State-changing routes without CSRF protection, on purpose.  Each must still refuse
#: what a forged cross-site request could send (see test_exempt_routes_refuse_a_browser_post).
EXEMPT = {
    "payments.gateway_callback":
        "server-to-server notification from the payment gateway, authenticated by its "
        "CheckMacValue (SHA-256 over every field with the gateway's HashKey and HashIV); "
        "a browser never posts it and a forged one is refused with 400",
    "SecurityApi.login":
        "Flask-AppBuilder's JSON log-in API: it accepts application/json only, which a "
        "cross-site HTML form cannot send (a script needs a CORS preflight, which is not "
        "granted); it answers a token in the body and sets no cookie",
    "SecurityApi.refresh":
        "needs a refresh JWT in the Authorization header, which a cross-site request "
        "cannot add; no cookie authenticates it",
}

#: Routes for someone not logged in (a citizen's session would only redirect them).
ANONYMOUS = {"account.login", "account.signup", "account.forgot_password",
             "account.reset_password", "AuthDBView.login", "payments.gateway_callback",
             "SecurityApi.login", "SecurityApi.refresh"}


@pytest.fixture(scope="module")
def csrf_app(app):
    return attack_app(app, WTF_CSRF_ENABLED=True)


@pytest.fixture()
def world(make, db, app):
    return World(make, db, app)


# ---------------------------------------------------------------- building the requests

def _view_of(app, endpoint: str):
    name = endpoint.split(".")[0]
    for view in app.appbuilder.baseviews:
        if getattr(view, "blueprint", None) is not None and view.blueprint.name == name:
            return view
    return None


def _a_row_id(app, db, endpoint: str) -> str:
    """The key of an existing row of a Flask-AppBuilder model view (1 if it has none)."""
    view = _view_of(app, endpoint)
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    if model is None:
        return "1"
    pk = db.session.execute(select(model).limit(1)).scalars().first()
    db.session.commit()
    return str(pk.id) if pk is not None else "1"


def url_values(app, db, world: World, rule) -> dict:
    values = {}
    for arg in rule.arguments:
        if arg == "pk":
            values[arg] = _a_row_id(app, db, rule.endpoint)
        elif arg == "name":
            view = _view_of(app, rule.endpoint)
            actions = list(getattr(view, "actions", {}) or {})
            values[arg] = actions[0] if actions else "none"
        else:
            values[arg] = {
                "reg_id": world.reg_admitted.id, "slip_id": world.slip_admitted.id,
                "claim_id": world.claim.id, "term_id": world.term.id,
                "phase_id": world.lottery.phases[0].id, "course_id": world.course.id,
                "user_id": 1, "token": "t" * 43, "code": world.course.code, "locale": "en",
                "version": "v1", "number": 1, "fmt": "csv", "filename": "x", "group_by": "x",
                "day": world.course.first_date.isoformat(),
            }.get(arg, "x")  # a parameter added later: any value reaches the CSRF check
    return values


def generic_form(world: World) -> dict:
    """Fields most forms of the app take, filled in plausibly (the token is what is missing)."""
    return {
        "email": "a@example.tw", "password": PASSWORD, "name": "丙先生", "username": "bureau",
        "birth_date": "2016-01-01", "relation": "child", "phone": "0912345678",
        "notify_email": "y", "notify_sms": "y", "locale": "en", "current_password": PASSWORD,
        "old_password": PASSWORD, "confirm": PASSWORD, "code": "123456", "consent": "y",
        "reason": "工作調動", "bank_code": "004", "branch_code": "0123",
        "account_number": "123456789012", "account_holder": "甲先生", "learner_id": "",
        "term_id": str(world.term.id), "overall": "5", "ease": "5", "comment": "好",
        "beacon": "2026-11-29 大樂透 05 12 19 22 33 41", "action": "mark_withdrawn",
        "rowid": str(world.reg_admitted.id), "title": "改過的標題", "quota": "99", "fee": "1",
        "venue": str(world.venue.id), "identity": "low_income", "note": "x", "message": "x",
    }


def _mutating_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if (r.methods or set()) & MUTATING),
                  key=lambda r: (r.rule, r.endpoint))


def _is_public(endpoint: str) -> bool:
    return endpoint.split(".")[0] in PUBLIC_BLUEPRINTS


# ---------------------------------------------------------------- the sweep

def test_every_state_changing_route_refuses_a_post_without_a_token(csrf_app, db, world):
    clients = {"anonymous": new_client(csrf_app), "citizen": citizen_client(csrf_app, world.a),
               "staff": staff_client(csrf_app, "bureau")}
    rules = _mutating_rules(csrf_app)
    assert len(rules) > 100, "the url map looks incomplete"
    checked, unprotected, wrote = [], [], []
    exempt_seen = set()
    for rule in rules:
        who = ("anonymous" if rule.endpoint in ANONYMOUS
               else "citizen" if _is_public(rule.endpoint) else "staff")
        path = rule.build(url_values(csrf_app, db, world, rule), append_unknown=False)[1]
        sep = "&" if "?" in path else "?"
        for method in sorted((rule.methods or set()) & MUTATING):
            before = fingerprint(db.session)
            resp = clients[who].open(f"{path}{sep}lang=en", method=method, data=generic_form(world))
            body = resp.get_data(as_text=True)
            refused = resp.status_code == 400 and CSRF_MESSAGE in body
            if rule.endpoint in EXEMPT:
                exempt_seen.add(rule.endpoint)
                assert not refused, f"{rule.endpoint} is listed as exempt but checks the token"
                continue
            if not refused:
                unprotected.append((method, rule.rule, rule.endpoint, who, resp.status_code))
            diff = changed(before, fingerprint(db.session))
            if diff:
                wrote.append((method, rule.rule, diff))
            checked.append((method, rule.rule))
    assert not unprotected, f"state-changing routes without CSRF protection: {unprotected}"
    assert not wrote, f"refused requests that still wrote: {wrote}"
    assert exempt_seen == set(EXEMPT), f"listed as exempt but gone: {set(EXEMPT) - exempt_seen}"
    # Every area of the app was part of the sweep.
    paths = " ".join(p for _, p in checked)
    for area in ("/account/", "/courses/", "/my/registrations/", "/payments/", "/survey/",
                 "/admin/", "view/edit/", "view/delete/", "/login/"):
        assert area in paths, area


def test_exempt_routes_refuse_a_browser_post(csrf_app, db, world):
    """What a cross-site form could send to the exempt routes is refused, and writes nothing
    but the refusal's own trail entry."""
    client = new_client(csrf_app)
    before = fingerprint(db.session, exclude=("audit_entry",))
    mark = last_audit_id(db.session)
    gateway = client.post("/payments/gateway/callback", data={
        "MerchantTradeNo": world.slip_admitted.virtual_account, "RtnCode": "1",
        "TradeAmt": str(world.slip_admitted.amount), "CheckMacValue": "0" * 64})
    assert gateway.status_code == 400
    login = client.post("/api/v1/security/login",
                        data={"username": "bureau", "password": PASSWORD, "provider": "db"})
    assert login.status_code == 400 and "access_token" not in login.get_data(as_text=True)
    refresh = client.post("/api/v1/security/refresh")
    assert refresh.status_code == 401
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []
    assert audit_events_since(db.session, mark) == ["gateway_signature_refused"]


def test_a_forged_or_foreign_token_is_refused_too(csrf_app, db, world):
    """Not only a missing token: a made-up one, or a valid token of another session."""
    victim = citizen_client(csrf_app, world.a)
    attacker = citizen_client(csrf_app, world.b)
    theirs = csrf_token(attacker.get(f"/my/registrations/{world.reg_b.id}/withdraw").get_data(as_text=True))
    before = fingerprint(db.session)
    for token in ("forged", theirs, ""):
        resp = victim.post(f"/my/registrations/{world.reg_admitted.id}/withdraw?lang=en",
                           data={"password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 400 and CSRF_MESSAGE in resp.get_data(as_text=True), token
    assert changed(before, fingerprint(db.session)) == []


# ---------------------------------------------------------------- positive twins

def _count(db, model, *where):
    db.session.expire_all()
    n = db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    db.session.commit()
    return n


def test_the_same_requests_with_the_token_do_change_things(csrf_app, db, world, make):
    """Twins of the sweep: the token is the only difference between refused and done."""
    client = citizen_client(csrf_app, world.a)
    # withdraw (the lottery application)
    page = client.get(f"/my/registrations/{world.reg_applied.id}/withdraw").get_data(as_text=True)
    data = {"password": PASSWORD}
    assert client.post(f"/my/registrations/{world.reg_applied.id}/withdraw", data=data).status_code == 400
    resp = client.post(f"/my/registrations/{world.reg_applied.id}/withdraw",
                       data={**data, "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Registration, world.reg_applied.id).state == "withdrawn"
    db.session.commit()

    # add a learner
    page = client.get("/account/learners").get_data(as_text=True)
    data = {"name": "甲小妹", "birth_date": "2018-03-04", "relation": "child"}
    before = _count(db, Learner)
    assert client.post("/account/learners", data=data).status_code == 400
    assert _count(db, Learner) == before
    assert client.post("/account/learners", data={**data, "csrf_token": csrf_token(page)}).status_code == 302
    assert _count(db, Learner) == before + 1

    # register for a course
    course = make.course(world.venue, world.term, title="新課程")
    make.commit()
    page = client.get(f"/courses/{course.code}").get_data(as_text=True)
    assert client.post(f"/courses/{course.code}/register").status_code == 400
    assert _count(db, Registration, Registration.course_id == course.id) == 0
    resp = client.post(f"/courses/{course.code}/register", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    assert _count(db, Registration, Registration.course_id == course.id) == 1

    # answer the survey of the term
    page = client.get(f"/survey/terms/{world.term.id}").get_data(as_text=True)
    data = {"overall": "5", "ease": "4", "comment": "很好"}
    assert client.post(f"/survey/terms/{world.term.id}", data=data).status_code == 400
    assert _count(db, SurveyResponse) == 0
    resp = client.post(f"/survey/terms/{world.term.id}", data={**data, "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    assert _count(db, SurveyResponse) == 1

    # an identity claim with its proof (multipart)
    page = client.get("/account/identities").get_data(as_text=True)

    def claim(**extra):
        return client.post("/account/identities", content_type="multipart/form-data", data={
            "venue": str(world.venue.id), "identity": "disabled", "learner": "",
            "proof": (io.BytesIO(PDF), "proof.pdf"), **extra})
    from app.models import IdentityClaim

    before = _count(db, IdentityClaim)
    assert claim().status_code == 400 and _count(db, IdentityClaim) == before
    assert claim(csrf_token=csrf_token(page)).status_code == 302
    assert _count(db, IdentityClaim) == before + 1


def test_back_office_twin_edit_a_course(csrf_app, db, world):
    from app.models import Course
    from tests.test_admin_scoping import course_form

    client = staff_client(csrf_app, "bureau")
    course = world.course
    url = f"/courseview/edit/{course.id}"
    form = course_form(course, title="改過的標題")
    assert client.post(url, data=form).status_code == 400
    db.session.expire_all()
    assert db.session.get(Course, course.id).title != "改過的標題"
    db.session.commit()
    token = csrf_token(client.get(url).get_data(as_text=True))
    assert client.post(url, data={**form, "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course.id).title == "改過的標題"


# ---------------------------------------------------------------- GET that would change things

def test_back_office_delete_and_action_links_change_nothing_by_get(csrf_app, db, world):
    """Flask-AppBuilder answers GET on ``delete/<pk>`` and ``action/<name>/<pk>``; with CSRF
    protection on it must refuse to act (an <img src> on another site could call them)."""
    client = staff_client(csrf_app, "bureau")
    before = fingerprint(db.session, exclude=("audit_entry",))
    mark = last_audit_id(db.session)
    tried = []
    for rule in csrf_app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or not ("/delete/<pk>" in rule.rule
                                                     or "/action/<string:name>/<pk>" in rule.rule):
            continue
        path = rule.build(url_values(csrf_app, db, world, rule), append_unknown=False)[1]
        resp = client.get(path)
        assert resp.status_code in (302, 403, 404), (path, resp.status_code)
        tried.append(path)
    assert len(tried) > 20
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []
    assert set(audit_events_since(db.session, mark)) <= {"page_view"}
