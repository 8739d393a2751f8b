"""The survey pop-up in a real browser (Debian's Chromium through Playwright): focus goes
into the dialog and stays there, Escape closes it, focus returns to the opener, closing
without answering records one dismissal, an answer is sent and the invitation ends.

The page is the real partial (``public/survey/_invite.html``) rendered by the app and the
real ``static/js/survey.js``, served to the browser through Playwright's request routing
(the survey endpoints answer as the app does), so no server is needed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.services.audit import Actor
from tests.test_office_fixtures import wired_app  # noqa: F401

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
JS = Path(__file__).resolve().parents[2] / "app" / "static" / "js" / "survey.js"
ORIGIN = "http://survey.test"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason=f"{CHROMIUM} is not installed")


@pytest.fixture()
def partial(wired_app, make, db):
    from flask import g, render_template

    from app.services import registration

    venue = make.venue()
    term = make.term(venue)
    course = make.course(venue, term)
    citizen = make.citizen()
    registration.apply(db.session, course, citizen, None, Actor())
    make.commit()
    with wired_app.test_request_context("/my/registrations/1"):
        g.citizen = citizen
        return render_template("public/survey/_invite.html", survey_term=term)


def document(body: str) -> str:
    return ("<!doctype html><html lang='zh-Hant-TW'><head><meta charset='utf-8'><title>t</title>"
            "</head><body><a href='#main' id='skip'>skip</a>"
            "<main id='main' tabindex='-1'><h1>報名成功</h1>" + body + "</main></body></html>")


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def open_page(browser, html: str):
    posts = []
    page = browser.new_page()

    def handle(route, request):
        path = request.url[len(ORIGIN):]
        if path == "/" or path.startswith("/?"):
            return route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        if path.startswith("/static/js/survey.js"):
            return route.fulfill(status=200, content_type="text/javascript", body=JS.read_text())
        if request.method == "POST" and path.startswith("/survey/"):
            posts.append((path, request.post_data or ""))
            body = {"ok": True, "message": "謝謝您的回饋！"} if "answer" in path else {"ok": True}
            return route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
        return route.fulfill(status=404, body="")

    page.route(f"{ORIGIN}/**", handle)
    page.goto(ORIGIN + "/")
    page.wait_for_load_state("load")
    return page, posts


def active(page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement;
        return {id: el.id, tag: el.tagName, inDialog: !!el.closest('dialog'),
                open: document.getElementById('survey-dialog').open};
    }""")


def test_pop_up_opens_traps_focus_and_escape_dismisses(browser, partial):
    page, posts = open_page(browser, document(partial))
    page.wait_for_function("document.getElementById('survey-dialog').open")
    assert active(page)["id"] == "survey-popup-overall-1"
    for _ in range(25):
        page.keyboard.press("Tab")
        state = active(page)
        assert state["inDialog"], state
    for _ in range(25):
        page.keyboard.press("Shift+Tab")
        assert active(page)["inDialog"]
    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('survey-dialog').open")
    assert active(page)["id"] == "main"  # it opened by itself: focus goes to the content
    page.wait_for_timeout(200)
    assert [p for p, _ in posts] == ["/survey/dismiss"]
    page.close()


def test_focus_returns_to_the_opener_and_an_answer_ends_the_invitation(browser, partial):
    page, posts = open_page(browser, document(partial.replace(" data-autoopen", "")))
    assert not active(page)["open"]
    link = page.locator("[data-survey-open]")
    assert link.get_attribute("role") == "button"
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('survey-dialog').open")
    page.locator("[data-survey-close]").click()  # the close button dismisses too
    page.wait_for_function("!document.getElementById('survey-dialog').open")
    assert page.evaluate("document.activeElement.hasAttribute('data-survey-open')")
    link.click()  # may be reopened after a dismissal
    page.wait_for_function("document.getElementById('survey-dialog').open")
    page.locator("[data-survey-answer] button[type=submit]").click()  # nothing chosen yet
    expected = page.locator("[data-survey-choose]").text_content()
    assert expected and page.locator("[data-survey-status]").inner_text() == expected
    assert active(page)["id"] == "survey-popup-overall-1"
    page.locator("label[for=survey-popup-overall-5]").click()
    page.locator("label[for=survey-popup-ease-4]").click()
    page.locator("#survey-popup-comment").fill("很好用")
    page.locator("[data-survey-answer] button[type=submit]").click()
    page.wait_for_function("!document.getElementById('survey-dialog').open")
    assert page.locator("[data-survey-done]").inner_text() == "謝謝您的回饋！"
    assert page.evaluate("document.activeElement.hasAttribute('data-survey-done')")
    assert link.is_hidden()
    assert [p for p, _ in posts] == ["/survey/dismiss", "/survey/answer"]
    answer = posts[1][1]
    assert "overall" in answer and "很好用" in answer
    page.close()
