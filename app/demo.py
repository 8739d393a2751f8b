"""Demo data: the seed's five venues, two terms, 200+ courses in every situation,
staff of every role and a few hundred citizens.  Idempotent: a second run adds nothing.
"""
from __future__ import annotations

import datetime as dt
import random

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from .extensions import db
from .models import Citizen, Course, DiscountRule, Learner, Phase, Registration, Term, Venue
from .services import accounts, clock, draws, registration
from .services.audit import Actor
from .services.errors import DomainError
from .services.staff import ensure_staff

DEMO_PASSWORD = "Demo-pass-2026"
STAFF_PASSWORD = "Staff-pass-2026"

VENUES = [
    # code, name, English, collection code, store item code, address, phone
    ("DD", "大墩文化中心", "Dadun Cultural Center", "98765", "TC1", "臺中市西區英才路600號", "04-2372-7311"),
    ("HL", "葫蘆墩文化中心", "Huludun Cultural Center", "98766", "TC2", "臺中市豐原區圓環東路782號", "04-2526-0136"),
    ("GQ", "港區藝術中心", "Taichung Port Art Center", "98767", "TC3", "臺中市清水區忠貞路21號", "04-2627-4568"),
    ("TQ", "屯區藝文中心", "Tun District Art Center", "98768", "TC4", "臺中市太平區中山路二段248號", "04-2392-1122"),
    ("FC", "纖維工藝展演中心", "Fiber Craft Exhibition Center", "98769", "TC5", "臺中市大里區大新街36號", "04-2486-4133"),
]

COURSES = [
    # title, English title, category, fee, materials
    ("水彩風景畫", "Watercolour landscapes", "美術", 2800, 0),
    ("素描基礎", "Drawing fundamentals", "美術", 2600, 0),
    ("油畫創作", "Oil painting", "美術", 3200, 300),
    ("國畫山水", "Chinese landscape painting", "書畫", 2800, 0),
    ("書法楷書入門", "Regular-script calligraphy", "書畫", 2400, 0),
    ("篆刻藝術", "Seal carving", "書畫", 2600, 400),
    ("兒童豎琴", "Harp for children", "音樂", 3600, 0),
    ("兒童小提琴", "Violin for children", "音樂", 3600, 0),
    ("烏克麗麗彈唱", "Ukulele and singing", "音樂", 2400, 0),
    ("古箏基礎班", "Guzheng for beginners", "音樂", 3000, 0),
    ("合唱團", "Community choir", "音樂", 2000, 0),
    ("現代舞", "Contemporary dance", "舞蹈", 2600, 0),
    ("太極拳養生", "Tai chi for health", "舞蹈", 2000, 0),
    ("社交舞", "Ballroom dance", "舞蹈", 2400, 0),
    ("陶藝拉坯", "Pottery wheel", "工藝", 3400, 600),
    ("藍染工藝", "Indigo dyeing", "工藝", 3000, 500),
    ("編織生活小物", "Weaving everyday things", "工藝", 2800, 400),
    ("拼布入門", "Patchwork", "工藝", 2800, 350),
    ("數位攝影", "Digital photography", "攝影", 2800, 0),
    ("手機攝影與修圖", "Phone photography", "攝影", 2200, 0),
    ("戲劇表演入門", "Acting for beginners", "戲劇", 2600, 0),
    ("布袋戲偶製作", "Glove-puppet making", "戲劇", 3000, 500),
]
TEACHERS = ["林美惠", "陳建宏", "張淑芬", "李志明", "王雅婷", "黃俊傑", "吳佩珊", "劉家豪",
            "蔡宛真", "楊文彬", "許惠玲", "鄭明哲"]
SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周"
GIVEN = ["怡君", "志明", "淑芬", "家豪", "雅婷", "俊傑", "美玲", "建宏", "佩珊", "冠宇",
         "欣怡", "承恩", "宜蓁", "柏翰", "子涵", "品妤", "宗翰", "詩涵", "彥廷", "思穎"]


def _national_id(n: int) -> str:
    table = {"A": 10, "B": 11, "L": 20}
    letter = "BLA"[n % 3]
    body = str(1 + n % 2) + f"{n:07d}"[-7:]
    n1, n2 = divmod(table[letter], 10)
    total = n1 + n2 * 9 + sum(int(d) * w for d, w in zip(body, [8, 7, 6, 5, 4, 3, 2, 1]))
    return f"{letter}{body}{(10 - total % 10) % 10}"


def seed(citizens: int = 300) -> list[str]:
    session = db.session
    rng = random.Random(115)
    now = clock.now()
    today = clock.taipei_today()
    lines = []
    venues = _venues(session)
    terms = _terms(session, venues, today)
    made = _courses(session, venues, terms, now, rng)
    _staff(venues, lines)
    people = _citizens(session, citizens, rng)
    session.commit()
    _registrations(session, people, rng)
    from .payments_cli import seed_payments_demo

    lines += seed_payments_demo(session)
    _running_classes(session, people, rng)
    lines.insert(0, f"Demo data ready: {len(venues)} venues, {made} courses, {len(people)} citizens.")
    lines.append(f"Citizen logins: citizen1@example.tw … citizen{len(people)}@example.tw, "
                 f"password {DEMO_PASSWORD}")
    return lines


def _venues(session):
    out = []
    for code, name, name_en, coll, item, address, phone in VENUES:
        v = session.execute(select(Venue).where(Venue.code == code)).scalar_one_or_none()
        if v is None:
            v = Venue(code=code, name=name, name_en=name_en, collection_code=coll,
                      store_item_code=item, address=address, phone=phone,
                      email=f"workshops-{code.lower()}@example.tw",
                      max_courses_per_term=5 if code == "DD" else 4)
            session.add(v)
            session.flush()
            for identity, percent in (("low_income", 50), ("middle_low_income", 75),
                                      ("disabled", 50), ("senior", 90), ("returning", 95)):
                session.add(DiscountRule(venue_id=v.id, identity=identity, percent=percent))
        out.append(v)
    session.flush()
    return out


def _terms(session, venues, today):
    spring_start = today + dt.timedelta(days=40)
    specs = [("115W", "115年冬季班", "Winter 2026", today - dt.timedelta(days=60)),
             ("116S", "116年春季班", "Spring 2027", spring_start)]
    terms = {}
    for v in venues:
        for code, name, name_en, start in specs:
            t = session.execute(select(Term).where(Term.venue_id == v.id, Term.code == code)
                                ).scalar_one_or_none()
            if t is None:
                t = Term(venue_id=v.id, code=code, name=name, name_en=name_en, starts_on=start,
                         ends_on=start + dt.timedelta(weeks=18),
                         promotion_last_day=start + dt.timedelta(days=14))
                session.add(t)
                session.flush()
            terms[(v.code, code)] = t
    return terms


def _phases(kind: str, now: dt.datetime, quota: int):
    """Phase specs for a situation, relative to now (UTC)."""
    h = dt.timedelta(hours=1)
    d = dt.timedelta(days=1)
    if kind == "fc_open":
        return [dict(mode="first_come", opens_at=now - d, closes_at=now + 5 * d)]
    if kind == "lottery_open":
        return [dict(mode="lottery", opens_at=now - d, closes_at=now + 3 * d),
                dict(mode="first_come", opens_at=now + 4 * d, closes_at=now + 10 * d)]
    if kind == "three_phase_open":
        return [dict(mode="first_come", eligibility="senior", seat_cap=3, opens_at=now - 2 * d,
                     closes_at=now + 2 * d),
                dict(mode="lottery", opens_at=now + 3 * d, closes_at=now + 6 * d),
                dict(mode="first_come", opens_at=now + 7 * d, closes_at=now + 14 * d)]
    if kind == "lottery_drawn":
        return [dict(mode="lottery", opens_at=now - 6 * d, closes_at=now - 2 * h),
                dict(mode="first_come", opens_at=now + 2 * d, closes_at=now + 9 * d)]
    if kind == "upcoming":
        return [dict(mode="lottery", opens_at=now + 5 * d, closes_at=now + 9 * d),
                dict(mode="first_come", opens_at=now + 10 * d, closes_at=now + 20 * d)]
    # closed
    return [dict(mode="first_come", opens_at=now - 80 * d, closes_at=now - 65 * d)]


def _courses(session, venues, terms, now, rng):
    made = 0
    kinds = ["fc_open", "lottery_open", "three_phase_open", "lottery_drawn", "upcoming"]
    for v in venues:
        per_venue = 22 if v.code != "DD" else 60
        for i in range(per_venue):
            title, title_en, category, fee, materials = COURSES[i % len(COURSES)]
            for term_code in ("115W", "116S"):
                term = terms[(v.code, term_code)]
                code = f"{v.code}{term_code[:3]}{'W' if term_code.endswith('W') else 'A'}{i + 1:03d}"
                if session.execute(select(Course.id).where(Course.code == code)).first():
                    continue
                kind = "closed" if term_code == "115W" else kinds[i % len(kinds)]
                if kind == "fc_open" and i % 10 == 0:
                    kind = "fc_open"  # some of these get filled below (full with a waitlist)
                quota = rng.choice([12, 15, 20, 25, 30])
                start_hour = rng.choice([9, 10, 14, 15, 19])
                age_min, age_max = (6, 12) if title.startswith("兒童") else (16, None)
                course = Course(
                    code=code, venue_id=v.id, term_id=term.id, title=title, title_en=title_en,
                    category=category, teacher=rng.choice(TEACHERS),
                    description=f"{title}：每週一次，共十八週，適合{'兒童' if age_max else '成人'}學員。",
                    room=f"{rng.choice(['研習', '多功能', '藝術'])}教室{rng.randint(1, 6)}",
                    weekdays=str(rng.randint(1, 6)), starts_at=f"{start_hour:02d}:00",
                    ends_at=f"{start_hour + 2:02d}:30" if start_hour < 20 else "21:30",
                    first_date=term.starts_on + dt.timedelta(days=i % 6),
                    last_date=term.starts_on + dt.timedelta(weeks=17, days=i % 6),
                    sessions=18, quota=quota, min_enrolment=max(quota // 2, 5), fee=fee,
                    materials_fee=materials, age_min=age_min, age_max=age_max,
                    series_code=f"{v.code}-{title}", predecessor_series=f"{v.code}-{title}",
                )
                session.add(course)
                session.flush()
                for seq, spec in enumerate(_phases(kind, now, quota), start=1):
                    session.add(Phase(course_id=course.id, seq=seq, **spec))
                made += 1
        session.flush()
    return made


def _staff(venues, lines):
    sm = current_app.appbuilder.sm
    ensure_staff(sm, "bureau", "Bureau Admin", None, STAFF_PASSWORD, "bureau@example.tw", "文化局", "管理員")
    ensure_staff(sm, "auditor", "Supervisor", None, STAFF_PASSWORD, "auditor@example.tw", "稽核", "人員")
    lines.append(f"Back office (/login/): bureau / {STAFF_PASSWORD} (bureau administrator), "
                 f"auditor / {STAFF_PASSWORD} (supervisor)")
    for v in venues:
        code = v.code.lower()
        ensure_staff(sm, f"{code}-admin", "Venue Admin", v.code, STAFF_PASSWORD,
                     f"{code}-admin@example.tw", v.name, "管理者")
        ensure_staff(sm, f"{code}-clerk", "Venue Clerk", v.code, STAFF_PASSWORD,
                     f"{code}-clerk@example.tw", v.name, "承辦")
    lines.append("Venue staff: dd-admin, dd-clerk, hl-admin, hl-clerk, gq-…, tq-…, fc-… "
                 f"(password {STAFF_PASSWORD})")


def _citizens(session, count, rng):
    existing = session.execute(select(func.count()).select_from(Citizen)).scalar_one()
    hashed = generate_password_hash(DEMO_PASSWORD)
    cipher = accounts.cipher()
    for n in range(existing + 1, count + 1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        nid = _national_id(n)
        age = 70 if n % 7 == 0 else rng.randint(20, 60)
        birth = dt.date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))
        c = Citizen(name=name, national_id_enc=cipher.encrypt(nid),
                    national_id_hash=accounts.id_hash(nid), birth_date=birth,
                    phone=f"09{n:08d}", email=f"citizen{n}@example.tw", password_hash=hashed,
                    email_verified_at=clock.now(), phone_verified_at=clock.now(),
                    consent_at=clock.now())
        session.add(c)
        session.flush()
        session.add(Learner(citizen_id=c.id, relation="self", name=name, birth_date=birth,
                            national_id_enc=c.national_id_enc, national_id_hash=c.national_id_hash))
    session.flush()
    return session.execute(select(Citizen).order_by(Citizen.id)).scalars().all()


def _registrations(session, people, rng):
    """Applications so every situation is visible: lotteries with entries (one drawn with
    its record and waitlist), first-come courses partly filled and some full."""
    if session.execute(select(func.count()).select_from(Registration)).scalar_one():
        return
    adults = [p for p in people if clock.age_on(p.birth_date, clock.taipei_today()) >= 16]
    courses = session.execute(select(Course).where(Course.code.like("%116A%"))
                              .order_by(Course.code)).scalars().all()
    system = Actor(type="system", name="demo")
    # Applications are made "in the past" so lotteries that are now closed have entries.
    for idx, course in enumerate(courses):
        if course.age_max:
            continue
        first = course.phases[0]
        if first.eligibility != "everyone":
            continue
        if first.mode == "lottery":
            n = course.quota + rng.randint(3, 15)
        elif idx % 10 == 0:
            n = course.quota + 4  # full with a waitlist
        else:
            n = rng.randint(0, course.quota - 1)
        clock.freeze(first.opens_at + dt.timedelta(minutes=5))
        try:
            for person in rng.sample(adults, min(n, len(adults))):
                try:
                    with session.begin_nested():
                        registration.apply(session, course, person, None, system)
                except DomainError:  # a demo citizen at their term limit: skip
                    pass
            session.commit()
        finally:
            clock.freeze(None)
    draws.run_due_draws(session)
    session.commit()


def _running_classes(session, people, rng):
    """The winter term is under way: in each venue its first class has paid learners
    (paid at the counter) and attendance recorded for the sessions held so far, so rosters,
    attendance and certificates have something to show.  Idempotent."""
    from .services import attendance, payments
    from .services.rosters import session_dates

    system = Actor(type="system", name="demo")
    adults = [p for p in people if clock.age_on(p.birth_date, clock.taipei_today()) >= 16]
    courses = session.execute(select(Course).where(Course.code.like("%115W001"))
                              .order_by(Course.code)).scalars().all()
    for course in courses:
        if session.execute(select(func.count()).select_from(Registration).where(
                Registration.course_id == course.id)).scalar_one():
            continue
        clock.freeze(course.phases[0].opens_at + dt.timedelta(minutes=5))
        try:
            regs = []
            for person in rng.sample(adults, min(course.quota - 2, len(adults))):
                try:
                    with session.begin_nested():
                        regs.append(registration.apply(session, course, person, None, system))
                except DomainError:  # at the term limit: skip
                    pass
            for reg in regs:
                if reg.state == "admitted":
                    payments.record_counter_payment(session, reg, system)
            session.commit()
        finally:
            clock.freeze(None)
        seated = [r.id for r in regs]
        for day in session_dates(course):
            if day > clock.taipei_today():
                break
            present = {reg_id for reg_id in seated if rng.random() < 0.85}
            attendance.record(session, course, day, present, system)
        session.commit()
