"""Security headers and cookies, on every kind of response, in the development and the
production configuration (``APP_ENV=production``, i.e. ``ENV_NAME``).

* Public pages: a Content-Security-Policy whose scripts (and styles) come from this site
  only — no 'unsafe-inline', no 'unsafe-eval', no wildcard — and pages that need nothing
  more (no inline script, no event-handler attribute, no ``javascript:`` link).
* Every response (public and back-office pages, the JSON API, static files, downloads,
  error pages): ``X-Content-Type-Options: nosniff`` and framing refused (``X-Frame-Options:
  DENY`` and ``frame-ancestors 'none'``).
* Production only: HSTS; the session cookie (and Flask-Login's remember cookie) Secure,
  HttpOnly and SameSite; the app refuses to start with the default secret key.
"""
from __future__ import annotations

import re

import pytest

from tests.attack_world import (
    PUBLIC_BLUEPRINTS, World, attack_app, citizen_client, csrf_token, new_client, staff_client,
)
from tests.factories import PASSWORD

SECRET = "a-production-secret-key-of-enough-length-0123456789"


def csp(resp) -> dict[str, list[str]]:
    policy = resp.headers.get("Content-Security-Policy", "")
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_no_framing_no_sniffing(resp, what):
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", what
    assert resp.headers.get("X-Frame-Options") == "DENY", what
    assert csp(resp).get("frame-ancestors") == ["'none'"], what
    assert csp(resp).get("object-src") == ["'none'"], what


def assert_strict_public_policy(resp, what):
    policy = csp(resp)
    for directive in ("script-src", "style-src"):
        sources = policy.get(directive) or policy.get("default-src")
        assert sources, (what, directive)
        for bad in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:",
                    "'unsafe-hashes'"):
            assert bad not in sources, (what, directive, bad)
    assert policy.get("default-src") == ["'self'"], what
    assert policy.get("base-uri") in (["'self'"], ["'none'"]), what
    assert policy.get("form-action") == ["'self'"], what


def assert_page_needs_no_inline_code(html: str, what):
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert re.search(r'\bsrc="/static/', tag), (what, tag)
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, flags=re.I), what
    assert "javascript:" not in html.lower(), what
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", html, flags=re.I), what


@pytest.fixture()
def world(make, db, app):
    return World(make, db, app)


def public_pages(app, w: World) -> list[tuple[str, str]]:
    """(who, path) for every public GET page: those without parameters, and the rest
    with the world's ids."""
    pages = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS and "GET" in rule.methods \
                and not rule.arguments:
            pages.append(("citizen", rule.rule))
            pages.append(("anonymous", rule.rule))
    code = w.course.code
    pages += [("anonymous", f"/courses/{code}"), ("anonymous", f"/courses/{code}/admissions"),
              ("anonymous", f"/courses/{w.lottery.code}/lottery"),
              ("citizen", f"/courses/{code}"), ("citizen", f"/my/registrations/{w.reg_admitted.id}"),
              ("citizen", f"/my/registrations/{w.reg_admitted.id}/withdraw"),
              ("citizen", f"/payments/registrations/{w.reg_admitted.id}/slip"),
              ("citizen", f"/payments/registrations/{w.reg_paid.id}/refund"),
              ("citizen", f"/survey/terms/{w.term.id}"),
              ("anonymous", f"/account/password/reset/{'t' * 32}"),
              ("anonymous", "/no/such/page"), ("anonymous", "/courses/NOPE")]
    return pages


def test_public_pages_have_a_strict_policy_and_need_no_inline_code(app, db, world):
    clients = {"citizen": citizen_client(app, world.a), "anonymous": new_client(app)}
    seen = 0
    for who, path in public_pages(app, world):
        resp = clients[who].get(path)
        assert_no_framing_no_sniffing(resp, path)
        if resp.mimetype != "text/html":
            continue
        assert_strict_public_policy(resp, path)
        if resp.status_code == 200:
            assert_page_needs_no_inline_code(resp.get_data(as_text=True), path)
            seen += 1
    assert seen >= 20


def test_every_kind_of_response_refuses_framing_and_sniffing(app, db, world):
    citizen = citizen_client(app, world.a)
    staff = staff_client(app, "bureau")
    anonymous = new_client(app)
    cases = [
        (anonymous, "GET", "/api/v1/public/courses"),
        (anonymous, "GET", f"/api/v1/public/courses/{world.course.code}"),
        (anonymous, "GET", "/api/v1/public/courses/NOPE"),  # JSON 404
        (anonymous, "GET", "/api/v1/public/openapi.json"),
        (anonymous, "GET", "/static/css/site.css"),
        (anonymous, "GET", f"/courses/{world.lottery.code}/lottery.json"),
        (anonymous, "GET", "/login/"),
        (anonymous, "POST", "/account/logout?x=1"),  # a redirect
        (anonymous, "DELETE", "/account/login"),  # 405
        (citizen, "GET", f"/payments/slips/{world.slip_admitted.id}.pdf"),
        (citizen, "GET", f"/payments/slips/{world.slip_admitted.id}/qr.svg"),
        (citizen, "GET", f"/payments/registrations/{world.reg_paid.id}/receipt.pdf"),
        (citizen, "GET", f"/account/identities/{world.claim.id}/proof"),
        (staff, "GET", "/admin/"),
        (staff, "GET", "/courseview/list/"),
        (staff, "GET", f"/courseview/show/{world.course.id}"),
        (staff, "GET", "/admin/office/"),
    ]
    statuses = set()
    for client, method, path in cases:
        resp = client.open(path, method=method)
        statuses.add(resp.status_code)
        assert_no_framing_no_sniffing(resp, path)
        if resp.mimetype in ("image/svg+xml", "application/pdf"):
            assert "no-store" in resp.headers.get("Cache-Control", ""), path
    assert {200, 302, 404, 405} <= statuses
    # Static files exist under the name used above (else the case proves nothing).
    assert anonymous.get("/static/css/site.css").status_code == 200


def test_back_office_pages_keep_framing_and_plugins_out(app, db, world):
    """FAB's pages carry inline scripts, so their policy allows them; it still refuses
    framing, plugins, other origins' scripts and form targets."""
    staff = staff_client(app, "bureau")
    resp = staff.get("/courseview/list/")
    policy = csp(resp)
    for directive in ("script-src", "style-src"):
        assert all(s.startswith("'") for s in policy[directive]), policy[directive]
    assert policy["form-action"] == ["'self'"] and policy["base-uri"] == ["'self'"]


def test_no_hsts_outside_production(app, db):
    resp = new_client(app).get("/")
    assert "Strict-Transport-Security" not in resp.headers


# ---------------------------------------------------------------- production

@pytest.fixture(scope="module")
def production_app(app):
    return attack_app(app, ENV_NAME="production", SECRET_KEY=SECRET, WTF_CSRF_ENABLED=True)


def https_client(app):
    client = new_client(app)
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def test_production_sends_hsts_everywhere(production_app, db, world):
    client = https_client(production_app)
    for path in ("/", f"/courses/{world.course.code}", "/api/v1/public/courses", "/login/",
                 "/no/such/page", "/static/css/site.css"):
        resp = client.get(path)
        hsts = resp.headers.get("Strict-Transport-Security", "")
        age = re.search(r"max-age=(\d+)", hsts)
        assert age and int(age.group(1)) >= 31536000 and "includeSubDomains" in hsts, path
        assert_no_framing_no_sniffing(resp, path)


def _cookie_attrs(resp, name: str) -> set[str]:
    for header in resp.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return {part.strip().lower() for part in header.split(";")[1:]}
    raise AssertionError(f"no {name} cookie set")


def test_production_cookies_are_secure_httponly_and_samesite(production_app, db, world):
    config = production_app.config
    assert config["SESSION_COOKIE_SECURE"] is True and config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert config["REMEMBER_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config.get("REMEMBER_COOKIE_SAMESITE") in ("Lax", "Strict")
    name = config["SESSION_COOKIE_NAME"]
    # A citizen logs in through the real form.
    client = https_client(production_app)
    page = client.get("/account/login")
    attrs = _cookie_attrs(page, name)
    token = csrf_token(page.get_data(as_text=True))
    resp = client.post("/account/login", data={"email": world.a.email, "password": PASSWORD,
                                                "csrf_token": token})
    assert resp.status_code == 302
    for attrs in (attrs, _cookie_attrs(resp, name)):
        assert {"secure", "httponly"} <= attrs and ("samesite=lax" in attrs or "samesite=strict" in attrs)
    # A staff member logs in to the back office: the same cookie, the same flags.
    staff = https_client(production_app)
    token = csrf_token(staff.get("/login/").get_data(as_text=True))
    resp = staff.post("/login/", data={"username": "bureau", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    attrs = _cookie_attrs(resp, name)
    assert {"secure", "httponly"} <= attrs and ("samesite=lax" in attrs or "samesite=strict" in attrs)


def test_development_cookies_are_httponly_and_samesite_too(app, db, world):
    client = new_client(app)
    resp = client.post("/account/login", data={"email": world.a.email, "password": PASSWORD})
    attrs = _cookie_attrs(resp, app.config["SESSION_COOKIE_NAME"])
    assert "httponly" in attrs and "samesite=lax" in attrs


def test_production_refuses_the_default_secret_key(app):
    from config import DEFAULT_SECRET_KEY

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        attack_app(app, ENV_NAME="production", SECRET_KEY=DEFAULT_SECRET_KEY)
