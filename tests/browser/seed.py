"""The data every browser test sees: venues, courses in every situation, citizens with
registrations in every state.  Built once per browser-test run through the services and
the factories (never by writing model fields a service owns)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from app.services import accounts, clock, draws, registration
from app.services.audit import Actor
from tests.factories import PASSWORD, Factory

SYSTEM = Actor()
CLERK = Actor(type="staff", name="dd-admin")


@dataclass
class Seed:
    """Codes and ids only (no ORM objects: they would outlive their session)."""

    venues: dict[str, str] = field(default_factory=dict)  # key -> venue code
    courses: dict[str, str] = field(default_factory=dict)  # situation -> course code
    terms: dict[str, int] = field(default_factory=dict)  # situation -> term id (one term per course)
    regs: dict[str, int] = field(default_factory=dict)  # situation -> registration id
    citizen_email: str = ""  # the citizen most pages are seen as (王小明)
    journey_email: str = ""  # the phone journey's citizen (no registrations before it)
    newcomer_email: str = ""  # a citizen who never registers (empty lists, password reset)
    password: str = PASSWORD
    reset_token: str = ""  # a live password-reset token of the newcomer
    journey_title: str = ""  # the course the phone journey looks for
    journey_title_en: str = ""


def _apply(session, course, citizen):
    reg = registration.apply(session, course, citizen, None, SYSTEM)
    session.flush()
    return reg


def _pay(session, reg) -> None:
    """Pay through the gateway path when the reconciliation service exists, else mark paid."""
    from app.services import payments

    slip = payments.current_slip(session, reg)
    try:
        from app.services import reconciliation
    except ImportError:  # payments area not landed yet
        registration.mark_paid(session, reg, SYSTEM, note="browser-test seed")
        return
    session.commit()
    outcome = reconciliation.receive_gateway_notification(session, {
        "RtnCode": "1", "TradeNo": f"BT{reg.id:08d}", "MerchantTradeNo": slip.virtual_account,
        "TradeAmt": str(slip.amount), "PaymentType": "Credit",
        "PaymentDate": clock.to_taipei(clock.now()).strftime("%Y/%m/%d %H:%M:%S")})
    assert outcome == "applied", outcome


def build(make: Factory) -> Seed:
    s = make.session
    now = clock.now()
    seed = Seed()
    dd = make.venue(code="DD", name="大墩文化中心", name_en="Dadun Cultural Center",
                    address="臺中市南屯區英才路600號", phone="04-2372-7311", email="dd@example.tw")
    gq = make.venue(code="GQ", name="港區藝術中心", name_en="Port Area Arts Center",
                    address="臺中市清水區忠貞路21號", phone="04-2627-4568", email="gq@example.tw")
    seed.venues = {"dd": dd.code, "gq": gq.code}

    def course(key, venue, title, title_en, **kw):
        c = make.course(venue, title=title, title_en=title_en,
                        description=kw.pop("description", "從基礎技法開始，每週一次，適合初學者。"), **kw)
        seed.courses[key] = c.code
        seed.terms[key] = c.term_id
        return c

    # Citizens: the main one, five others who fill the lists, and the journey citizen.
    me = make.citizen(name="王小明")
    others = [make.citizen(name=n) for n in ("陳美玲", "林志強", "張雅婷", "黃建國", "李淑芬")]
    journey = make.citizen(name="吳佳蓉")
    newcomer = make.citizen(name="周怡君")
    seed.citizen_email, seed.journey_email = me.email, journey.email
    seed.newcomer_email = newcomer.email

    # first-come, open, seats left: the main citizen is admitted (slip, withdraw form)
    open_course = course("open", dd, "水彩入門", "Watercolour for beginners", quota=20,
                         weekdays="3", starts_at="09:00", ends_at="12:00")
    seed.regs["admitted"] = _apply(s, open_course, me).id
    _apply(s, open_course, others[0])

    # first-come, full, with a waitlist: the main citizen is first on the waitlist
    full = course("full", dd, "人物素描", "Figure drawing", quota=2, category="美術",
                  weekdays="6", starts_at="14:00", ends_at="17:00")
    _apply(s, full, others[0])
    _apply(s, full, others[1])
    seed.regs["waitlisted"] = _apply(s, full, me).id
    _apply(s, full, others[2])

    # paid registration (receipt, refund request)
    paid = course("paid", gq, "陶藝拉坯", "Pottery on the wheel", quota=12, category="工藝",
                  weekdays="2,4", starts_at="18:30", ends_at="21:00", fee=3600)
    reg = _apply(s, paid, me)
    seed.regs["paid"] = reg.id
    _pay(s, reg)

    # lottery phase open now, applications collected (the main citizen may still apply)
    lottery_open = course("lottery_open", gq, "書法與篆刻", "Calligraphy and seal carving", quota=10,
                          category="書法", weekdays="5", starts_at="09:30", ends_at="11:30",
                          phases=[{"mode": "lottery", "opens_at": now - dt.timedelta(hours=1),
                                   "closes_at": now + dt.timedelta(hours=47), "auto_draw": False}])
    for person in others[:3]:
        _apply(s, lottery_open, person)

    # lottery drawn: five entries for three seats, the draw published
    drawn = course("lottery_drawn", dd, "兒童創意美術", "Creative art for children", quota=3,
                   category="美術", weekdays="7", starts_at="10:00", ends_at="12:00",
                   phases=[{"mode": "lottery", "opens_at": now - dt.timedelta(hours=3),
                            "closes_at": now + dt.timedelta(hours=2), "auto_draw": False}])
    seed.regs["lottery_entry"] = _apply(s, drawn, me).id
    for person in others[:4]:
        _apply(s, drawn, person)
    s.commit()
    phase = drawn.phases[0]
    phase.opens_at = now - dt.timedelta(hours=3)
    phase.closes_at = now - dt.timedelta(minutes=1)
    s.commit()
    draws.draw(s, phase, "2026-03-05 大樂透 03 11 19 27 34 42", CLERK)
    s.commit()

    # upcoming (opens tomorrow) and closed (closed two days ago)
    course("upcoming", gq, "攝影基礎", "Photography basics", quota=15, category="攝影",
           weekdays="1", starts_at="19:00", ends_at="21:00", opened_hours_ago=-24)
    course("closed", dd, "國畫山水", "Chinese landscape painting", quota=15, category="美術",
           weekdays="4", starts_at="13:30", ends_at="16:30", opened_hours_ago=100, phase_hours=48)

    # the phone journey's course: found by keyword and venue, first-come with seats
    seed.journey_title, seed.journey_title_en = "烏克麗麗彈唱", "Ukulele and singing"
    course("journey", gq, seed.journey_title, seed.journey_title_en, quota=25, category="音樂",
           weekdays="3", starts_at="19:00", ends_at="21:00")

    seed.reset_token = accounts.issue_code(s, newcomer, "reset")
    s.commit()
    return seed
