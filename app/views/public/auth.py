"""Citizen sessions on the public site (separate from back-office staff log-in).

The session stores the citizen id and the account's ``session_version``; changing the
password bumps the version, which ends every other session.  Log-in clears the old
session first, so the session id rotates (no fixation)."""
from __future__ import annotations

from functools import wraps

from flask import g, redirect, request, session, url_for

from ...extensions import db
from ...models import Citizen
from ...services.accounts import citizen_actor
from ...services.audit import Actor

SESSION_KEY = "citizen_id"
VERSION_KEY = "citizen_sv"


def load_citizen() -> None:
    g.citizen = None
    cid = session.get(SESSION_KEY)
    if cid is None:
        return
    citizen = db.session.get(Citizen, cid)
    if citizen is None or citizen.session_version != session.get(VERSION_KEY):
        session.pop(SESSION_KEY, None)
        session.pop(VERSION_KEY, None)
        return
    g.citizen = citizen


def log_in(citizen: Citizen) -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    session[SESSION_KEY] = citizen.id
    session[VERSION_KEY] = citizen.session_version
    session.permanent = True
    g.citizen = citizen


def log_out() -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    g.citizen = None


def request_actor() -> Actor:
    ip = request.remote_addr or ""
    ua = request.headers.get("User-Agent", "")[:256]
    citizen = getattr(g, "citizen", None)
    if citizen is not None:
        return citizen_actor(citizen, ip, ua)
    return Actor(type="anonymous", name="anonymous", ip=ip, user_agent=ua)


def require_citizen(view):
    """Only for a logged-in citizen; others go to the log-in page and come back."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if getattr(g, "citizen", None) is None:
            return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapper


def init_auth(app) -> None:
    app.before_request(load_citizen)
