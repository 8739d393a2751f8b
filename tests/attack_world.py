"""Shared ground for the attack tests (this module holds no tests itself).

* :func:`attack_app`: a second app on the session's database with some protections
  switched back on (CSRF, rate limits, production settings).
* :class:`World`: two citizens, A with one of every personal thing (registrations in every
  money state, slips, a receipt, a refund, a child learner, an identity claim with its
  proof, notifications, a term to answer the survey of), and B with their own; a bureau
  administrator.
* :func:`fingerprint`: every table's rows as one comparable value, to prove a refused
  request wrote nothing (not only no new rows: no changed row either).
"""
from __future__ import annotations

import contextvars
import io
import re

from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.models import AuditEntry, Learner, Refund
from app.services import identity_claims, reconciliation, refunds
from app.services.audit import Actor
from tests.factories import PASSWORD
from tests.test_payments_helpers import admitted, bank_file, bank_line

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CSRF_MESSAGE = "Your form expired or was not sent from this site. Please reload the page and try again."
#: The blueprints of the citizens' public site (app.web.is_public_endpoint).
PUBLIC_BLUEPRINTS = ("public", "account", "registration", "pages", "payments", "survey")


def attack_app(base, **config):
    """Another app on the session's database and folders, with ``config`` on top."""
    from app import create_app

    settings = {
        "SQLALCHEMY_DATABASE_URI": base.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
        "SERVER_NAME": None, "REDIS_URL": "", "UPLOAD_DIR": base.config["UPLOAD_DIR"],
        "NOTIFY_CONSOLE_FILE": base.config["NOTIFY_CONSOLE_FILE"],
        "RECONCILIATION_INBOX": base.config["RECONCILIATION_INBOX"],
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
    }
    settings.update(config)
    return create_app(settings)


class RequestClient(FlaskClient):
    """Each request in its own context, as in production: nothing in ``g`` or the
    SQLAlchemy session leaks from the test's pushed app context into a request."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def new_client(app) -> RequestClient:
    return RequestClient(app, app.response_class, use_cookies=True)


def csrf_token(html: str) -> str:
    m = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'<input[^>]*value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no csrf_token field on the page"
    return m.group(1)


def citizen_client(app, citizen) -> RequestClient:
    """A client logged in as ``citizen`` (the session the public log-in would set)."""
    client = new_client(app)
    with client.session_transaction() as s:
        s["citizen_id"] = citizen.id
        s["citizen_sv"] = citizen.session_version
    return client


def staff_client(app, username: str) -> RequestClient:
    """A client logged in to the back office through its own log-in form (with the
    form's token, so this works with CSRF protection on)."""
    client = new_client(app)
    page = client.get("/login/").get_data(as_text=True)
    data = {"username": username, "password": PASSWORD}
    if 'name="csrf_token"' in page:
        data["csrf_token"] = csrf_token(page)
    resp = client.post("/login/", data=data)
    assert resp.status_code == 302, resp.status_code
    return client


# ---------------------------------------------------------------- the database

def fingerprint(session, exclude: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Per table: row count and an MD5 of every row's text (PostgreSQL)."""
    from app.extensions import db

    session.expire_all()
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in exclude]
    parts = [f"SELECT '{name}', count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
             f'FROM "{name}" t' for name in tables]
    rows = session.execute(text(" UNION ALL ".join(parts))).all()
    session.commit()
    return {name: (n, digest) for name, n, digest in rows}


def changed(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def audit_events_since(session, last_id: int) -> list[str]:
    session.expire_all()
    return list(session.execute(select(AuditEntry.event).where(AuditEntry.id > last_id)
                                .order_by(AuditEntry.id)).scalars())


def last_audit_id(session) -> int:
    return session.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).scalar() or 0


# ---------------------------------------------------------------- the world

class World:
    """Citizen A with one of everything, citizen B with their own, a bureau admin."""

    def __init__(self, make, db, app):
        s = db.session
        self.db = db
        self.venue = make.venue(code="DD", name="大墩文化中心")
        self.term = make.term(self.venue, code="115S")
        self.a = make.citizen(name="甲先生", email="a@example.tw")
        self.b = make.citizen(name="乙小姐", email="b@example.tw")
        make.commit()
        courses = {key: make.course(self.venue, self.term, title=f"課程{key}")
                   for key in ("admitted", "paid", "refund")}
        self.lottery = make.course(self.venue, self.term, title="抽籤課程", phases=("lottery",))
        self.course = courses["admitted"]

        self.reg_admitted, self.slip_admitted = admitted(make, courses["admitted"], self.a)
        self.reg_paid, self.slip_paid = admitted(make, courses["paid"], self.a)
        self.reg_refund, self.slip_refund = admitted(make, courses["refund"], self.a)
        from app.services import registration

        self.reg_applied = registration.apply(s, self.lottery, self.a, None, Actor())
        make.commit()
        for slip in (self.slip_paid, self.slip_refund):
            reconciliation.import_file(s, bank_file(bank_line(slip)), f"pay-{slip.id}.txt")
        account = refunds.clean_account("004", "0123", "123456789012", "甲先生")
        refunds.request_refund(s, self.reg_refund, self.a, password=PASSWORD, reason="工作調動",
                               account=account, quoted_amount=None, actor=Actor())
        self.refund = s.execute(select(Refund).where(Refund.registration_id == self.reg_refund.id)
                                ).scalar_one()
        self.child = Learner(citizen_id=self.a.id, relation="child", name="甲小弟",
                             birth_date=self.a.birth_date.replace(year=2016))
        s.add(self.child)
        s.flush()
        self.claim = identity_claims.submit_claim(
            s, self.a, venue_id=self.venue.id, identity="low_income", stream=io.BytesIO(PDF),
            filename="proof.pdf", actor=Actor(), learner_id=self.child.id)
        make.commit()

        # B's own things, at another venue and term (so B took no part in A's term).
        other = make.venue(code="HL", name="葫蘆墩文化中心")
        self.b_term = make.term(other, code="115S")
        self.reg_b, self.slip_b = admitted(make, make.course(other, self.b_term), self.b)
        make.commit()
        make.staff("bureau", "Bureau Admin")
        for obj in (self.reg_admitted, self.reg_paid, self.reg_refund, self.reg_applied,
                    self.slip_admitted, self.slip_paid, self.slip_refund, self.claim, self.child,
                    self.a, self.b, self.reg_b):
            s.refresh(obj)
