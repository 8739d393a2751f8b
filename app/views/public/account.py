"""Citizen accounts on the public site (研習之友): sign-up, verification, log-in and out,
passwords, profile, family learners and identity claims.

Thin views: parse the form, call ``app.services.accounts`` / ``identity_claims``, render.
A ``FieldError`` from a service is shown on its field; every bad input is answered 400
with the form filled in again (passwords excepted), never 500.

Rate limits use the Flask-Limiter instance Flask-AppBuilder already created
(``app.appbuilder.sm.limiter``), applied to this blueprint when it is registered, the way
FAB limits its own log-in view; see :data:`RATE_LIMITS`.  A breach raises Flask-Limiter's
``RateLimitExceeded`` (a 429 HTTPException), answered by the app's translated error page.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, redirect, render_template, request,
                   send_file, session, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.fields import EmailField, TelField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError
from wtforms.widgets import DateInput

from ...extensions import db
from ...models import Citizen, OneTimeCode, Venue
from ...services import accounts, audit, clock, identity_claims, privacy
from ...services.accounts import FieldError
from ...services.errors import DomainError
from ...services.identities import NEEDS_PROOF, label as identity_label
from ...services.notify import notify
from .auth import SESSION_KEY, log_in, log_out, request_actor, require_citizen

bp = Blueprint("account", __name__, url_prefix="/account")

LANGUAGES = (("zh_Hant_TW", "繁體中文"), ("en", "English"))
_LANGUAGE_TAGS = {"zh_Hant_TW": "zh-Hant-TW", "en": "en"}  # each name is read in its own language
RELATIONS = (("child", _l("Child")), ("family", _l("Other family member")))
RESEND_COOLDOWN = dt.timedelta(seconds=60)


# ---------------------------------------------------------------- rate limits

@dataclass(frozen=True)
class RateLimit:
    config_key: str  # app.config key that overrides ``default``
    default: str  # Flask-Limiter notation
    keys: tuple[str, ...]  # counted per "ip", per "email" (the form's) and/or per "citizen"


#: POST limits per endpoint; each listed key has its own counter.
RATE_LIMITS: dict[str, RateLimit] = {
    "account.login": RateLimit("ACCOUNT_LOGIN_RATE_LIMIT", "10 per 5 minute", ("ip", "email")),
    "account.verify": RateLimit("ACCOUNT_OTP_RATE_LIMIT", "10 per 5 minute", ("ip", "citizen")),
    "account.resend_sms": RateLimit("ACCOUNT_RESEND_RATE_LIMIT", "5 per hour", ("ip", "citizen")),
    "account.resend_email": RateLimit("ACCOUNT_RESEND_RATE_LIMIT", "5 per hour", ("ip", "citizen")),
    "account.signup": RateLimit("ACCOUNT_SIGNUP_RATE_LIMIT", "20 per hour", ("ip",)),
    "account.forgot_password": RateLimit("ACCOUNT_FORGOT_RATE_LIMIT", "5 per 15 minute", ("ip", "email")),
    "account.reset_password": RateLimit("ACCOUNT_RESET_RATE_LIMIT", "10 per 5 minute", ("ip",)),
    "account.change_password": RateLimit("ACCOUNT_PASSWORD_RATE_LIMIT", "10 per 5 minute", ("ip", "citizen")),
    "account.profile": RateLimit("ACCOUNT_PASSWORD_RATE_LIMIT", "10 per 5 minute", ("ip", "citizen")),
}
_UNLIMITED = "1000000 per day"  # never reached: routes without an entry are exempt anyway


def _email_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return "email:" + hashlib.sha256(email.encode()).hexdigest()[:32]  # no address in the store


def _citizen_key() -> str:
    return f"citizen:{session.get(SESSION_KEY) or get_remote_address()}"


_KEY_FUNCS = {"ip": get_remote_address, "email": _email_key, "citizen": _citizen_key}


def _limit_value() -> str:
    spec = RATE_LIMITS.get(request.endpoint or "")
    return current_app.config.get(spec.config_key, spec.default) if spec else _UNLIMITED


def _exempt_unless(kind: str):
    def exempt() -> bool:
        spec = RATE_LIMITS.get(request.endpoint or "")
        return spec is None or kind not in spec.keys
    return exempt


@bp.record_once
def _apply_rate_limits(state) -> None:
    """Attach the limits to this blueprint on FAB's limiter of the app being set up."""
    limiter = state.app.appbuilder.sm.limiter
    for kind, key_func in _KEY_FUNCS.items():
        limiter.limit(_limit_value, key_func=key_func, scope=kind, methods=["POST"],
                      exempt_when=_exempt_unless(kind))(bp)


# ---------------------------------------------------------------- form helpers

def _service_rule(check):
    """A WTForms validator from a service check that raises FieldError."""
    def validator(form, field):
        try:
            check(form, field.data)
        except FieldError as exc:
            raise ValidationError(str(exc)) from None
    return validator


def _check_id(form, value):
    accounts.validate_national_id(value)


def _check_birth_date(form, value):
    accounts.parse_birth_date(value)


def _check_signup_password(form, value):
    nid = privacy.normalize_national_id(form.national_id.data or "")
    accounts.check_password_strength(value, email=form.email.data or "", national_id=nid)


def _options(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _one_of(pairs, message):
    """The submitted value must be one of ``pairs`` (our own message, not WTForms')."""
    allowed = {str(value) for value, _label in pairs}

    def validator(form, field):
        if str(field.data or "") not in allowed:
            raise ValidationError(message)
    return validator


def _show_error(form, exc: FieldError) -> None:
    """Put a service's FieldError on its field (or at the top of the form)."""
    field = getattr(form, exc.field, None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, str(exc)]
    else:
        form.form_errors.append(str(exc))


def _safe_next(target: str | None) -> str | None:
    """Only a relative path on this site (no scheme, host or protocol-relative URL)."""
    if not target or any(c in target for c in "\r\n\t\\"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target.rstrip("?") or None


def _absolute(endpoint: str, **values) -> str:
    """An absolute link for messages, on the configured public address (never the Host
    header of the request, which a client controls)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def _locale_choices():
    return [SelectChoice(value, label, render_kw={"lang": _LANGUAGE_TAGS[value]})
            for value, label in LANGUAGES]


# ---------------------------------------------------------------- forms

class SignUpForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[
        InputRequired(_l("Enter your name.")),
        Length(max=64, message=_l("Enter your name (at most 64 characters)."))])
    national_id = StringField(_l("National ID or resident certificate number"), validators=[
        InputRequired(_l("Enter your national ID or resident certificate number.")),
        _service_rule(_check_id)])
    birth_date = StringField(_l("Birth date"), widget=DateInput(), validators=[
        InputRequired(_l("Enter your birth date.")), _service_rule(_check_birth_date)])
    phone = TelField(_l("Mobile phone"), validators=[InputRequired(_l("Enter your mobile number."))])
    email = EmailField(_l("E-mail"), validators=[InputRequired(_l("Enter your e-mail address."))])
    password = PasswordField(_l("Password"), validators=[
        InputRequired(_l("Choose a password.")), _service_rule(_check_signup_password)])
    confirm = PasswordField(_l("Password again"), validators=[
        InputRequired(_l("Enter the password again.")),
        EqualTo("password", message=_l("The two passwords do not match."))])
    notify_email = BooleanField(_l("E-mail"), default=True)
    notify_sms = BooleanField(_l("SMS"), default=True)
    locale = SelectField(_l("Language"), choices=_locale_choices, validate_choice=False,
                         validators=[_one_of(LANGUAGES, _l("Choose a language from the list."))])
    consent = BooleanField(_l("I agree that my personal data is used to manage my registrations, as described in the privacy notice."),
                           validators=[DataRequired(_l("You must agree to the privacy notice to create an account."))])


class CodeForm(FlaskForm):
    code = StringField(_l("Code from the SMS"), validators=[
        InputRequired(_l("Enter the 6-digit code from the SMS."))])


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(_l("Enter your e-mail address."))])
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Enter your password."))])


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(_l("Enter your e-mail address."))])


class ResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(_l("Choose a password."))])
    confirm = PasswordField(_l("New password again"), validators=[
        InputRequired(_l("Enter the password again.")),
        EqualTo("password", message=_l("The two passwords do not match."))])


class ChangePasswordForm(FlaskForm):
    old_password = PasswordField(_l("Current password"), validators=[
        InputRequired(_l("Enter your current password."))])
    password = PasswordField(_l("New password"), validators=[InputRequired(_l("Choose a password."))])
    confirm = PasswordField(_l("New password again"), validators=[
        InputRequired(_l("Enter the password again.")),
        EqualTo("password", message=_l("The two passwords do not match."))])


class ProfileForm(FlaskForm):
    phone = TelField(_l("Mobile phone"), validators=[InputRequired(_l("Enter your mobile number."))])
    email = EmailField(_l("E-mail"), validators=[InputRequired(_l("Enter your e-mail address."))])
    notify_email = BooleanField(_l("E-mail"))
    notify_sms = BooleanField(_l("SMS"))
    locale = SelectField(_l("Language"), choices=_locale_choices, validate_choice=False,
                         validators=[_one_of(LANGUAGES, _l("Choose a language from the list."))])
    current_password = PasswordField(_l("Current password (needed to change the phone or e-mail)"))


class LearnerForm(FlaskForm):
    name = StringField(_l("Learner's full name"), validators=[
        InputRequired(_l("Enter the learner's name.")),
        Length(max=64, message=_l("Enter the learner's name (at most 64 characters)."))])
    birth_date = StringField(_l("Birth date"), widget=DateInput(), validators=[
        InputRequired(_l("Enter the learner's birth date.")), _service_rule(_check_birth_date)])
    relation = SelectField(_l("Relation to you"), choices=lambda: _options(RELATIONS), validate_choice=False,
                           validators=[_one_of(RELATIONS, _l("Choose how the learner is related to you."))])
    national_id = StringField(_l("National ID (optional)"))

    def validate_national_id(self, field):
        if (field.data or "").strip():
            _service_rule(_check_id)(self, field)


def _venue_choices():
    venues = db.session.execute(select(Venue).order_by(Venue.id)).scalars()
    english = _is_english()
    return _options([("", _("Choose a venue"))] + [(str(v.id), v.name_en if english else v.name) for v in venues])


def _identity_choices():
    return _options([("", _("Choose an identity"))] + sorted(
        ((key, identity_label(key)) for key in NEEDS_PROOF), key=lambda kv: kv[0]))


def _is_english() -> bool:
    from ... import select_locale

    return select_locale() == "en"


class ClaimForm(FlaskForm):
    venue = SelectField(_l("Venue"), validate_choice=False,
                        validators=[InputRequired(_l("Choose the venue where the identity should count."))])
    identity = SelectField(_l("Identity"), validate_choice=False,
                           validators=[InputRequired(_l("Choose an identity from the list."))])
    learner = SelectField(_l("For whom"), validate_choice=False)
    proof = FileField(_l("Proof document (PDF, JPEG or PNG, at most 5 MB)"))


# ---------------------------------------------------------------- service wrappers
# Steps the accounts service does not have yet (see the report to the lead: these belong in
# app/services/accounts.py).  They change citizen fields only through these functions.

def _send_email_link(citizen: Citizen) -> None:
    token = accounts.issue_code(db.session, citizen, "email")
    notify(db.session, "verify_email", citizen=citizen, key=secrets.token_hex(8), channels=["email"],
           link=_absolute("account.verify_email", token=token))


def _send_sms_code(citizen: Citizen) -> None:
    code = accounts.issue_code(db.session, citizen, "sms")
    notify(db.session, "verify_sms", citizen=citizen, key=secrets.token_hex(8), channels=["sms"],
           code=code)


def _resend_wait(citizen: Citizen, purpose: str) -> int:
    """Seconds before another code of ``purpose`` may be sent (0: now)."""
    ttl = {"sms": accounts.OTP_TTL, "email": accounts.EMAIL_TOKEN_TTL}[purpose]
    last = db.session.execute(select(OneTimeCode.expires_at).where(
        OneTimeCode.citizen_id == citizen.id, OneTimeCode.purpose == purpose)
        .order_by(OneTimeCode.id.desc()).limit(1)).scalar()
    if last is None:
        return 0
    remaining = (last - ttl + RESEND_COOLDOWN) - clock.now()
    return max(0, int(remaining.total_seconds()) + (1 if remaining.microseconds else 0))


def _confirm_phone(citizen: Citizen, code: str) -> None:
    accounts.check_code(db.session, citizen, "sms", code)
    citizen.phone_verified_at = clock.now()
    audit.record(db.session, "citizen_phone_verified", request_actor(), target=f"citizen:{citizen.id}")


def _confirm_email(token: str) -> Citizen:
    citizen = accounts.find_by_token(db.session, "email", token)
    citizen.email_verified_at = clock.now()
    audit.record(db.session, "citizen_email_verified", request_actor(), target=f"citizen:{citizen.id}")
    return citizen


def _end_sessions(citizen: Citizen) -> None:
    """Log-out ends every session of the account: a copied session cookie stops working."""
    citizen.session_version += 1
    audit.record(db.session, "citizen_logout", request_actor(), target=f"citizen:{citizen.id}")


def _update_profile(citizen: Citizen, form: ProfileForm) -> list[str]:
    """Apply the profile form; returns the changed field names.  A changed phone or
    e-mail needs the current password and is verified again."""
    phone = re.sub(r"[\s-]", "", form.phone.data or "")
    email = (form.email.data or "").strip().lower()
    if phone != citizen.phone and not accounts.PHONE_RE.match(phone):
        raise FieldError("phone", _l("Enter a mobile number like 0912345678."))
    if email != citizen.email and (not accounts.EMAIL_RE.match(email) or len(email) > 254):
        raise FieldError("email", _l("Enter a valid e-mail address."))
    if phone != citizen.phone or email != citizen.email:
        if not form.current_password.data:
            raise FieldError("current_password", _l("Enter your current password to change the phone or e-mail."))
        try:
            accounts.verify_password(citizen, form.current_password.data)
        except FieldError as exc:
            raise FieldError("current_password", exc.message) from None
    if email != citizen.email and db.session.execute(
            select(Citizen.id).where(Citizen.email == email, Citizen.id != citizen.id)).first():
        raise FieldError("email", _l("An account with this e-mail already exists."))
    changed = []
    if email != citizen.email:
        citizen.email, citizen.email_verified_at = email, None
        changed.append("email")
    if phone != citizen.phone:
        citizen.phone, citizen.phone_verified_at = phone, None
        changed.append("phone")
    for name, value in (("notify_email", bool(form.notify_email.data)),
                        ("notify_sms", bool(form.notify_sms.data)), ("locale", form.locale.data)):
        if getattr(citizen, name) != value:
            setattr(citizen, name, value)
            changed.append(name)
    if changed:
        try:
            db.session.flush()
        except IntegrityError:  # the same address taken at the same moment
            db.session.rollback()
            raise FieldError("email", _l("An account with this e-mail already exists.")) from None
        audit.record(db.session, "citizen_profile_update", request_actor(),
                     target=f"citizen:{citizen.id}", detail={"changed": changed})
    if "email" in changed:
        _send_email_link(citizen)
    if "phone" in changed:
        _send_sms_code(citizen)
    return changed


# ---------------------------------------------------------------- sign-up and verification

@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if getattr(g, "citizen", None) is not None:
        return redirect(url_for("account.profile"))
    from ... import select_locale

    form = SignUpForm()
    if request.method == "GET":
        form.locale.data = select_locale()
    if form.validate_on_submit():
        data = accounts.SignUp(
            name=form.name.data, national_id=form.national_id.data,
            birth_date=form.birth_date.data, phone=form.phone.data, email=form.email.data,
            password=form.password.data, locale=form.locale.data,
            notify_email=form.notify_email.data, notify_sms=form.notify_sms.data)
        try:
            citizen = accounts.sign_up(db.session, data, request_actor())
            _send_email_link(citizen)
            _send_sms_code(citizen)
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            log_in(citizen)
            session["locale"] = citizen.locale
            flash(_("Your account was created. We sent a link to your e-mail and a code to your phone."),
                  "success")
            return redirect(url_for("account.verify"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/signup.html", form=form), status


@bp.route("/verify", methods=["GET", "POST"])
@require_citizen
def verify():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            _confirm_phone(g.citizen, form.code.data)
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Your mobile number is confirmed."), "success")
            return redirect(url_for("account.verify"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/verify.html", form=form, citizen=g.citizen), status


def _resend(purpose: str):
    citizen = g.citizen
    wait = _resend_wait(citizen, purpose)
    if wait:
        flash(_("Please wait %(seconds)s seconds before asking for a new code.", seconds=wait), "error")
        return render_template("public/account/verify.html", form=CodeForm(formdata=None),
                               citizen=citizen), 429
    if purpose == "sms":
        _send_sms_code(citizen)
        message = _("We sent a new code to %(phone)s.", phone=citizen.phone)
    else:
        _send_email_link(citizen)
        message = _("We sent a new link to %(email)s.", email=citizen.email)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("account.verify"))


@bp.route("/verify/resend-sms", methods=["POST"])
@require_citizen
def resend_sms():
    return _resend("sms")


@bp.route("/verify/resend-email", methods=["POST"])
@require_citizen
def resend_email():
    return _resend("email")


@bp.route("/verify-email/<token>")
def verify_email(token: str):
    try:
        _confirm_email(token)
        db.session.commit()
    except FieldError as exc:
        db.session.rollback()
        return render_template("public/account/message.html", title=_("Confirm your e-mail address"),
                               message=str(exc), failed=True), 400
    return render_template("public/account/message.html", title=_("Confirm your e-mail address"),
                           message=_("Your e-mail address is confirmed. Thank you."), failed=False)


# ---------------------------------------------------------------- log-in and out

@bp.route("/login", methods=["GET", "POST"])
def login():
    target = _safe_next(request.values.get("next"))
    if getattr(g, "citizen", None) is not None and request.method == "GET":
        return redirect(target or url_for("account.profile"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            citizen = accounts.authenticate(db.session, form.email.data, form.password.data,
                                            request_actor())
            db.session.commit()
        except DomainError as exc:  # wrong e-mail or password (401), locked (429)
            db.session.rollback()
            form.form_errors.append(str(exc))
            status = exc.status
        else:
            log_in(citizen)
            session.setdefault("locale", citizen.locale)
            return redirect(target or url_for("account.profile"))
    elif request.method == "POST":
        status = 400
    return render_template("public/account/login.html", form=form, next=target), status


@bp.route("/logout", methods=["POST"])
def logout():
    if getattr(g, "citizen", None) is not None:
        _end_sessions(g.citizen)
        db.session.commit()
    log_out()
    flash(_("You are logged out."), "success")
    return redirect(url_for("public.index"))


# ---------------------------------------------------------------- passwords

@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        citizen = db.session.execute(select(Citizen).where(Citizen.email == email)).scalar_one_or_none()
        if citizen is not None:
            token = accounts.issue_code(db.session, citizen, "reset")
            notify(db.session, "password_reset", citizen=citizen, key=secrets.token_hex(8),
                   channels=["email"], link=_absolute("account.reset_password", token=token))
            audit.record(db.session, "citizen_password_reset_requested", request_actor(),
                         target=f"citizen:{citizen.id}")
            db.session.commit()
        # The same answer whether or not the address has an account.
        return render_template("public/account/message.html", title=_("Reset your password"),
                               message=_("If an account uses this e-mail address, we sent it a link to choose a new password. The link works for one hour."),
                               failed=False)
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/forgot.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetForm()
    if request.method == "GET":
        try:  # show a dead link at once; nothing is used up by looking
            accounts.find_by_token(db.session, "reset", token)
        except FieldError as exc:
            db.session.rollback()
            return _dead_reset_link(str(exc))
        db.session.rollback()
    elif form.validate_on_submit():
        try:
            accounts.reset_password(db.session, token, form.password.data, request_actor())
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            if exc.field == "code":
                return _dead_reset_link(str(exc))
            _show_error(form, exc)
        else:
            flash(_("Your password was changed. Log in with the new password."), "success")
            return redirect(url_for("account.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/reset.html", form=form, token=token), status


def _dead_reset_link(message: str):
    return render_template("public/account/message.html", title=_("Reset your password"),
                           message=message, failed=True,
                           link=(url_for("account.forgot_password"), _("Ask for a new link"))), 400


@bp.route("/password", methods=["GET", "POST"])
@require_citizen
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        citizen = g.citizen
        try:
            try:
                accounts.verify_password(citizen, form.old_password.data)
            except FieldError as exc:
                raise FieldError("old_password", exc.message) from None
            accounts.change_password(db.session, citizen, form.old_password.data,
                                     form.password.data, request_actor())
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            log_in(citizen)  # this session continues with the new version; others end
            flash(_("Your password was changed. You were logged out on your other devices."), "success")
            return redirect(url_for("account.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/password.html", form=form), status


# ---------------------------------------------------------------- profile and learners

@bp.route("/profile", methods=["GET", "POST"])
@require_citizen
def profile():
    citizen = g.citizen
    form = ProfileForm(obj=citizen) if request.method == "GET" else ProfileForm()
    if form.validate_on_submit():
        try:
            changed = _update_profile(citizen, form)
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            if "locale" in changed:
                session["locale"] = citizen.locale
            if "email" in changed or "phone" in changed:
                flash(_("Your details were saved. Please confirm the new contact details."), "success")
                return redirect(url_for("account.verify"))
            flash(_("Your details were saved."), "success")
            return redirect(url_for("account.profile"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/profile.html", form=form, citizen=citizen,
                           masked_id=_masked_id(citizen)), status


def _masked_id(citizen: Citizen) -> str:
    try:
        return privacy.mask_national_id(accounts.cipher().decrypt(citizen.national_id_enc))
    except ValueError:  # a key rotation in progress must not break the page
        return "—"


def _relation_label(relation: str) -> str:
    return str(dict(RELATIONS).get(relation, _("Yourself") if relation == "self" else relation))


@bp.route("/learners", methods=["GET", "POST"])
@require_citizen
def learners():
    citizen = g.citizen
    form = LearnerForm()
    if form.validate_on_submit():
        try:
            learner = accounts.add_learner(db.session, citizen, form.name.data, form.birth_date.data,
                                           form.relation.data, (form.national_id.data or "").strip())
            audit.record(db.session, "citizen_learner_added", request_actor(),
                         target=f"learner:{learner.id}", detail={"relation": learner.relation})
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("%(name)s was added to your account.", name=learner.name), "success")
            return redirect(url_for("account.learners"))
    status = 400 if request.method == "POST" else 200
    return render_template("public/account/learners.html", form=form, learners=citizen.learners,
                           relation_label=_relation_label), status


# ---------------------------------------------------------------- identity claims

def _learner_choices(citizen):
    return _options((str(l.id), f"{l.name} ({_relation_label(l.relation)})") for l in citizen.learners)


@bp.route("/identities", methods=["GET", "POST"])
@require_citizen
def identities():
    citizen = g.citizen
    form = ClaimForm()
    form.venue.choices = _venue_choices()
    form.identity.choices = _identity_choices()
    form.learner.choices = _learner_choices(citizen)
    if request.method == "GET" and citizen.self_learner is not None:
        form.learner.data = str(citizen.self_learner.id)
    if form.validate_on_submit():
        upload = form.proof.data
        try:
            identity_claims.submit_claim(
                db.session, citizen, venue_id=form.venue.data, identity=form.identity.data,
                learner_id=form.learner.data or None,
                stream=upload.stream if upload else None,
                filename=upload.filename if upload else None, actor=request_actor())
            db.session.commit()
        except FieldError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("Your claim was sent. The venue will check the proof."), "success")
            return redirect(url_for("account.identities"))
    status = 400 if request.method == "POST" else 200
    claims = identity_claims.claims_for_citizen(db.session, citizen)
    return render_template("public/account/identities.html", form=form, claims=claims,
                           identity_label=identity_label,
                           status_label=identity_claims.status_label,
                           proof_type=lambda mime: identity_claims.PROOF_TYPES.get(mime, "")[1:].upper(),
                           venue_name=lambda v: v.name_en if _is_english() else v.name), status


@bp.route("/identities/<int:claim_id>/proof")
@require_citizen
def identity_proof(claim_id: int):
    proof = identity_claims.proof_for_citizen(db.session, g.citizen, claim_id)
    resp = send_file(proof.path, mimetype=proof.mime, as_attachment=True,
                     download_name=proof.name, max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
