"""Every public page the browser suite checks, in one list.

Add a page with one line::

    Page("survey-popup", "survey.show", lambda s: {"reg_id": s.regs["paid"]}, user="citizen"),

* ``name``: used in the test id and the screenshot file name;
* ``endpoint``: the Flask endpoint; while it does not exist in the app the entry is
  skipped with a reason (so pages other people are building run once they land);
* ``values``: ``url_for`` values, a dict or a function of the :class:`~tests.browser.seed.Seed`;
* ``path``: a literal path instead of an endpoint (error pages);
* ``user``: ``None`` (a visitor), ``"citizen"`` (王小明, with registrations in every state)
  or ``"newcomer"`` (a citizen with none);
* ``status``: the HTTP status the first response must have;
* ``action``: a function ``(page, seed)`` run after loading, before the checks (submit a
  form with errors, open a pop-up, click "verify" …); it may assert.
* ``ready``: a CSS selector to wait for before checking (pages that finish in script).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .seed import Seed


@dataclass(frozen=True)
class Page:
    name: str
    endpoint: str | None = None
    values: dict | Callable[[Seed], dict] = field(default_factory=dict)
    user: str | None = None
    status: int = 200
    action: Callable[[Any, Seed], None] | None = None
    path: str | None = None
    ready: str | None = None

    def url_values(self, seed: Seed) -> dict:
        return self.values(seed) if callable(self.values) else dict(self.values)


def course(key: str):
    return lambda s: {"code": s.courses[key]}


def reg(key: str):
    return lambda s: {"reg_id": s.regs[key]}


# ---- actions -----------------------------------------------------------------------

def verify_lottery(page, seed, expect: str = "ok") -> None:
    """Click "Verify in my browser" and wait for the message ``expect`` (ok: the record
    verified; pending: not drawn yet); any other outcome fails."""
    box = page.locator("#lottery-verify")
    page.locator("#verify-button").click()
    result = page.locator("#verify-result:not([data-state='working'])[data-state]")
    result.wait_for()
    wanted = box.get_attribute(f"data-msg-{expect}")
    shown = result.inner_text()
    assert result.get_attribute("data-state") == expect and wanted in shown, (
        f"expected {wanted!r}, the page says {shown!r}")


def verify_pending_lottery(page, seed) -> None:
    verify_lottery(page, seed, expect="pending")


def wrong_password(page, seed) -> None:
    """Submit the form with a wrong password: the error must be announced and tied to it."""
    page.fill("#password", "not-the-password")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    field = page.locator("#password")
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby") or ""
    assert described and page.locator(f"#{described.split()[0]}").inner_text().strip()


def empty_login(page, seed) -> None:
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.locator("[role=alert]").count() >= 1
    assert page.locator("#email").get_attribute("aria-invalid") == "true"


# ---- the pages ----------------------------------------------------------------------

PAGES: list[Page] = [
    # catalogue
    Page("catalogue", "public.index"),
    Page("catalogue-filtered", "public.index", {"q": "入門", "venue": "DD", "status": "open", "time": "morning"}),
    Page("catalogue-empty", "public.index", {"q": "no-such-course-at-all"}),
    # course page in every situation, as a visitor and as a citizen
    *[Page(f"course-{key}{'-citizen' if user else ''}", "public.course", course(key), user=user)
      for key in ("open", "full", "lottery_open", "lottery_drawn", "upcoming", "closed")
      for user in (None, "citizen")],
    # public lists and the lottery
    Page("admissions", "registration.admissions", course("full")),
    Page("admissions-lottery-pending", "registration.admissions", course("lottery_open")),
    Page("lottery-pending", "registration.lottery", course("lottery_open")),
    Page("lottery-pending-checked", "registration.lottery", course("lottery_open"), action=verify_pending_lottery),
    Page("lottery-drawn", "registration.lottery", course("lottery_drawn")),
    Page("lottery-drawn-verified", "registration.lottery", course("lottery_drawn"), action=verify_lottery),
    # the citizen's registrations
    Page("my-registrations", "registration.mine", user="citizen"),
    Page("my-registrations-empty", "registration.mine", user="newcomer"),
    Page("registration-admitted", "registration.detail", reg("admitted"), user="citizen"),
    Page("registration-waitlisted", "registration.detail", reg("waitlisted"), user="citizen"),
    Page("registration-paid", "registration.detail", reg("paid"), user="citizen"),
    Page("registration-lottery", "registration.detail", reg("lottery_entry"), user="citizen"),
    Page("withdraw", "registration.withdraw", reg("admitted"), user="citizen"),
    Page("withdraw-error", "registration.withdraw", reg("admitted"), user="citizen", action=wrong_password),
    # pages people expect
    Page("accessibility", "pages.accessibility"),
    Page("privacy", "pages.privacy"),
    Page("contact", "pages.contact"),
    Page("not-found", path="/no-such-page", status=404),
    Page("course-not-found", "public.course", {"code": "NOPE999"}, status=404),
    Page("bad-filter", "public.index", {"weekday": "9"}, status=400),
    # account pages (another engineer; run once the endpoints exist)
    Page("login", "account.login"),
    Page("login-error", "account.login", action=empty_login),
    Page("signup", "account.signup"),
    Page("forgot-password", "account.forgot_password"),
    Page("reset-password", "account.reset_password", lambda s: {"token": s.reset_token}),
    Page("reset-password-dead", "account.reset_password", {"token": "expired-token"}, status=400),
    Page("verify", "account.verify", user="citizen"),
    Page("profile", "account.profile", user="citizen"),
    Page("change-password", "account.change_password", user="citizen"),
    Page("learners", "account.learners", user="citizen"),
    Page("identities", "account.identities", user="citizen"),
    # payment pages (another engineer; run once the endpoints exist)
    Page("slip", "payments.slip", reg("admitted"), user="citizen"),
    Page("slip-paid", "payments.slip", reg("paid"), user="citizen"),
    Page("refund", "payments.refund", reg("paid"), user="citizen"),
    # satisfaction survey (another engineer; runs once the blueprint is registered).  The
    # pop-up gets its own entry once it is on a page, e.g. with an action that opens it:
    #   Page("survey-popup", "registration.detail", reg("paid"), user="citizen", action=open_survey),
    Page("survey", "survey.page", lambda s: {"term_id": s.terms["paid"]}, user="citizen"),
]

assert len({p.name for p in PAGES}) == len(PAGES), "page names must be unique"
