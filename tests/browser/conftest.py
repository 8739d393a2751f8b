"""Browser-test harness: the real app behind a real WSGI server, driven by Debian's
Chromium through Playwright (sync API), with axe-core for WCAG 2.1 AA.

* ``browser_app``: an app of its own on the session's migrated database, with CSRF ON
  (the session ``app`` fixture turns it off for the test client) and rate limits off.
* ``live_server``: werkzeug's threaded server on 127.0.0.1 and a free port, in a thread;
  ``live_server.url`` and ``live_server.errors`` (unhandled exceptions the app raised:
  every browser test fails if any appeared while it ran).
* ``seed``: the data of :mod:`tests.browser.seed`, built once for the package through the
  services and factories; the tables are emptied before and after.
* ``chromium``: the browser (``/usr/bin/chromium`` or ``$CHROMIUM``), never Playwright's
  own download.
* ``contexts(user=None, lang="zh", **options)``: a new browser context, logged in as a seeded
  citizen (``"citizen"``, ``"journey"`` or ``"newcomer"``) through the log-in form when ``account.login``
  exists, else with a signed session cookie, in the language asked for (``/language/en``).
* ``open_page(spec, lang, width)``: loads a :class:`tests.browser.pages.Page` (skips with a
  reason while its endpoint does not exist), checks its status and ``lang`` attribute,
  runs its action and returns the Playwright page.

Every test here carries the ``browser`` marker.  Without ``/usr/bin/chromium`` the tests are
skipped, except in CI (``CI`` set), where they must run and fail instead.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCALES = {"zh": "zh_Hant_TW", "en": "en"}
HTML_LANG = {"zh": "zh-Hant-TW", "en": "en"}
TIMEOUT_MS = 30_000  # generous: CI machines are shared


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: end-to-end test in headless Chromium (Playwright)")


def pytest_collection_modifyitems(config, items):
    missing = not os.path.exists(CHROMIUM) and not os.environ.get("CI")
    for item in items:
        if HERE not in Path(item.path).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is not installed (set CI to require it)"))


# ---- the app and its server ---------------------------------------------------------

@dataclass
class LiveServer:
    url: str
    app: object
    errors: list = field(default_factory=list)

    def url_for(self, endpoint: str, **values) -> str:
        from flask import url_for

        with self.app.test_request_context():
            return url_for(endpoint, **values)

    def has(self, endpoint: str) -> bool:
        return endpoint in self.app.view_functions


@pytest.fixture(scope="package")
def browser_app(app):
    from flask import got_request_exception

    from app import create_app
    from app.extensions import db

    keep = ("SQLALCHEMY_DATABASE_URI", "UPLOAD_DIR", "RECONCILIATION_INBOX", "NOTIFY_CONSOLE_FILE")
    application = create_app({**{k: app.config[k] for k in keep},
                              "WTF_CSRF_ENABLED": True, "RATELIMIT_ENABLED": False,
                              "TESTING": False, "SERVER_NAME": None, "REDIS_URL": ""})
    application.extensions["browser_test_errors"] = errors = []

    def record(sender, exception, **extra):
        errors.append(repr(exception))

    got_request_exception.connect(record, application, weak=False)
    yield application
    got_request_exception.disconnect(record, application)
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="package")
def live_server(browser_app):
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # one line per request would drown the output
            pass

    server = make_server("127.0.0.1", 0, browser_app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="browser-live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    browser_app.config["PUBLIC_BASE_URL"] = url
    yield LiveServer(url, browser_app, browser_app.extensions["browser_test_errors"])
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.fixture(scope="package")
def seed(browser_app):
    from app.extensions import db
    from tests.conftest import _truncate
    from tests.factories import Factory

    from .seed import build

    with browser_app.app_context():
        _truncate(db)
        data = build(Factory(db, browser_app))
        db.session.remove()
    yield data
    with browser_app.app_context():
        db.session.remove()
        _truncate(db)


@pytest.fixture(autouse=True)
def no_server_errors(request):
    """Fail a browser test during which the app raised an unhandled exception."""
    if "live_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("live_server")
    server.errors.clear()
    yield
    assert not server.errors, f"the app raised during this test: {server.errors}"


# ---- the browser --------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium package")
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in(context, server: LiveServer, email: str, password: str, via: str | None = None) -> None:
    """Log a citizen in: through the log-in form when it exists (``via="form"``), else
    (or with ``via="cookie"``) by setting a signed session cookie."""
    if via is None:
        via = "form" if server.has("account.login") else "cookie"
    if via == "form":
        page = context.new_page()
        page.goto(server.url_for("account.login"))
        page.fill("#email", email)
        page.fill("#password", password)
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        assert "/account/login" not in page.url, "log-in failed: " + page.locator("main").inner_text()
        page.close()
        return
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Citizen
    from app.views.public.auth import SESSION_KEY, VERSION_KEY

    app = server.app
    with app.app_context():
        citizen = db.session.execute(select(Citizen).where(Citizen.email == email)).scalar_one()
        value = app.session_interface.get_signing_serializer(app).dumps(
            {SESSION_KEY: citizen.id, VERSION_KEY: citizen.session_version})
        db.session.remove()
    context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "value": value,
                          "url": server.url}])


def choose_language(context, lang: str) -> None:
    if lang == "zh":
        return  # the default
    page = context.new_page()
    page.goto(f"/language/{LOCALES[lang]}")
    page.close()


@pytest.fixture(scope="package")
def storage_state(chromium, live_server, seed):
    """``storage_state(user, lang)``: cookies of a visitor or a logged-in seeded citizen in
    a language, made once per package (log-in hashes a password: not on every page)."""
    emails = {"citizen": seed.citizen_email, "journey": seed.journey_email,
              "newcomer": seed.newcomer_email}
    states = {}

    def get(user: str | None, lang: str) -> dict:
        if (user, lang) not in states:
            ctx = chromium.new_context(base_url=live_server.url)
            ctx.set_default_timeout(TIMEOUT_MS)
            if user:
                log_in(ctx, live_server, emails[user], seed.password)
            choose_language(ctx, lang)
            states[user, lang] = ctx.storage_state()
            ctx.close()
        return states[user, lang]

    return get


@pytest.fixture()
def contexts(chromium, live_server, storage_state):
    """``contexts(user=None, lang="zh", **new_context_options)`` -> a fresh context."""
    made = []

    def new(user: str | None = None, lang: str = "zh", **options):
        options.setdefault("viewport", {"width": 375, "height": 800})
        ctx = chromium.new_context(base_url=live_server.url, storage_state=storage_state(user, lang),
                                   **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        made.append(ctx)
        return ctx

    yield new
    for ctx in made:
        ctx.close()


@pytest.fixture(scope="package")
def _shared_contexts(chromium, live_server, storage_state):
    """One context per (user, language), reused by the page checks (fast)."""
    made = {}

    def get(user: str | None, lang: str):
        if (user, lang) not in made:
            ctx = chromium.new_context(base_url=live_server.url, storage_state=storage_state(user, lang))
            ctx.set_default_timeout(TIMEOUT_MS)
            made[user, lang] = ctx
        return made[user, lang]

    yield get
    for ctx in made.values():
        ctx.close()


@pytest.fixture()
def open_page(live_server, seed, _shared_contexts):
    pages = []

    def load(spec, lang: str = "zh", width: int = 375):
        if spec.endpoint and not live_server.has(spec.endpoint):
            pytest.skip(f"endpoint {spec.endpoint} does not exist yet (page {spec.name})")
        page = _shared_contexts(spec.user, lang).new_page()
        pages.append(page)
        page.set_viewport_size({"width": width, "height": 800})
        url = spec.path or live_server.url_for(spec.endpoint, **spec.url_values(seed))
        response = page.goto(url)
        assert response is not None and response.status == spec.status, (
            f"{spec.name}: {url} answered {response.status if response else None}, "
            f"expected {spec.status}")
        html_lang = page.evaluate("document.documentElement.lang")
        assert html_lang == HTML_LANG[lang], f"{spec.name}: <html lang={html_lang!r}> on a {lang} page"
        if spec.ready:
            page.wait_for_selector(spec.ready)
        if spec.action:
            spec.action(page, seed)
        return page

    yield load
    for page in pages:
        page.close()
