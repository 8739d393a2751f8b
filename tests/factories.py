"""Builders for test data: venues, terms, courses with phases, citizens, staff."""
from __future__ import annotations

import datetime as dt
import itertools

from app.models import Course, DiscountRule, Phase, Term, Venue
from app.services import accounts, clock
from app.services.audit import Actor

_seq = itertools.count(1)
PASSWORD = "Secret-pass-2026"


def national_id(n: int, letter: str = "A", sex: str = "1") -> str:
    """A valid ROC ID number built from a counter (checksum per privacy.md)."""
    table = {"A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34,
             "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25,
             "S": 26, "T": 27, "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33}
    body = sex + f"{n:07d}"[-7:]
    n1, n2 = divmod(table[letter], 10)
    weights = [8, 7, 6, 5, 4, 3, 2, 1]
    total = n1 + n2 * 9 + sum(int(d) * w for d, w in zip(body, weights))
    check = (10 - total % 10) % 10
    return f"{letter}{body}{check}"


class Factory:
    def __init__(self, db, app):
        self.db = db
        self.app = app

    @property
    def session(self):
        return self.db.session

    def venue(self, code="DD", name="大墩文化中心", **kw) -> Venue:
        n = next(_seq)
        v = Venue(code=code, name=name, name_en=kw.pop("name_en", f"Venue {code}"),
                  collection_code=kw.pop("collection_code", f"{90000 + n:05d}"),
                  store_item_code=kw.pop("store_item_code", "TC1"), **kw)
        self.session.add(v)
        self.session.flush()
        return v

    def term(self, venue, code="115S", name="115年春季班", starts=None, **kw) -> Term:
        starts = starts or (clock.taipei_today() + dt.timedelta(days=30))
        t = Term(venue=venue, code=code, name=name, name_en=kw.pop("name_en", "Spring 2026"),
                 starts_on=starts, ends_on=starts + dt.timedelta(weeks=18), **kw)
        self.session.add(t)
        self.session.flush()
        return t

    def course(self, venue, term=None, *, code=None, quota=20, fee=2800, phases=("first_come",),
               opened_hours_ago=1, phase_hours=48, first_date=None, **kw) -> Course:
        term = term or self.term(venue, code=f"T{next(_seq)}")
        code = code or f"{venue.code}115A{next(_seq):03d}"
        first = first_date or term.starts_on
        c = Course(code=code, venue=venue, term=term, title=kw.pop("title", f"水彩入門 {code}"),
                   category=kw.pop("category", "美術"), teacher=kw.pop("teacher", "林老師"),
                   room=kw.pop("room", "301教室"), weekdays=kw.pop("weekdays", "3"),
                   starts_at=kw.pop("starts_at", "09:00"), ends_at=kw.pop("ends_at", "12:00"),
                   first_date=first, last_date=first + dt.timedelta(weeks=17),
                   sessions=kw.pop("sessions", 18), quota=quota, fee=fee, **kw)
        self.session.add(c)
        self.session.flush()
        start = clock.now() - dt.timedelta(hours=opened_hours_ago)
        for i, spec in enumerate(phases, start=1):
            if isinstance(spec, str):
                spec = {"mode": spec}
            opens = spec.pop("opens_at", start + dt.timedelta(hours=phase_hours * (i - 1)))
            closes = spec.pop("closes_at", opens + dt.timedelta(hours=phase_hours))
            self.session.add(Phase(course=c, seq=i, opens_at=opens, closes_at=closes, **spec))
        self.session.flush()
        self.session.refresh(c)
        return c

    def discount(self, venue, identity, percent):
        r = DiscountRule(venue=venue, identity=identity, percent=percent)
        self.session.add(r)
        self.session.flush()
        return r

    def citizen(self, name="王小明", birth=dt.date(1985, 5, 20), **kw):
        n = next(_seq)
        form = accounts.SignUp(name=name, national_id=kw.pop("national_id", national_id(n)),
                               birth_date=birth, phone=kw.pop("phone", f"09{n:08d}"[-10:]),
                               email=kw.pop("email", f"citizen{n}@example.tw"),
                               password=kw.pop("password", PASSWORD), **kw)
        c = accounts.sign_up(self.session, form, Actor(type="system", name="test"))
        self.session.flush()
        return c

    def staff(self, username, role, venue=None):
        from app.services.staff import ensure_staff

        self.session.commit()
        return ensure_staff(self.app.appbuilder.sm, username, role, venue.code if venue else None,
                            PASSWORD, f"{username}@example.tw")

    def commit(self):
        self.session.commit()


def bulk_citizens(session, n: int, *, birth=dt.date(1985, 5, 20), start: int = 500000):
    """Many citizens at once (one password hash, bulk insert) for load and concurrency tests."""
    from werkzeug.security import generate_password_hash

    from app.models import Citizen, Learner

    hashed = generate_password_hash(PASSWORD)
    cipher = accounts.cipher()
    people = []
    for i in range(n):
        nid = national_id(start + i, letter="B")
        people.append(Citizen(name=f"測試{i}", national_id_enc=cipher.encrypt(nid),
                              national_id_hash=accounts.id_hash(nid), birth_date=birth,
                              phone=f"09{start + i:08d}"[-10:], email=f"bulk{start + i}@example.tw",
                              password_hash=hashed))
    session.add_all(people)
    session.flush()
    session.add_all([Learner(citizen_id=c.id, relation="self", name=c.name, birth_date=birth)
                     for c in people])
    session.commit()
    return people
