"""Schemathesis against the published OpenAPI document of the open-data API.

The document is loaded from the app itself (``/api/v1/public/openapi.json``, in process
through WSGI) over demo-like data: courses of every status at two venues, first-come
registrations with a waitlist, a lottery with entries that was drawn, one still open, a
cancelled course.  For every operation Schemathesis generates requests that fit the
document (some with the real course codes, so the 200 answers are reached) and requests
that do not.  Every answer must be no server error, have a status and a content type the
document lists, and match the documented response schema; a request that does not fit the
document must be refused with a 4xx.
"""
from __future__ import annotations

import contextvars
import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_schema_conformance,
    status_code_conformance,
)

from app.services import clock, draws, registration
from app.services.audit import Actor
from tests.factories import bulk_citizens

OPENAPI = "/api/v1/public/openapi.json"
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 40}
#: The search takes nine filters: it gets more examples than the one-parameter operations.
SEARCH_EXAMPLES = {GenerationMode.POSITIVE: 250, GenerationMode.NEGATIVE: 150}
CHECKS = {
    GenerationMode.POSITIVE: [not_a_server_error, status_code_conformance,
                              content_type_conformance, response_schema_conformance],
    GenerationMode.NEGATIVE: [not_a_server_error, negative_data_rejection,
                              status_code_conformance, content_type_conformance],
}


def seed(make, db) -> list[str]:
    """Demo-like data; returns the course codes."""
    now = clock.now()
    hour = dt.timedelta(hours=1)
    dd = make.venue(code="DD", name="大墩文化中心")
    hl = make.venue(code="HL", name="葫蘆墩文化中心")
    term = make.term(dd, code="115S")
    full = make.course(dd, term, quota=3, title="水彩風景畫", title_en="Watercolour")
    open_fc = make.course(hl, make.term(hl, code="115S"), quota=20, title="書法楷書入門",
                          category="書畫", weekdays="2,4", starts_at="19:00", ends_at="21:00")
    drawn = make.course(dd, term, quota=4, title="陶藝拉坯", phases=[
        {"mode": "lottery", "opens_at": now - 4 * hour, "closes_at": now + hour, "auto_draw": False},
        {"mode": "first_come", "opens_at": now + 48 * hour, "closes_at": now + 96 * hour}])
    pending = make.course(dd, term, quota=4, title="兒童豎琴", phases=("lottery",))
    upcoming = make.course(hl, quota=10, title="現代舞", opened_hours_ago=-48)
    closed = make.course(dd, term, quota=10, title="太極拳養生", opened_hours_ago=200, phase_hours=24)
    cancelled = make.course(dd, term, title="攝影")
    cancelled.cancelled_at = now
    make.commit()
    people = bulk_citizens(db.session, 12, start=700000)
    for person in people[:6]:
        registration.apply(db.session, full, person, None, Actor())  # 3 admitted, 3 waitlisted
        registration.apply(db.session, open_fc, person, None, Actor())
    for person in people[:10]:
        registration.apply(db.session, drawn, person, None, Actor())
        registration.apply(db.session, pending, person, None, Actor())
    db.session.commit()
    phase = drawn.phases[0]
    phase.closes_at = now - dt.timedelta(minutes=1)
    db.session.commit()
    draws.draw(db.session, phase, "2026-03-01 今彩539 03 11 19 27 35", Actor(type="staff", name="dd-admin"))
    db.session.commit()
    return [c.code for c in (full, open_fc, drawn, pending, upcoming, closed, cancelled)]


def _constrained(op) -> bool:
    """Whether the operation has a parameter a value could violate (beyond "a string")."""
    params = op.definition.raw.get("parameters", [])
    return any(p.get("in") == "query" or set(p.get("schema", {})) - {"type"} for p in params)


def _isolated(fn, *args, **kwargs):
    """Each request in its own context, as in production (the test keeps one pushed)."""
    return contextvars.Context().run(fn, *args, **kwargs)


def test_the_public_api_survives_schemathesis(app, db, make):
    codes = seed(make, db)
    schema = schemathesis.openapi.from_wsgi(OPENAPI, app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/v1/public/courses", "/api/v1/public/courses/{code}",
        "/api/v1/public/courses/{code}/admissions", "/api/v1/public/courses/{code}/lottery"}
    failures = []
    statuses: dict[str, set[int]] = {}
    for op in operations:
        for mode, examples in (SEARCH_EXAMPLES if op.path == "/api/v1/public/courses" else EXAMPLES).items():
            if mode is GenerationMode.NEGATIVE and not _constrained(op):
                continue  # only free-text path parameters: no request can break the document
            strategies = [op.as_strategy(generation_mode=mode)]
            if "{code}" in op.path:
                strategies += [op.as_strategy(generation_mode=mode, path_parameters={"code": c})
                               for c in codes]

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=st.one_of(strategies))
            def run(case):
                response = _isolated(case.call)
                statuses.setdefault(op.path, set()).add(response.status_code)
                case.validate_response(response, checks=CHECKS[mode])

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, then report
                failures.append(f"{op.method.upper()} {op.path} ({mode}): {exc}")
    assert not failures, "\n\n".join(failures)
    # The real data was reached, not only 404s.
    for path in ("/api/v1/public/courses/{code}", "/api/v1/public/courses/{code}/lottery"):
        assert 200 in statuses[path] and 404 in statuses[path], (path, statuses[path])
    assert 200 in statuses["/api/v1/public/courses"]


def test_the_published_document_is_valid_openapi(app, db):
    """The document itself validates against the OpenAPI 3.0 schema (a YAML slip in a
    docstring once turned half a parameter's description into a bogus field)."""
    from jsonschema import Draft4Validator
    from schemathesis.specs.openapi.definitions import OPENAPI_30

    document = app.test_client().get(OPENAPI).get_json()
    assert document["openapi"].startswith("3.0")
    errors = sorted(Draft4Validator(OPENAPI_30).iter_errors(document), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
