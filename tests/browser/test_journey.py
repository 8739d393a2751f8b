"""A citizen on a phone (375 px, touch): finds a course with the filters, opens it, logs
in from the course page, registers, sees the admission and opens "my registrations"."""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from .checks import overflow


def _fits(page):
    flow = overflow(page)
    assert flow["scrollWidth"] <= flow["innerWidth"], f"{page.url} scrolls sideways: {flow}"


def test_phone_journey_find_register_see_admission(contexts, live_server, seed):
    ctx = contexts(None, "zh", viewport={"width": 375, "height": 740}, is_mobile=True,
                   has_touch=True, device_scale_factor=2)
    page = ctx.new_page()

    # 1. find the course with the filters
    page.goto("/")
    _fits(page)
    page.locator("#f-q").fill(seed.journey_title[:3])
    summary = page.locator("details.more-filters > summary")
    if summary.count():
        summary.tap()
    page.locator("#f-venue").select_option("GQ")
    page.locator("#f-status").select_option("open")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").tap()
    assert "venue=GQ" in page.url and "status=open" in page.url
    cards = page.locator(".course-list > .course-card")
    assert cards.count() == 1, page.locator(".course-list").inner_text()
    _fits(page)

    # 2. open it
    with page.expect_navigation():
        cards.first.get_by_role("link", name=seed.journey_title).tap()
    assert page.url.endswith(f"/courses/{seed.courses['journey']}")
    assert page.locator("h1").inner_text() == seed.journey_title
    _fits(page)

    # 3. log in from the course page, and come back to it
    if not live_server.has("account.login"):
        pytest.skip("endpoint account.login does not exist yet: the journey logs in through it")
    with page.expect_navigation():
        page.locator(".register-block a.button").tap()
    assert "/account/login" in page.url
    _fits(page)
    page.locator("#email").fill(seed.journey_email)
    page.locator("#password").fill(seed.password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").tap()
    assert page.url.endswith(f"/courses/{seed.courses['journey']}"), page.url

    # 4. register: first come, seats left, so admitted at once
    with page.expect_navigation():
        page.locator(".register-block form button[type=submit]").tap()
    assert re.search(r"/my/registrations/\d+$", page.url), page.url
    with live_server.app.test_request_context(), force_locale("zh_Hant_TW"):
        from flask_babel import gettext

        from app.services.registration import state_label

        admitted = str(state_label("admitted"))
        flash = gettext("You are admitted. Please pay by the deadline shown below.")
    assert page.locator(".flashes[role=status]").inner_text().strip() == flash
    status = page.locator("dl.facts div").filter(has=page.locator("dd", has_text=admitted))
    assert status.count() == 1, page.locator("main").inner_text()
    _fits(page)

    # 5. my registrations lists it
    with page.expect_navigation():
        page.locator("header nav a", has_text=_nav_label(live_server)).tap()
    assert page.url.endswith("/my/registrations")
    card = page.locator(".course-card").filter(has_text=seed.journey_title)
    assert card.count() == 1 and admitted in card.inner_text()
    _fits(page)


def _nav_label(live_server) -> str:
    with live_server.app.test_request_context(), force_locale("zh_Hant_TW"):
        from flask_babel import gettext

        return gettext("My registrations")
