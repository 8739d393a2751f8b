"""Both languages render: Traditional Chinese by default, English on request; the back
office's login page too."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from app.services import clock
from tests.test_admin_scoping import RequestClient

ZH = '<html lang="zh-Hant-TW">'
EN = '<html lang="en">'


@pytest.fixture()
def web(app, db):
    return RequestClient(app, app.response_class, use_cookies=True)


@pytest.fixture()
def course(make):
    clock.freeze(dt.datetime(2026, 3, 2, 2, 0))
    venue = make.venue(code="DD", name="大墩文化中心", name_en="Dadun Cultural Center")
    term = make.term(venue, code="115S", name="115年春季班", name_en="Spring 2026",
                     starts=dt.date(2026, 4, 7))
    c = make.course(venue, term, code="DD115A001", title="水彩入門", title_en="Watercolour basics")
    make.commit()
    yield c
    clock.freeze(None)


def test_catalogue_and_course_default_to_traditional_chinese(web, course):
    html = web.get("/").get_data(as_text=True)
    assert ZH in html
    assert "大墩文化中心" in html and "水彩入門" in html
    assert "Dadun Cultural Center" not in html and "Watercolour basics" not in html
    html = web.get("/courses/DD115A001").get_data(as_text=True)
    assert ZH in html and "水彩入門" in html and "115年春季班" in html
    assert "民國115年4月7日" in html  # dates in the ROC calendar


def test_catalogue_and_course_in_english(web, course):
    resp = web.get("/language/en?next=/courses/DD115A001")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/courses/DD115A001")
    html = web.get("/courses/DD115A001").get_data(as_text=True)
    assert EN in html
    assert "Watercolour basics" in html and "Dadun Cultural Center" in html and "Spring 2026" in html
    assert "2026-04-07" in html and "民國" not in html
    html = web.get("/").get_data(as_text=True)
    assert EN in html and "Arts workshop courses" in html and "Watercolour basics" in html
    # the error pages follow the language too
    missing = web.get("/courses/NOPE")
    assert missing.status_code == 404 and EN in missing.get_data(as_text=True)
    # and back
    web.get("/language/zh_Hant_TW")
    assert ZH in web.get("/").get_data(as_text=True)


def test_language_by_query_and_bad_language(web, course):
    assert EN in web.get("/?lang=en").get_data(as_text=True)
    assert ZH in web.get("/?lang=zh-TW").get_data(as_text=True)  # normalised to zh_Hant_TW
    assert web.get("/language/fr").status_code == 404
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        resp = web.get("/language/en", query_string={"next": target})
        assert resp.status_code == 302 and resp.headers["Location"] in ("/", "http://localhost/")


def test_back_office_login_page_renders_in_both_languages(web):
    html = web.get("/login/").get_data(as_text=True)
    assert re.search(r'name="username"', html) and re.search(r'name="password"', html)
    assert "臺中市藝文研習班報名繳費系統" in html
    assert web.get("/lang/en").status_code == 302  # FAB's own switch
    resp = web.get("/login/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Username" in html and 'name="password"' in html
    assert EN in web.get("/").get_data(as_text=True)  # one language for both sites


def test_public_strings_are_translated_to_traditional_chinese(web, course):
    html = web.get("/").get_data(as_text=True)
    assert "Arts workshop courses" not in html and "Skip to main content" not in html


def test_back_office_login_is_traditional_chinese(web):
    html = web.get("/login/").get_data(as_text=True)
    assert "登入" in html and "登录" not in html and "用户名" not in html


def test_back_office_declares_its_language(web):
    assert ZH in web.get("/login/").get_data(as_text=True)


def test_wtforms_messages_are_traditional_chinese(client):
    """WTForms' built-in messages follow Taiwan usage, not WTForms' Simplified 'zh'."""
    html = client.post("/login/", data={"username": "", "password": ""},
                       follow_redirects=True).get_data(as_text=True)
    assert "此欄位是必需的" in html and "该字段" not in html
