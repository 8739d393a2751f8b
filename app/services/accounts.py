"""Citizen accounts (研習之友): sign-up, log-in with lockout, verification codes, learners.

One account registers for courses at every venue.  The national ID is checked, stored
encrypted and found again only through a keyed hash (specs/privacy.md).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import Citizen, Learner, OneTimeCode
from . import audit, clock, privacy
from .audit import Actor
from .errors import DomainError

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^09\d{8}$")  # Taiwanese mobile numbers
OTP_TTL = dt.timedelta(minutes=10)
EMAIL_TOKEN_TTL = dt.timedelta(hours=24)
RESET_TTL = dt.timedelta(hours=1)
OTP_MAX_ATTEMPTS = 5


class FieldError(DomainError):
    """A bad value in one form field; ``field`` names it so forms can tie the message to it."""

    status = 400

    def __init__(self, field: str, message, **params):
        super().__init__(message, code=f"invalid_{field}", **params)
        self.field = field


def cipher() -> privacy.DataCipher:
    return privacy.DataCipher(current_app.config["DATA_ENCRYPTION_KEY"])


def id_hash(national_id: str) -> str:
    return privacy.lookup_hash(current_app.config["DATA_LOOKUP_KEY"], national_id)


def check_password_strength(password: str, *, email: str = "", national_id: str = "") -> None:
    if len(password or "") < 10:
        raise FieldError("password", _l("The password must have at least 10 characters."))
    if len(password) > 128:
        raise FieldError("password", _l("The password is too long (at most 128 characters)."))
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise FieldError("password", _l("The password must contain both letters and digits."))
    lowered = password.lower()
    local = (email or "").split("@")[0].lower()
    if (local and len(local) >= 4 and local in lowered) or \
            (national_id and national_id.lower() in lowered):
        raise FieldError("password", _l("The password must not contain your e-mail or ID number."))


def parse_birth_date(value) -> dt.date:
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat((value or "").strip())
        except ValueError:
            raise FieldError("birth_date", _l("Enter the birth date as YYYY-MM-DD (Gregorian)."))
    today = clock.taipei_today()
    if day > today or day.year < 1900:
        raise FieldError("birth_date", _l("The birth date is not plausible."))
    return day


def validate_national_id(value: str) -> str:
    nid = privacy.normalize_national_id(value or "")
    if not privacy.is_valid_national_id(nid):
        raise FieldError("national_id", _l("That national ID or resident certificate number is not valid."))
    return nid


@dataclass
class SignUp:
    name: str
    national_id: str
    birth_date: object
    phone: str
    email: str
    password: str
    locale: str = "zh_Hant_TW"
    notify_email: bool = True
    notify_sms: bool = True


def sign_up(session: Session, form: SignUp, actor: Actor | None = None, *,
            created_by_staff: str | None = None) -> Citizen:
    """Create the account and its own learner record.  Raises FieldError per bad field."""
    name = " ".join((form.name or "").split())
    if not 1 <= len(name) <= 64:
        raise FieldError("name", _l("Enter your name (at most 64 characters)."))
    nid = validate_national_id(form.national_id)
    birth = parse_birth_date(form.birth_date)
    phone = re.sub(r"[\s-]", "", form.phone or "")
    if not PHONE_RE.match(phone):
        raise FieldError("phone", _l("Enter a mobile number like 0912345678."))
    email = (form.email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise FieldError("email", _l("Enter a valid e-mail address."))
    check_password_strength(form.password, email=email, national_id=nid)
    hashed = id_hash(nid)
    if session.execute(select(Citizen.id).where(Citizen.national_id_hash == hashed)).first():
        raise FieldError("national_id", _l("An account with this ID number already exists. Log in or reset your password."))
    if session.execute(select(Citizen.id).where(Citizen.email == email)).first():
        raise FieldError("email", _l("An account with this e-mail already exists."))
    citizen = Citizen(
        name=name, national_id_enc=cipher().encrypt(nid), national_id_hash=hashed,
        birth_date=birth, phone=phone, email=email,
        password_hash=generate_password_hash(form.password),
        locale=form.locale if form.locale in ("zh_Hant_TW", "en") else "zh_Hant_TW",
        notify_email=bool(form.notify_email), notify_sms=bool(form.notify_sms),
        created_by_staff=created_by_staff,
        consent_at=clock.now(),
    )
    session.add(citizen)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise FieldError("national_id", _l("An account with this ID number or e-mail already exists."))
    session.add(Learner(citizen_id=citizen.id, relation="self", name=name, birth_date=birth,
                        national_id_enc=citizen.national_id_enc, national_id_hash=hashed))
    session.flush()
    audit.record(session, "citizen_signup", actor or citizen_actor(citizen),
                 target=f"citizen:{citizen.id}", detail={"counter": bool(created_by_staff)})
    return citizen


def citizen_actor(citizen: Citizen, ip: str = "", user_agent: str = "") -> Actor:
    return Actor(type="citizen", name=f"citizen:{citizen.id}", ip=ip, user_agent=user_agent)


def authenticate(session: Session, email: str, password: str, actor: Actor) -> Citizen:
    """Check the password; lock the account for a while after repeated failures."""
    email = (email or "").strip().lower()
    citizen = session.execute(select(Citizen).where(Citizen.email == email)).scalar_one_or_none()
    now = clock.now()
    generic = DomainError(_l("The e-mail or password is wrong."), code="bad_login")
    generic.status = 401
    if citizen is None:
        check_password_hash(generate_password_hash("x"), password or "")  # same timing
        audit.record(session, "citizen_login_failed", actor, detail={"reason": "unknown e-mail"})
        session.commit()
        raise generic
    if citizen.locked_until and citizen.locked_until > now:
        audit.record(session, "citizen_login_locked", actor, target=f"citizen:{citizen.id}")
        session.commit()
        err = DomainError(_l("Too many failed attempts. The account is locked until %(time)s."),
                          code="locked", time=clock.to_taipei(citizen.locked_until).strftime("%H:%M"))
        err.status = 429
        raise err
    if not check_password_hash(citizen.password_hash, password or ""):
        citizen.failed_logins += 1
        audit.record(session, "citizen_login_failed", actor, target=f"citizen:{citizen.id}",
                     detail={"reason": "wrong password", "failures": citizen.failed_logins})
        if citizen.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
            citizen.locked_until = now + dt.timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
            citizen.failed_logins = 0
            audit.record(session, "citizen_lockout", actor, target=f"citizen:{citizen.id}")
        session.commit()
        raise generic
    citizen.failed_logins = 0
    citizen.locked_until = None
    audit.record(session, "citizen_login", actor, target=f"citizen:{citizen.id}")
    return citizen


def verify_password(citizen: Citizen, password: str) -> None:
    """Re-entry of the password before sensitive steps (withdrawal, refunds)."""
    if not check_password_hash(citizen.password_hash, password or ""):
        raise FieldError("password", _l("The password is wrong."))


def change_password(session: Session, citizen: Citizen, old: str, new: str, actor: Actor) -> None:
    verify_password(citizen, old)
    check_password_strength(new, email=citizen.email)
    citizen.password_hash = generate_password_hash(new)
    citizen.session_version += 1  # every other session ends
    audit.record(session, "citizen_password_change", actor, target=f"citizen:{citizen.id}")


# ---- one-time codes: e-mail verification, SMS OTP, password reset ----

def _code_hash(code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def issue_code(session: Session, citizen: Citizen, purpose: str) -> str:
    """A fresh code (SMS: 6 digits; e-mail and reset: a URL token); older ones stop working."""
    for old in session.execute(select(OneTimeCode).where(
            OneTimeCode.citizen_id == citizen.id, OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None))).scalars():
        old.used_at = clock.now()
    code = f"{secrets.randbelow(10**6):06d}" if purpose == "sms" else secrets.token_urlsafe(24)
    ttl = {"sms": OTP_TTL, "email": EMAIL_TOKEN_TTL, "reset": RESET_TTL}[purpose]
    session.add(OneTimeCode(citizen_id=citizen.id, purpose=purpose, code_hash=_code_hash(code),
                            expires_at=clock.now() + ttl))
    session.flush()
    return code


def check_code(session: Session, citizen: Citizen, purpose: str, code: str) -> None:
    row = session.execute(select(OneTimeCode).where(
        OneTimeCode.citizen_id == citizen.id, OneTimeCode.purpose == purpose,
        OneTimeCode.used_at.is_(None)).order_by(OneTimeCode.id.desc()).with_for_update()
    ).scalars().first()
    bad = FieldError("code", _l("The code is wrong or has expired. Ask for a new one."))
    if row is None or row.expires_at < clock.now() or row.attempts >= OTP_MAX_ATTEMPTS:
        raise bad
    if not hmac.compare_digest(row.code_hash, _code_hash((code or "").strip())):
        row.attempts += 1
        session.commit()
        raise bad
    row.used_at = clock.now()


def _token_row(session: Session, purpose: str, token: str) -> OneTimeCode:
    row = session.execute(select(OneTimeCode).where(
        OneTimeCode.purpose == purpose, OneTimeCode.code_hash == _code_hash(token or ""),
        OneTimeCode.used_at.is_(None))).scalar_one_or_none()
    if row is None or row.expires_at < clock.now():
        raise FieldError("code", _l("The link is wrong or has expired. Ask for a new one."))
    return row


def find_by_token(session: Session, purpose: str, token: str) -> Citizen:
    """The citizen a one-time link belongs to; the link is used up."""
    row = _token_row(session, purpose, token)
    row.used_at = clock.now()
    return session.get(Citizen, row.citizen_id)


def reset_password(session: Session, token: str, new: str, actor: Actor) -> Citizen:
    """A weak new password is refused without using up the link."""
    row = _token_row(session, "reset", token)
    check_password_strength(new, email=session.get(Citizen, row.citizen_id).email)
    citizen = find_by_token(session, "reset", token)
    citizen.password_hash = generate_password_hash(new)
    citizen.session_version += 1
    citizen.failed_logins = 0
    citizen.locked_until = None
    audit.record(session, "citizen_password_reset", actor, target=f"citizen:{citizen.id}")
    return citizen


def add_learner(session: Session, citizen: Citizen, name: str, birth_date, relation: str,
                national_id: str = "") -> Learner:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 64:
        raise FieldError("name", _l("Enter the learner's name (at most 64 characters)."))
    if relation not in ("child", "family"):
        raise FieldError("relation", _l("Choose how the learner is related to you."))
    birth = parse_birth_date(birth_date)
    enc = hashed = None
    if national_id:
        nid = validate_national_id(national_id)
        hashed = id_hash(nid)
        enc = cipher().encrypt(nid)
        taken = session.execute(select(Learner.id).where(
            Learner.national_id_hash == hashed, Learner.citizen_id == citizen.id)).first()
        if taken:
            raise FieldError("national_id", _l("This learner is already on your account."))
    learner = Learner(citizen_id=citizen.id, relation=relation, name=name, birth_date=birth,
                      national_id_enc=enc, national_id_hash=hashed)
    session.add(learner)
    session.flush()
    return learner
