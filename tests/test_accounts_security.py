"""Account pages with CSRF protection and rate limiting switched on (their own apps, on the
session's database): forms without a valid token are refused, log-in and OTP are limited
per IP and per e-mail through Flask-AppBuilder's limiter, and 429 is a translated page."""
from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD
from tests.test_accounts import new_client, otp_from_outbox, page_text, signup_form


def _app(base, **config):
    from app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": base.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
        "SERVER_NAME": None, "REDIS_URL": "", "UPLOAD_DIR": base.config["UPLOAD_DIR"],
        "NOTIFY_CONSOLE_FILE": base.config["NOTIFY_CONSOLE_FILE"],
        "RECONCILIATION_INBOX": base.config["RECONCILIATION_INBOX"], **config})


@pytest.fixture(scope="module")
def csrf_app(app):
    return _app(app, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)


@pytest.fixture(scope="module")
def limited_app(app):
    return _app(app, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=True,
                RATELIMIT_STORAGE_URI="memory://", ACCOUNT_LOGIN_RATE_LIMIT="10 per 5 minute",
                ACCOUNT_OTP_RATE_LIMIT="10 per 5 minute")


def _csrf_token(html: str) -> str:
    m = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'<input[^>]*value="([^"]+)"[^>]*name="csrf_token"', html)
    return m.group(1)


# ------------------------------------------------------------------ CSRF

@pytest.mark.parametrize("lang,message", [
    ("en", "Your form expired or was not sent from this site. Please reload the page and try again."),
    ("zh_Hant_TW", "表單已逾時或並非由本網站送出，請重新載入頁面後再試一次。"),
])
def test_forms_without_a_csrf_token_are_refused(csrf_app, db, make, lang, message):
    make.citizen(email="csrf@example.tw")
    make.commit()
    client = new_client(csrf_app)
    for path, data in (("/account/login", {"email": "csrf@example.tw", "password": PASSWORD}),
                       ("/account/signup", signup_form()),
                       ("/account/password/forgot", {"email": "csrf@example.tw"}),
                       ("/account/logout", {})):
        resp = client.post(f"{path}?lang={lang}", data=data)
        assert resp.status_code == 400, path
        assert message in page_text(resp)
    assert client.get("/account/profile").status_code == 302  # not logged in


def test_forms_with_the_token_work(csrf_app, db, make):
    make.citizen(email="token@example.tw")
    make.commit()
    client = new_client(csrf_app)
    token = _csrf_token(page_text(client.get("/account/login")))
    bad = client.post("/account/login", data={"email": "token@example.tw", "password": "nope-nope-1",
                                              "csrf_token": "forged"})
    assert bad.status_code == 400
    ok = client.post("/account/login", data={"email": "token@example.tw", "password": PASSWORD,
                                             "csrf_token": token})
    assert ok.status_code == 302
    profile = page_text(client.get("/account/profile"))
    token = _csrf_token(profile)
    assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account/profile").status_code == 302


# ------------------------------------------------------------------ rate limits

def test_login_is_limited_per_ip_with_a_translated_429(limited_app, db):
    client = new_client(limited_app)
    env = {"REMOTE_ADDR": "203.0.113.10"}
    for i in range(10):
        resp = client.post("/account/login", environ_base=env,
                           data={"email": f"nobody{i}@example.tw", "password": "Wrong-pass-1"})
        assert resp.status_code == 401
    resp = client.post("/account/login?lang=en", environ_base=env,
                       data={"email": "someone-else@example.tw", "password": "Wrong-pass-1"})
    assert resp.status_code == 429
    assert "Too many attempts. Please wait a moment and try again." in page_text(resp)
    assert "Retry-After" in resp.headers
    resp = client.post("/account/login", environ_base=env,
                       data={"email": "someone-else@example.tw", "password": "Wrong-pass-1"})
    assert resp.status_code == 429 and "嘗試次數過多，請稍候再試。" in page_text(resp)
    # GET is not limited, and another address is not affected
    assert client.get("/account/login", environ_base=env).status_code == 200
    other = client.post("/account/login", environ_base={"REMOTE_ADDR": "203.0.113.11"},
                        data={"email": "fresh@example.tw", "password": "Wrong-pass-1"})
    assert other.status_code == 401


def test_login_is_limited_per_email_across_addresses(limited_app, db):
    client = new_client(limited_app)
    for i in range(10):
        resp = client.post("/account/login", environ_base={"REMOTE_ADDR": f"198.51.100.{i}"},
                           data={"email": "Target@example.tw", "password": "Wrong-pass-1"})
        assert resp.status_code == 401
    resp = client.post("/account/login", environ_base={"REMOTE_ADDR": "198.51.100.99"},
                       data={"email": "target@example.tw ", "password": "Wrong-pass-1"})
    assert resp.status_code == 429


def test_sms_code_entry_is_limited(limited_app, db):
    client = new_client(limited_app)
    env = {"REMOTE_ADDR": "192.0.2.50"}
    form = signup_form()
    assert client.post("/account/signup", data=form, environ_base=env).status_code == 302
    from sqlalchemy import select

    from app.models import Citizen

    citizen = db.session.execute(select(Citizen).where(Citizen.email == form["email"])).scalar_one()
    code = otp_from_outbox(db, citizen.id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    statuses = [client.post("/account/verify", data={"code": wrong}, environ_base=env).status_code
                for _ in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429
