"""Keyboard use and the markup screen readers rely on: the skip link, visible focus on
every stop, no keyboard trap, the polite live region of the course counts, and the
lottery check in the browser."""
from __future__ import annotations

import pytest

from .checks import axe_violations, focused, has_visible_focus

MAX_TABS = 80


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_first_tab_reaches_the_skip_link_which_moves_focus_to_main(contexts, seed, lang):
    page = contexts(None, lang).new_page()
    page.goto(f"/courses/{seed.courses['open']}")
    page.keyboard.press("Tab")
    first = focused(page)
    assert first and "skip-link" in first["cls"], f"first Tab stop is {first}"
    assert first["visible"] and first["top"] >= 0 and first["left"] >= 0, "the skip link stays off screen"
    assert first["height"] >= 44, first
    assert has_visible_focus(first), f"no visible focus on the skip link: {first}"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'main'")
    page.keyboard.press("Tab")
    after = focused(page)
    assert after and after["inMain"], f"Tab after the skip link went to {after}, not into main"


@pytest.mark.parametrize("user, path", [
    (None, lambda s: "/?venue=DD"),
    ("citizen", lambda s: f"/courses/{s.courses['lottery_open']}"),
    ("citizen", lambda s: f"/my/registrations/{s.regs['admitted']}/withdraw"),
    (None, lambda s: f"/courses/{s.courses['lottery_drawn']}/lottery"),
], ids=["catalogue", "course-citizen", "withdraw", "lottery"])
def test_every_tab_stop_shows_focus_and_tabbing_gets_through_the_page(contexts, seed, user, path):
    page = contexts(user, "zh", viewport={"width": 375, "height": 800}).new_page()
    page.goto(path(seed))
    stops = page.evaluate("""() => Array.from(document.querySelectorAll(
        'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, summary, [tabindex]:not([tabindex="-1"])'))
        .filter(el => el.getClientRects().length).length""")
    seen, invisible = [], []
    for _ in range(min(stops + 2, MAX_TABS)):
        page.keyboard.press("Tab")
        info = focused(page)
        if info is None:  # focus left the document: the end of the page was reached
            break
        key = (info["tag"], info["id"], info["text"], round(info["top"]))
        if seen and key == seen[0]:
            break
        seen.append(key)
        if not has_visible_focus(info):
            invisible.append(info)
    assert not invisible, f"focus not visible on: {invisible}"
    assert len(seen) >= stops, f"only {len(seen)} of {stops} focusable elements reached by Tab (a trap?)"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_course_counts_are_a_polite_live_region(contexts, seed, lang):
    page = contexts(None, lang).new_page()
    page.goto(f"/courses/{seed.courses['full']}")
    regions = page.locator("[aria-live]")
    live = page.locator("#live-counts")
    assert live.get_attribute("aria-live") == "polite"
    assert page.locator("[aria-live=assertive]").count() == 0, "nothing on the course page is urgent"
    # every count is a named pair read as a whole, with its value in the region
    pairs = live.locator("dl > div")
    assert pairs.count() == 6 and regions.count() >= 1
    for i in range(pairs.count()):
        pair = pairs.nth(i)
        assert pair.get_attribute("aria-atomic") == "true"
        assert pair.locator("dt").inner_text().strip() and pair.locator("dd").inner_text().strip()
    values = {dd.get_attribute("data-count"): dd.inner_text().strip()
              for dd in live.locator("dd").all()}
    assert values == {"quota": "2", "applications": "4", "admitted": "2", "paid": "0",
                      "waitlisted": "2", "seats_left": "0"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_published_lottery_verifies_in_the_browser(contexts, seed, lang):
    page = contexts(None, lang).new_page()
    page.goto(f"/courses/{seed.courses['lottery_drawn']}/lottery")
    page.get_by_role("button", name=page.locator("#verify-button").inner_text()).click()
    result = page.locator("#verify-result[data-state]:not([data-state='working'])")
    result.wait_for()
    assert result.get_attribute("data-state") == "ok", result.inner_text()
    assert page.locator("#verify-result").get_attribute("role") == "status"
    if lang == "en":
        assert result.inner_text().startswith("Verified")
    else:
        assert result.inner_text().strip() == page.locator("#lottery-verify").get_attribute("data-msg-ok")


def test_axe_run_can_fail(contexts):
    """The harness is real: a page with known faults reports them."""
    page = contexts(None, "zh").new_page()
    page.goto("/accessibility")
    page.evaluate("""() => {
        const img = document.createElement('img'); img.src = '/static/img/favicon.svg';
        document.querySelector('main').appendChild(img);
        const p = document.createElement('p'); p.textContent = 'faint'; p.style.color = '#ddd';
        document.querySelector('main').appendChild(p);
        document.documentElement.removeAttribute('lang');
    }""")
    found = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "color-contrast", "html-has-lang"} <= found, found


def test_chinese_data_on_english_pages_is_marked_as_chinese(contexts, seed):
    """WCAG 3.1.2: the teacher, room, description … exist only in Chinese; on English
    pages they carry lang="zh-Hant-TW" so screen readers switch voice."""
    en = contexts(None, "en").new_page()
    en.goto(f"/courses/{seed.courses['open']}")
    assert en.evaluate("document.documentElement.lang") == "en"
    marked = en.locator("main [lang='zh-Hant-TW']").all_inner_texts()
    assert "林老師" in marked and "301教室" in marked, marked
    assert en.locator("h1").get_attribute("lang") is None  # the English title
    zh = contexts(None, "zh").new_page()
    zh.goto(f"/courses/{seed.courses['open']}")
    assert zh.locator("main [lang]").count() == 0


@pytest.mark.parametrize("via", ["form", "cookie"])
def test_log_in_helper_both_ways(chromium, live_server, seed, via):
    from .conftest import log_in

    if via == "form" and not live_server.has("account.login"):
        pytest.skip("endpoint account.login does not exist yet")
    ctx = chromium.new_context(base_url=live_server.url)
    try:
        log_in(ctx, live_server, seed.newcomer_email, seed.password, via=via)
        page = ctx.new_page()
        response = page.goto("/my/registrations")
        assert response.status == 200 and page.url.endswith("/my/registrations")
    finally:
        ctx.close()
