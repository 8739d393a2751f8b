"""Citizen accounts on the public site: sign-up, verification, log-in, passwords, profile.

Rate limits and CSRF are tested in test_accounts_security.py (their own app), identity
claims in test_accounts_identities.py.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
from urllib.parse import urlsplit

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.models import Citizen, Learner, Notification, OneTimeCode
from app.services import accounts, clock
from tests.factories import PASSWORD, national_id

_n = itertools.count(5000)
NEW_PASSWORD = "Brand-new-pass-77"


def signup_form(**over) -> dict:
    n = next(_n)
    data = {
        "name": "王小明", "national_id": national_id(n, "B"), "birth_date": "1985-05-20",
        "phone": f"09{n:08d}"[-10:], "email": f"signup{n}@example.tw",
        "password": "Strong-pass-2026", "confirm": "Strong-pass-2026",
        "notify_email": "y", "notify_sms": "y", "locale": "zh_Hant_TW", "consent": "y",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def page_text(resp) -> str:
    return resp.get_data(as_text=True)


def otp_from_outbox(db, citizen_id: int) -> str:
    row = db.session.execute(select(Notification).where(
        Notification.citizen_id == citizen_id, Notification.event == "verify_sms")
        .order_by(Notification.id.desc())).scalars().first()
    return re.search(r"(?<!\d)(\d{6})(?!\d)", row.body).group(1)


def link_from_outbox(db, citizen_id: int, event: str) -> str:
    row = db.session.execute(select(Notification).where(
        Notification.citizen_id == citizen_id, Notification.event == event)
        .order_by(Notification.id.desc())).scalars().first()
    url = re.search(r"https?://\S+", row.body).group(0)
    return urlsplit(url).path


def log_in(client, email, password=PASSWORD, **kw):
    return client.post("/account/login", data={"email": email, "password": password}, **kw)


class FreshClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``.

    The ``db`` fixture keeps an app context pushed, and Flask reuses a pushed app context for
    test requests, so ``g`` (Flask-Babel's cached locale, Flask-Login's user) would otherwise
    leak from one request to the next, unlike in production."""

    def open(self, *args, **kwargs):
        for name in list(vars(g)):
            delattr(g, name)
        return super().open(*args, **kwargs)


def new_client(app) -> FreshClient:
    return FreshClient(app, app.response_class, use_cookies=True)


@pytest.fixture()
def client(app, db):
    return new_client(app)


@pytest.fixture(autouse=True)
def _thaw_clock():
    yield
    clock.freeze(None)


# ------------------------------------------------------------------ sign-up

def test_signup_creates_account_encrypted_id_self_learner_and_two_messages(client, db, app):
    form = signup_form()
    resp = client.post("/account/signup", data=form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/verify")

    citizen = db.session.execute(select(Citizen).where(Citizen.email == form["email"])).scalar_one()
    assert citizen.name == "王小明" and citizen.birth_date == dt.date(1985, 5, 20)
    assert citizen.notify_email and citizen.notify_sms and citizen.consent_at is not None
    # The ID is encrypted at rest: the plain value is in no column of the row.
    raw = db.session.execute(text("SELECT * FROM citizen WHERE id = :i"), {"i": citizen.id}).mappings().one()
    assert not any(form["national_id"] in str(v) for v in raw.values())
    with app.test_request_context():
        assert accounts.cipher().decrypt(citizen.national_id_enc) == form["national_id"]
        assert citizen.national_id_hash == accounts.id_hash(form["national_id"])
    learners = db.session.execute(select(Learner).where(Learner.citizen_id == citizen.id)).scalars().all()
    assert [(l.relation, l.name) for l in learners] == [("self", "王小明")]
    assert not any(form["national_id"] in str(l.national_id_enc) for l in learners)

    sent = db.session.execute(select(Notification).where(Notification.citizen_id == citizen.id)
                              .order_by(Notification.event)).scalars().all()
    assert [(n.event, n.channel, n.recipient) for n in sent] == [
        ("verify_email", "email", form["email"]), ("verify_sms", "sms", form["phone"])]
    assert f"{app.config['PUBLIC_BASE_URL']}/account/verify-email/" in sent[0].body
    assert re.search(r"(?<!\d)\d{6}(?!\d)", sent[1].body)

    # Logged in straight away.
    assert client.get("/account/profile").status_code == 200


def test_signup_page_is_accessible_form(client):
    html = page_text(client.get("/account/signup"))
    for needle in ('autocomplete="name"', 'autocomplete="bday"', 'type="date"',
                   'autocomplete="new-password"', 'autocomplete="email"', 'novalidate'):
        assert needle in html
    assert re.search(r'<input[^>]*checked[^>]*name="notify_email"|<input[^>]*name="notify_email"[^>]*checked', html)
    assert re.search(r'<input[^>]*checked[^>]*name="notify_sms"|<input[^>]*name="notify_sms"[^>]*checked', html)
    assert "<script" not in html and "style=" not in html


BAD_SIGNUPS = {
    # case: (form overrides, English message, Chinese message, field)
    "id_checksum": ({"national_id": "A123456788"},
                    "That national ID or resident certificate number is not valid.",
                    "身分證字號或居留證號碼不正確。", "national_id"),
    "weak_password": ({"password": "short1", "confirm": "short1"},
                      "The password must have at least 10 characters.",
                      "密碼至少需要 10 個字元。", "password"),
    "no_digits": ({"password": "onlyletterspassword", "confirm": "onlyletterspassword"},
                  "The password must contain both letters and digits.",
                  "密碼必須同時包含英文字母與數字。", "password"),
    "mismatch": ({"confirm": "Other-pass-2026"}, "The two passwords do not match.",
                 "兩次輸入的密碼不一致。", "confirm"),
    "bad_phone": ({"phone": "12345"}, "Enter a mobile number like 0912345678.",
                  "請輸入手機號碼，例如 0912345678。", "phone"),
    "bad_date": ({"birth_date": "1985-13-45"}, "Enter the birth date as YYYY-MM-DD (Gregorian).",
                 "請以西元年-月-日輸入出生日期，例如 1985-05-20。", "birth_date"),
    "text_date": ({"birth_date": "May 20th"}, "Enter the birth date as YYYY-MM-DD (Gregorian).",
                  "請以西元年-月-日輸入出生日期，例如 1985-05-20。", "birth_date"),
    "future_date": ({"birth_date": "2999-01-01"}, "The birth date is not plausible.",
                    "出生日期不合理。", "birth_date"),
    "no_consent": ({"consent": None}, "You must agree to the privacy notice to create an account.",
                   "您必須同意隱私權聲明才能建立帳號。", "consent"),
    "bad_email": ({"email": "not-an-address"}, "Enter a valid e-mail address.",
                  "請輸入有效的電子郵件地址。", "email"),
    "no_name": ({"name": ""}, "Enter your name.", "請輸入姓名。", "name"),
}


@pytest.mark.parametrize("lang", ["zh_Hant_TW", "en"])
@pytest.mark.parametrize("case", sorted(BAD_SIGNUPS))
def test_signup_bad_input_is_400_with_translated_message_on_the_field(client, db, case, lang):
    over, english, chinese, field = BAD_SIGNUPS[case]
    form = signup_form(**over)
    resp = client.post(f"/account/signup?lang={lang}", data=form)
    html = page_text(resp)
    assert resp.status_code == 400
    assert (chinese if lang == "zh_Hant_TW" else english) in html
    # tied to the field, summarised at the top with a link to it
    assert f'id="{field}-error"' in html
    assert re.search(rf'<[^>]*aria-describedby="[^"]*{field}-error[^"]*"[^>]*aria-invalid="true"', html) \
        or re.search(rf'aria-invalid="true"[^>]*id="{field}"', html)
    assert 'role="alert"' in html and f'href="#{field}"' in html
    # nothing lost except the passwords
    if field != "name":
        assert 'value="王小明"' in html
    assert form["password"] not in html
    assert db.session.execute(select(Citizen.id).where(Citizen.email == form.get("email"))).first() is None


@pytest.mark.parametrize("lang", ["zh_Hant_TW", "en"])
def test_signup_duplicate_id_and_email_are_400_translated(client, db, make, lang):
    existing = make.citizen(national_id=national_id(4242, "C"), email="taken@example.tw")
    make.commit()
    resp = client.post(f"/account/signup?lang={lang}", data=signup_form(national_id=existing_id(db, existing)))
    assert resp.status_code == 400
    assert ("已有帳號使用此身分證字號。請登入或重設密碼。" if lang == "zh_Hant_TW"
            else "An account with this ID number already exists. Log in or reset your password.") in page_text(resp)
    resp = client.post(f"/account/signup?lang={lang}", data=signup_form(email="TAKEN@example.tw"))
    assert resp.status_code == 400
    assert ("已有帳號使用此電子郵件。" if lang == "zh_Hant_TW"
            else "An account with this e-mail already exists.") in page_text(resp)
    assert db.session.execute(select(Citizen.id)).all() == [(existing.id,)]


def existing_id(db, citizen) -> str:
    return accounts.cipher().decrypt(citizen.national_id_enc)


@pytest.mark.parametrize("junk", [
    {"name": "x" * 5000}, {"locale": "xx"}, {"national_id": "\x00\x01"}, {"birth_date": "0000-00-00"},
    {"phone": "０９１２３４５６７８" * 30}, {"email": "@" * 300}, {"notify_sms": "maybe"},
])
def test_signup_garbage_never_500(client, junk):
    resp = client.post("/account/signup", data=signup_form(**junk))
    assert resp.status_code in (302, 400)


def test_signup_empty_post_lists_every_missing_field(client):
    resp = client.post("/account/signup?lang=en", data={})
    html = page_text(resp)
    assert resp.status_code == 400
    for field in ("name", "national_id", "birth_date", "phone", "email", "password", "confirm", "consent"):
        assert f'href="#{field}"' in html


# ------------------------------------------------------------------ verification

def _signed_up(client, db, **over):
    form = signup_form(**over)
    assert client.post("/account/signup", data=form).status_code == 302
    return db.session.execute(select(Citizen).where(Citizen.email == form["email"])).scalar_one()


def test_sms_code_confirms_the_phone(client, db):
    citizen = _signed_up(client, db)
    code = otp_from_outbox(db, citizen.id)
    resp = client.post("/account/verify", data={"code": code})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Citizen, citizen.id).phone_verified_at is not None


@pytest.mark.parametrize("lang,message", [("en", "The code is wrong or has expired. Ask for a new one."),
                                          ("zh_Hant_TW", "驗證碼錯誤或已過期，請重新索取。")])
def test_wrong_sms_code_is_400(client, db, lang, message):
    citizen = _signed_up(client, db)
    code = otp_from_outbox(db, citizen.id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    resp = client.post(f"/account/verify?lang={lang}", data={"code": wrong})
    assert resp.status_code == 400 and message in page_text(resp)
    assert 'id="code-error"' in page_text(resp)
    db.session.expire_all()
    assert db.session.get(Citizen, citizen.id).phone_verified_at is None
    row = db.session.execute(select(OneTimeCode).where(OneTimeCode.citizen_id == citizen.id,
                                                       OneTimeCode.purpose == "sms")).scalar_one()
    assert row.attempts == 1


def test_expired_sms_code_is_400(client, db):
    citizen = _signed_up(client, db)
    code = otp_from_outbox(db, citizen.id)
    clock.freeze(clock.now() + accounts.OTP_TTL + dt.timedelta(seconds=1))
    resp = client.post("/account/verify?lang=en", data={"code": code})
    assert resp.status_code == 400
    assert "The code is wrong or has expired. Ask for a new one." in page_text(resp)
    db.session.expire_all()
    assert db.session.get(Citizen, citizen.id).phone_verified_at is None


def test_sms_code_locks_after_too_many_wrong_tries(client, db):
    citizen = _signed_up(client, db)
    code = otp_from_outbox(db, citizen.id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(accounts.OTP_MAX_ATTEMPTS):
        assert client.post("/account/verify", data={"code": wrong}).status_code == 400
    assert client.post("/account/verify", data={"code": code}).status_code == 400


def test_verify_needs_a_login(client):
    resp = client.post("/account/verify", data={"code": "123456"})
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def test_resend_has_a_cooldown(client, db):
    citizen = _signed_up(client, db)
    first = otp_from_outbox(db, citizen.id)
    resp = client.post("/account/verify/resend-sms?lang=en")
    assert resp.status_code == 429 and "Please wait" in page_text(resp)
    clock.freeze(clock.now() + dt.timedelta(seconds=61))
    assert client.post("/account/verify/resend-sms").status_code == 302
    second = otp_from_outbox(db, citizen.id)
    count = db.session.execute(select(Notification.id).where(
        Notification.citizen_id == citizen.id, Notification.event == "verify_sms")).all()
    assert len(count) == 2
    # only the newest code works
    if first != second:
        assert client.post("/account/verify", data={"code": first}).status_code == 400
    assert client.post("/account/verify", data={"code": second}).status_code == 302


def test_email_link_confirms_once(client, db):
    citizen = _signed_up(client, db)
    path = link_from_outbox(db, citizen.id, "verify_email")
    anonymous = new_client(client.application)  # the link works in any browser
    resp = anonymous.get(path)
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.get(Citizen, citizen.id).email_verified_at is not None
    again = anonymous.get(path + "?lang=en")
    assert again.status_code == 400
    assert "The link is wrong or has expired. Ask for a new one." in page_text(again)
    assert anonymous.get("/account/verify-email/forged-token").status_code == 400


# ------------------------------------------------------------------ log-in and out

def test_login_wrong_password_is_refused_with_translated_message(client, make):
    citizen = make.citizen(email="login@example.tw")
    make.commit()
    resp = log_in(client, "login@example.tw", "Wrong-pass-2026", query_string={"lang": "en"})
    assert resp.status_code == 401 and "The e-mail or password is wrong." in page_text(resp)
    resp = log_in(client, "login@example.tw", "Wrong-pass-2026")
    assert resp.status_code == 401 and "電子郵件或密碼錯誤。" in page_text(resp)
    resp = log_in(client, "nobody@example.tw", "Wrong-pass-2026", query_string={"lang": "en"})
    assert resp.status_code == 401 and "The e-mail or password is wrong." in page_text(resp)
    assert client.get("/account/profile").status_code == 302
    assert citizen.id


def test_login_empty_form_is_400(client):
    resp = client.post("/account/login?lang=en", data={})
    assert resp.status_code == 400 and "Enter your e-mail address." in page_text(resp)


def test_lockout_after_repeated_failures_then_429(client, make, app, db):
    citizen = make.citizen(email="lock@example.tw")
    make.commit()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert log_in(client, "lock@example.tw", "Wrong-pass-2026").status_code == 401
    resp = log_in(client, "lock@example.tw", PASSWORD, query_string={"lang": "en"})
    assert resp.status_code == 429
    assert "Too many failed attempts. The account is locked until" in page_text(resp)
    resp = log_in(client, "lock@example.tw", PASSWORD)
    assert resp.status_code == 429 and "嘗試失敗次數過多，帳號已鎖定至" in page_text(resp)
    assert client.get("/account/profile").status_code == 302
    clock.freeze(clock.now() + dt.timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"], seconds=1))
    assert log_in(client, "lock@example.tw", PASSWORD).status_code == 302
    assert citizen.id


def test_login_rotates_the_session_and_the_old_cookie_is_useless(client, make, app):
    make.citizen(email="rotate@example.tw")
    make.commit()
    client.get("/language/en")  # an anonymous session exists
    before = client.get_cookie("session").value
    assert log_in(client, "rotate@example.tw").status_code == 302
    after = client.get_cookie("session").value
    assert after != before
    assert client.get("/account/profile").status_code == 200
    # Someone holding the pre-login cookie is not logged in.
    attacker = new_client(app)
    attacker.set_cookie("session", before)
    resp = attacker.get("/account/profile")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def test_logout_ends_the_session_and_a_copied_cookie(client, make, app):
    make.citizen(email="bye@example.tw")
    make.commit()
    log_in(client, "bye@example.tw")
    copied = client.get_cookie("session").value
    assert client.get("/account/logout").status_code == 405  # only POST
    resp = client.post("/account/logout")
    assert resp.status_code == 302
    assert client.get("/account/profile").status_code == 302
    replay = new_client(app)
    replay.set_cookie("session", copied)
    assert replay.get("/account/profile").status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/courses/DD115A001", "/courses/DD115A001"),
    ("/account/learners?x=1", "/account/learners?x=1"),
    ("//evil.example/steal", "/account/profile"),
    ("https://evil.example/", "/account/profile"),
    ("/\\evil.example", "/account/profile"),
    ("javascript:alert(1)", "/account/profile"),
])
def test_login_redirects_only_to_a_safe_relative_next(client, make, target, expected):
    email = f"next{abs(hash(target)) % 10**6}@example.tw"
    make.citizen(email=email)
    make.commit()
    resp = client.post("/account/login", query_string={"next": target},
                       data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302
    assert resp.headers["Location"] == expected


def test_pages_needing_login_send_back_after_login(client, make):
    make.citizen(email="back@example.tw")
    make.commit()
    resp = client.get("/account/learners")
    assert resp.status_code == 302
    login_url = resp.headers["Location"]
    assert "next=" in login_url
    resp = client.post(login_url, data={"email": "back@example.tw", "password": PASSWORD})
    assert resp.headers["Location"] == "/account/learners"


# ------------------------------------------------------------------ passwords

def test_password_reset_end_to_end(client, make, db, app):
    citizen = make.citizen(email="forgot@example.tw")
    make.commit()
    other_device = new_client(app)
    log_in(other_device, "forgot@example.tw")
    assert other_device.get("/account/profile").status_code == 200

    known = client.post("/account/password/forgot?lang=en", data={"email": "Forgot@example.tw"})
    unknown = client.post("/account/password/forgot?lang=en", data={"email": "ghost@example.tw"})
    assert known.status_code == unknown.status_code == 200
    assert page_text(known) == page_text(unknown)  # the same answer either way
    sent = db.session.execute(select(Notification).where(Notification.event == "password_reset")).scalars().all()
    assert [(n.citizen_id, n.channel, n.recipient) for n in sent] == [(citizen.id, "email", "forgot@example.tw")]

    path = link_from_outbox(db, citizen.id, "password_reset")
    assert client.get(path).status_code == 200
    weak = client.post(path + "?lang=en", data={"password": "weak", "confirm": "weak"})
    assert weak.status_code == 400 and "The password must have at least 10 characters." in page_text(weak)
    assert client.post(path, data={"password": NEW_PASSWORD, "confirm": "different-1234"}).status_code == 400
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/account/login")

    assert log_in(client, "forgot@example.tw", PASSWORD).status_code == 401
    assert log_in(client, "forgot@example.tw", NEW_PASSWORD).status_code == 302
    # the link is used up, and other sessions ended
    reuse = client.post(path + "?lang=en", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert reuse.status_code == 400
    assert "The link is wrong or has expired. Ask for a new one." in page_text(reuse)
    assert other_device.get("/account/profile").status_code == 302


def test_reset_link_expires(client, make, db):
    citizen = make.citizen(email="late@example.tw")
    make.commit()
    client.post("/account/password/forgot", data={"email": "late@example.tw"})
    path = link_from_outbox(db, citizen.id, "password_reset")
    clock.freeze(clock.now() + accounts.RESET_TTL + dt.timedelta(seconds=1))
    assert client.get(path).status_code == 400
    assert client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 400


def test_change_password_needs_the_old_one_and_ends_other_sessions(client, make, app):
    make.citizen(email="change@example.tw")
    make.commit()
    other = new_client(app)
    log_in(other, "change@example.tw")
    log_in(client, "change@example.tw")
    wrong = client.post("/account/password?lang=en", data={
        "old_password": "Not-my-pass-1", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert wrong.status_code == 400 and "The password is wrong." in page_text(wrong)
    assert 'id="old_password-error"' in page_text(wrong)
    weak = client.post("/account/password?lang=en", data={
        "old_password": PASSWORD, "password": "abc", "confirm": "abc"})
    assert weak.status_code == 400 and 'id="password-error"' in page_text(weak)
    ok = client.post("/account/password", data={
        "old_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert ok.status_code == 302
    assert client.get("/account/profile").status_code == 200  # this session goes on
    assert other.get("/account/profile").status_code == 302  # the other one ended


# ------------------------------------------------------------------ profile and learners

def test_profile_edits_preferences_and_reverifies_a_new_email(client, make, db):
    citizen = make.citizen(email="me@example.tw")
    citizen.email_verified_at = clock.now()
    make.commit()
    log_in(client, "me@example.tw")
    page = page_text(client.get("/account/profile"))
    assert "me@example.tw" in page and "****" in page  # the ID only masked
    assert accounts.cipher().decrypt(citizen.national_id_enc) not in page

    resp = client.post("/account/profile", data={"phone": citizen.phone, "email": "me@example.tw",
                                                  "notify_sms": "y", "locale": "en"})
    assert resp.status_code == 302
    db.session.expire_all()
    c = db.session.get(Citizen, citizen.id)
    assert (c.notify_email, c.notify_sms, c.locale) == (False, True, "en")

    no_pw = client.post("/account/profile", data={"phone": c.phone, "email": "new@example.tw",
                                                  "notify_email": "y", "locale": "en"})
    assert no_pw.status_code == 400
    assert "Enter your current password to change the phone or e-mail." in page_text(no_pw)
    ok = client.post("/account/profile", data={"phone": c.phone, "email": "new@example.tw",
                                               "notify_email": "y", "locale": "en",
                                               "current_password": PASSWORD})
    assert ok.status_code == 302
    db.session.expire_all()
    c = db.session.get(Citizen, citizen.id)
    assert c.email == "new@example.tw" and c.email_verified_at is None
    last = db.session.execute(select(Notification).where(Notification.event == "verify_email")
                              .order_by(Notification.id.desc())).scalars().first()
    assert last.recipient == "new@example.tw"


def test_profile_refuses_a_taken_email_and_bad_phone(client, make):
    make.citizen(email="first@example.tw")
    me = make.citizen(email="second@example.tw")
    make.commit()
    log_in(client, "second@example.tw")
    taken = client.post("/account/profile?lang=en", data={
        "phone": me.phone, "email": "first@example.tw", "locale": "en", "current_password": PASSWORD})
    assert taken.status_code == 400 and "An account with this e-mail already exists." in page_text(taken)
    bad = client.post("/account/profile?lang=en", data={
        "phone": "555", "email": "second@example.tw", "locale": "en", "current_password": PASSWORD})
    assert bad.status_code == 400 and "Enter a mobile number like 0912345678." in page_text(bad)


def test_family_learners(client, make, db):
    citizen = make.citizen(email="parent@example.tw")
    make.commit()
    log_in(client, "parent@example.tw")
    resp = client.post("/account/learners", data={"name": "王小華", "birth_date": "2016-09-01",
                                                  "relation": "child", "national_id": ""})
    assert resp.status_code == 302
    page = page_text(client.get("/account/learners"))
    assert "王小華" in page and "王小明" in page
    bad_id = client.post("/account/learners?lang=en", data={
        "name": "王小美", "birth_date": "2018-01-01", "relation": "child", "national_id": "A123456788"})
    assert bad_id.status_code == 400
    assert "That national ID or resident certificate number is not valid." in page_text(bad_id)
    assert 'value="王小美"' in page_text(bad_id)
    for bad in ({"birth_date": "2018-02-30"}, {"relation": "boss"}, {"name": ""}):
        form = {"name": "王小美", "birth_date": "2018-01-01", "relation": "child", **bad}
        assert client.post("/account/learners", data=form).status_code == 400
    rows = db.session.execute(select(Learner.relation).where(Learner.citizen_id == citizen.id)
                              .order_by(Learner.id)).scalars().all()
    assert rows == ["self", "child"]
