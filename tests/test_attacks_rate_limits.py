"""Rate limits on everything that checks a secret or sends a message, with limiting on.

test_accounts_security.py proves the citizen log-in (per IP, per e-mail) and the SMS code
entry (per IP).  This file covers the rest of :data:`app.views.public.account.RATE_LIMITS`,
endpoint by endpoint from that table (so a new entry is tested too): each answers 429 with
a Retry-After header once its limit is used up, and the refused request writes nothing (no
code, no message, no password change).  It also proves the per-account counters hold
across addresses (guessing an SMS code from many IPs), and that the back office's log-in
form and Flask-AppBuilder's JSON log-in API are limited as well.
"""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from app.services import clock
from app.views.public.account import RATE_LIMITS
from tests.attack_world import (
    attack_app, changed, citizen_client, csrf_token, fingerprint, new_client,
)
from tests.factories import PASSWORD

LIMIT = 3
_ips = (f"203.0.113.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def limited_app(app):
    limits = {spec.config_key: f"{LIMIT} per 5 minute" for spec in RATE_LIMITS.values()}
    return attack_app(app, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                      AUTH_RATE_LIMIT=f"{LIMIT} per 5 minute", **limits)


@pytest.fixture(autouse=True)
def fresh_counters(limited_app):
    """Ids restart in every test (the tables are truncated): so do the counters."""
    with limited_app.app_context():
        limited_app.appbuilder.sm.limiter.reset()


@pytest.fixture()
def frozen():
    """The app's clock, moved on by hand (the resend cooldown uses it; the limiter does not)."""
    at = [clock.now()]
    clock.freeze(at[0])

    def advance(seconds):
        at[0] += dt.timedelta(seconds=seconds)
        clock.freeze(at[0])
    yield advance
    clock.freeze(None)


def _request(endpoint, make, db, n):
    """(needs a logged-in citizen?, path, form) for the n-th attempt at ``endpoint``."""
    return {
        "account.login": (False, "/account/login", {"email": f"x{n}@example.tw", "password": "Wrong-pass-1"}),
        "account.verify": (True, "/account/verify", {"code": "000000"}),
        "account.resend_sms": (True, "/account/verify/resend-sms", {}),
        "account.resend_email": (True, "/account/verify/resend-email", {}),
        "account.signup": (False, "/account/signup", {"name": "王", "national_id": "bad"}),
        "account.forgot_password": (False, "/account/password/forgot", {"email": "limited@example.tw"}),
        "account.reset_password": (False, f"/account/password/reset/{'t' * 32}",
                                   {"password": "Brand-new-pass-77", "confirm": "Brand-new-pass-77"}),
        "account.change_password": (True, "/account/password",
                                    {"old_password": "Wrong-pass-1", "password": "Brand-new-pass-77",
                                     "confirm": "Brand-new-pass-77"}),
        "account.profile": (True, "/account/profile",
                            {"phone": "0911111111", "email": "limited@example.tw", "locale": "en",
                             "current_password": "Wrong-pass-1"}),
    }[endpoint]


@pytest.mark.parametrize("endpoint", sorted(RATE_LIMITS))
def test_every_limited_account_form_answers_429_and_writes_nothing(limited_app, db, make, frozen, endpoint):
    citizen = make.citizen(email="limited@example.tw")
    make.commit()
    needs_login, path, form = _request(endpoint, make, db, 0)
    client = citizen_client(limited_app, citizen) if needs_login else new_client(limited_app)
    env = {"REMOTE_ADDR": next(_ips)}
    for n in range(LIMIT):
        frozen(120)  # past the resend cooldown, which has its own 429
        _, path, form = _request(endpoint, make, db, n)
        resp = client.post(path, data=form, environ_base=env)
        assert resp.status_code != 429, (endpoint, n)
    frozen(120)
    before = fingerprint(db.session, exclude=("audit_entry",))
    resp = client.post(f"{path}?lang=en", data=form, environ_base=env)
    assert resp.status_code == 429, endpoint
    assert "Retry-After" in resp.headers
    assert "Too many attempts. Please wait a moment and try again." in resp.get_data(as_text=True)
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []
    # GET is never limited: the form still shows.
    if endpoint not in ("account.resend_sms", "account.resend_email"):
        assert client.get(path, environ_base=env).status_code in (200, 302, 400)


def test_sms_code_guessing_from_many_addresses_is_limited_per_account(limited_app, db, make):
    citizen = make.citizen(email="otp@example.tw")
    make.commit()
    client = citizen_client(limited_app, citizen)
    statuses = [client.post("/account/verify", data={"code": f"{n:06d}"},
                            environ_base={"REMOTE_ADDR": next(_ips)}).status_code
                for n in range(LIMIT + 1)]
    assert statuses[:LIMIT] == [400] * LIMIT and statuses[LIMIT] == 429


def test_sms_resend_is_limited_per_account_across_addresses(limited_app, db, make, frozen):
    """No SMS bombing of one phone from many addresses (each SMS costs money too)."""
    from sqlalchemy import func, select

    from app.models import Notification

    citizen = make.citizen(email="bomb@example.tw")
    make.commit()
    client = citizen_client(limited_app, citizen)
    statuses = []
    for _ in range(LIMIT + 2):
        frozen(120)
        statuses.append(client.post("/account/verify/resend-sms",
                                    environ_base={"REMOTE_ADDR": next(_ips)}).status_code)
    assert statuses[:LIMIT] == [302] * LIMIT and statuses[LIMIT:] == [429, 429]
    sms = db.session.execute(select(func.count()).select_from(Notification).where(
        Notification.citizen_id == citizen.id, Notification.event == "verify_sms")).scalar_one()
    assert sms == LIMIT  # the allowed resends, no more


def test_back_office_login_form_is_limited(limited_app, db, make):
    make.staff("clerk1", "Bureau Admin")
    client = new_client(limited_app)
    env = {"REMOTE_ADDR": next(_ips)}
    for _ in range(LIMIT):
        resp = client.post("/login/", data={"username": "clerk1", "password": "Wrong-pass-1"},
                           environ_base=env)
        assert resp.status_code in (200, 302)
    resp = client.post("/login/?lang=en", data={"username": "clerk1", "password": PASSWORD},
                       environ_base=env)
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    # another address still logs in
    ok = client.post("/login/", data={"username": "clerk1", "password": PASSWORD},
                     environ_base={"REMOTE_ADDR": next(_ips)})
    assert ok.status_code == 302


def test_back_office_json_login_api_is_limited_like_the_form(limited_app, db, make):
    """Flask-AppBuilder's /api/v1/security/login checks the same staff passwords as the
    log-in form: without a limit of its own it would be a way around the form's."""
    make.staff("clerk2", "Bureau Admin")
    client = new_client(limited_app)
    env = {"REMOTE_ADDR": next(_ips)}
    for n in range(LIMIT):
        resp = client.post("/api/v1/security/login", environ_base=env, json={
            "username": f"guess{n}", "password": "Wrong-pass-1", "provider": "db"})
        assert resp.status_code == 401
    resp = client.post("/api/v1/security/login", environ_base=env, json={
        "username": "clerk2", "password": PASSWORD, "provider": "db"})
    assert resp.status_code == 429 and "access_token" not in resp.get_data(as_text=True)
    ok = client.post("/api/v1/security/login", environ_base={"REMOTE_ADDR": next(_ips)},
                     json={"username": "clerk2", "password": PASSWORD, "provider": "db"})
    assert ok.status_code == 200 and "access_token" in ok.get_json()


def test_limits_hold_with_csrf_on_too(app, db, make):
    """The production shape: CSRF and limits both on; a token does not buy more tries."""
    limited = attack_app(app, RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=True,
                         RATELIMIT_STORAGE_URI="memory://", ACCOUNT_LOGIN_RATE_LIMIT="2 per 5 minute")
    client = new_client(limited)
    env = {"REMOTE_ADDR": next(_ips)}
    token = csrf_token(client.get("/account/login", environ_base=env).get_data(as_text=True))
    statuses = [client.post("/account/login", environ_base=env, data={
        "email": "nobody@example.tw", "password": "Wrong-pass-1", "csrf_token": token}).status_code
        for _ in range(3)]
    assert statuses == [401, 401, 429]
