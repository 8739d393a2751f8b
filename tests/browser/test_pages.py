"""Every public page (tests/browser/pages.py), in both languages:

* zero axe-core violations for WCAG 2.1 A/AA (tags wcag2a, wcag2aa, wcag21a, wcag21aa) at
  375 px and 1280 px wide, with a full-page screenshot of each in tests/artifacts/screenshots/;
* no horizontal scrolling (``document.documentElement.scrollWidth <= window.innerWidth``)
  and touch targets of at least 44 px at 320, 375 and 414 px.

One page load per page and language serves all widths (the viewport is resized), which
keeps the suite quick.
"""
from __future__ import annotations

import pytest

from .checks import MIN_TARGET, axe_violations, describe_violations, overflow, small_targets
from .conftest import SCREENSHOTS
from .pages import PAGES

LANGS = ("zh", "en")
AXE_WIDTHS = (375, 1280)
PHONE_WIDTHS = (320, 375, 414)
HEIGHT = 800


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("spec", PAGES, ids=lambda p: p.name)
def test_page_is_accessible_and_fits_phones(spec, lang, open_page):
    page = open_page(spec, lang, 375)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for width in sorted(set(AXE_WIDTHS) | set(PHONE_WIDTHS)):
        page.set_viewport_size({"width": width, "height": HEIGHT})
        if width in PHONE_WIDTHS:
            flow = overflow(page)
            if flow["scrollWidth"] > flow["innerWidth"]:
                problems.append(f"{width}px: scrolls sideways, page is {flow['scrollWidth']}px wide; "
                                f"too wide: {flow['wide']}")
            small = small_targets(page)
            if small:
                problems.append(f"{width}px: touch targets under {MIN_TARGET}px: {small}")
        if width in AXE_WIDTHS:
            violations = axe_violations(page)
            if violations:
                problems.append(f"{width}px: axe-core violations:\n{describe_violations(violations)}")
            page.screenshot(path=str(SCREENSHOTS / f"{spec.name}-{lang}-{width}.png"), full_page=True)
    assert not problems, f"{spec.name} ({lang}):\n" + "\n".join(problems)
