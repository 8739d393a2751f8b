"""The public catalogue (整合公開): filters, pagination, course pages and bad input, on
both the HTML pages and the JSON API."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from app.services import clock, registration
from app.services.audit import Actor
from tests.test_admin_scoping import RequestClient

NOW = dt.datetime(2026, 3, 2, 2, 0)  # UTC; 10:00 in Taipei
CODE = re.compile(r"\b(?:DD|HL)115[A-Z]\d{3}\b")


def at(hours: float) -> dt.datetime:
    return NOW + dt.timedelta(hours=hours)


@pytest.fixture()
def frozen():
    clock.freeze(NOW)
    yield NOW
    clock.freeze(None)


@pytest.fixture()
def web(app, db):
    return RequestClient(app, app.response_class, use_cookies=True)


@pytest.fixture()
def courses(make, frozen, db):
    """Six courses covering every filter value and every status."""
    dd = make.venue(code="DD", name="大墩文化中心", name_en="Dadun Cultural Center")
    hl = make.venue(code="HL", name="葫蘆墩文化中心", name_en="Huludun Cultural Center")
    dd_s = make.term(dd, code="115S", name="115年春季班")
    hl_s = make.term(hl, code="115S", name="115年春季班")
    hl_f = make.term(hl, code="115F", name="115年秋季班", starts=dt.date(2026, 9, 1))
    c = {}
    c["open"] = make.course(dd, dd_s, code="DD115A001", title="水彩入門", title_en="Watercolour basics",
                            category="美術", teacher="林老師", weekdays="1,3", starts_at="09:00",
                            ends_at="12:00", description="從調色開始，認識水彩的透明感。")
    c["full"] = make.course(dd, dd_s, code="DD115A002", title="書法研習", category="書法",
                            teacher="陳老師", weekdays="2", starts_at="14:00", ends_at="16:00", quota=2)
    c["upcoming"] = make.course(hl, hl_s, code="HL115A003", title="陶藝創作", category="工藝",
                                teacher="張老師", weekdays="6", starts_at="19:00", ends_at="21:00",
                                opened_hours_ago=-24)
    c["closed"] = make.course(hl, hl_s, code="HL115A004", title="油畫進階", category="美術",
                              teacher="黃老師", weekdays="5", starts_at="09:30", ends_at="12:00",
                              opened_hours_ago=100)
    c["cancelled"] = make.course(hl, hl_f, code="HL115F005", title="街舞", category="舞蹈",
                                 teacher="吳老師", weekdays="7", starts_at="14:00", ends_at="15:30",
                                 cancelled_at=at(-2))
    c["between"] = make.course(dd, dd_s, code="DD115A006", title="素描", category="美術",
                               teacher="李老師", weekdays="3", starts_at="18:30", ends_at="20:30",
                               phases=({"mode": "lottery", "opens_at": at(-100), "closes_at": at(-52)},
                                       {"mode": "first_come", "opens_at": at(24), "closes_at": at(72)}))
    c["full"].seats_taken = 2
    make.commit()
    return c


ALL = {"DD115A001", "DD115A002", "HL115A003", "HL115A004", "HL115F005", "DD115A006"}
FILTERS = [
    ({}, ALL),
    ({"q": "水彩"}, {"DD115A001"}),
    ({"q": "watercolour"}, {"DD115A001"}),  # English title, any case
    ({"q": "陳老師"}, {"DD115A002"}),  # teacher
    ({"q": "HL115A003"}, {"HL115A003"}),  # code
    ({"q": "調色"}, {"DD115A001"}),  # content
    ({"q": "100%_"}, set()),  # LIKE wildcards are taken literally
    ({"venue": "DD"}, {"DD115A001", "DD115A002", "DD115A006"}),
    ({"venue": "HL"}, {"HL115A003", "HL115A004", "HL115F005"}),
    ({"venue": "XX"}, set()),
    ({"term": "115F"}, {"HL115F005"}),
    ({"term": "115S"}, ALL - {"HL115F005"}),
    ({"category": "美術"}, {"DD115A001", "HL115A004", "DD115A006"}),
    ({"weekday": "3"}, {"DD115A001", "DD115A006"}),
    ({"weekday": "1"}, {"DD115A001"}),
    ({"weekday": "4"}, set()),
    ({"time": "morning"}, {"DD115A001", "HL115A004"}),
    ({"time": "afternoon"}, {"DD115A002", "HL115F005"}),
    ({"time": "evening"}, {"HL115A003", "DD115A006"}),
    ({"status": "open"}, {"DD115A001"}),
    ({"status": "full"}, {"DD115A002"}),
    ({"status": "upcoming"}, {"HL115A003", "DD115A006"}),  # also between two phases
    ({"status": "closed"}, {"HL115A004", "HL115F005"}),
    ({"venue": "DD", "status": "upcoming", "category": "美術"}, {"DD115A006"}),
    ({"venue": "HL", "time": "morning", "weekday": "5", "term": "115S"}, {"HL115A004"}),
]


@pytest.mark.parametrize("args,expected", FILTERS, ids=[str(a) for a, _ in FILTERS])
def test_filters_on_page_and_api(web, courses, args, expected):
    page = web.get("/", query_string=args)
    assert page.status_code == 200
    assert set(CODE.findall(page.get_data(as_text=True))) == expected
    api = web.get("/api/v1/public/courses", query_string=args)
    assert api.status_code == 200
    assert {c["code"] for c in api.json["courses"]} == expected
    assert api.json["total"] == len(expected)


def test_status_shown_matches_status_filter(web, courses):
    """Every course's displayed status is the status filter that finds it."""
    shown = {c["code"]: c["status"] for c in web.get("/api/v1/public/courses").json["courses"]}
    for status in ("open", "full", "upcoming", "closed"):
        found = web.get("/api/v1/public/courses", query_string={"status": status}).json["courses"]
        assert {c["code"] for c in found} == {code for code, s in shown.items() if s == status}
    html = web.get("/", query_string={"q": "素描"}).get_data(as_text=True)
    assert "badge-upcoming" in html


def test_pagination(web, courses):
    api = [web.get("/api/v1/public/courses", query_string={"per_page": 4, "page": p}).json for p in (1, 2)]
    assert [len(a["courses"]) for a in api] == [4, 2]
    assert all(a["total"] == 6 and a["pages"] == 2 for a in api)
    first, second = ({c["code"] for c in a["courses"]} for a in api)
    assert first | second == ALL and not first & second
    # ordered by first date, then code, across pages
    ordered = [c["code"] for a in api for c in a["courses"]]
    assert ordered == sorted(ordered, key=lambda code: (code == "HL115F005", code))

    html1 = web.get("/?per_page=4&venue=&page=1").get_data(as_text=True)
    html2 = web.get("/?per_page=4&venue=&page=2").get_data(as_text=True)
    assert set(CODE.findall(html1)) == first and set(CODE.findall(html2)) == second
    assert 'rel="next"' in html1 and 'rel="prev"' not in html1
    assert 'rel="prev"' in html2 and 'rel="next"' not in html2
    next_link = re.search(r'href="([^"]+)" rel="next"', html1).group(1).replace("&amp;", "&")
    assert "page=2" in next_link and "per_page=4" in next_link
    assert set(CODE.findall(web.get(next_link).get_data(as_text=True))) == second


def test_course_page_and_api(web, courses, make, db):
    course = courses["open"]
    citizen = make.citizen()
    registration.apply(db.session, course, citizen, None, Actor())
    db.session.commit()

    page = web.get("/courses/DD115A001")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("水彩入門", "林老師", "301教室", "NT$2,800", "大墩文化中心", "從調色開始", "badge-open"):
        assert text in html, text
    listed = web.get("/api/v1/public/courses", query_string={"q": "水彩"}).json["courses"][0]
    assert listed["counts"] == {"applications": 1, "admitted": 1, "paid": 0, "waitlisted": 0,
                                "seats_left": 19}
    assert listed["current_phase"] == 1 and listed["status"] == "open"

    between = web.get("/courses/DD115A006").get_data(as_text=True)
    assert "badge-upcoming" in between and "民國115年3月3日 10:00" in between  # next phase opens


def test_course_api(web, courses, make, db):
    registration.apply(db.session, courses["open"], make.citizen(), None, Actor())
    db.session.commit()
    resp = web.get("/api/v1/public/courses/DD115A001")
    assert resp.status_code == 200
    data = resp.json
    assert (data["code"], data["teacher"], data["fee"], data["status"]) == ("DD115A001", "林老師", 2800, "open")
    assert data["current_phase"] == 1 and len(data["phases"]) == 1
    assert data["counts"]["applications"] == 1 and data["counts"]["seats_left"] == 19


BAD = [
    ({"page": "abc"}, 400), ({"page": "0"}, 400), ({"page": "-1"}, 400), ({"page": "1.5"}, 400),
    ({"page": "²"}, 400), ({"page": "99999"}, 404), ({"page": "3", "per_page": "4"}, 404),
    ({"page": "99999999999999999999"}, 400), ({"weekday": "9"}, 400), ({"weekday": "0"}, 400),
    ({"weekday": "mon"}, 400), ({"status": "bogus"}, 400), ({"time": "noon"}, 400),
    ({"per_page": "1000"}, 400), ({"per_page": "0"}, 400), ({"q": "a\x00b"}, 400),
    ({"venue": "\x00"}, 400), ({"category": "美\x00術"}, 400),
]


@pytest.mark.parametrize("args,status", BAD, ids=[str(a) for a, _ in BAD])
def test_bad_input_is_4xx_not_500(web, courses, args, status):
    page = web.get("/", query_string=args)
    assert page.status_code == status
    assert page.mimetype == "text/html" and "<html lang=" in page.get_data(as_text=True)
    api = web.get("/api/v1/public/courses", query_string=args)
    assert api.status_code == status
    assert api.json["error"] in ("bad_filter", "bad_page") and api.json["message"]


@pytest.mark.parametrize("code", ["NOPE999", "X" * 40, "DD115A001%00", "%E6%B0%B4"])
def test_unknown_course_is_404(web, courses, code):
    page = web.get(f"/courses/{code}")
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = web.get(f"/api/v1/public/courses/{code}")
    assert api.status_code == 404 and api.json["error"] == "unknown_course"


def test_empty_catalogue(web, db):
    assert web.get("/").status_code == 200
    assert web.get("/api/v1/public/courses").json == {"courses": [], "page": 1, "pages": 1,
                                                      "per_page": 20, "total": 0}
    assert web.get("/?page=2").status_code == 404
    assert web.get("/api/v1/public/courses?page=2").status_code == 404
