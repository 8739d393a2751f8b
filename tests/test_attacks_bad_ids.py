"""Numbers that are not row ids, wherever the app takes an id.

``str.isdigit()`` is true for "²" and "①", which ``int()`` refuses, and PostgreSQL refuses
a number beyond its ``integer`` in a query on an integer key: both used to be a 500.  Every
route of ``app.url_map`` with an ``<int:…>`` or a ``<pk>`` in its path, and the forms and
query strings that carry an id (a learner, a term, a venue, a phase, a citizen), answer
"no such thing" (404, or the form's 400) instead, and change nothing.
"""
from __future__ import annotations

import io
import re

import pytest

from app.services.ids import MAX_ID
from tests.attack_world import (
    PDF, PUBLIC_BLUEPRINTS, World, changed, citizen_client, fingerprint, new_client, staff_client,
)
from tests.factories import PASSWORD

NOT_IDS = [str(MAX_ID + 1), "9" * 25, "²", "①"]


@pytest.fixture()
def world(make, db, app):
    return World(make, db, app)


OTHER_ARGS = {"name": "x", "filename": "x", "fmt": "csv", "group_by": "x", "version": "v1",
              "code": "X", "locale": "en", "token": "t"}


def _is_id(rule, arg: str) -> bool:
    return arg == "pk" or type(rule._converters[arg]).__name__ == "RowIdConverter"


def _path(rule, value: str) -> str:
    """The rule's path with ``value`` for every id (unchecked: ``build`` would refuse it)."""
    def fill(m):
        arg = m.group(1)
        return value if _is_id(rule, arg) else OTHER_ARGS.get(arg, "x")
    return re.sub(r"<(?:[^<>:]+:)?([^<>:]+)>", fill, rule.rule)


def test_every_route_with_an_id_in_its_path_answers_404(app, db, world):
    citizen = citizen_client(app, world.a)
    staff = staff_client(app, "bureau")
    before = fingerprint(db.session, exclude=("audit_entry",))
    tried, failures = 0, []
    for rule in app.url_map.iter_rules():
        if not any(_is_id(rule, a) for a in rule.arguments) or rule.endpoint.startswith("static"):
            continue
        client = citizen if rule.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS else staff
        for value in NOT_IDS:
            path = _path(rule, value)
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                tried += 1
                try:
                    status = client.open(path, method=method, data={"password": PASSWORD}).status_code
                except Exception as exc:  # TESTING propagates what would be a 500
                    status = repr(exc)[:80]
                if status not in (302, 400, 403, 404):
                    failures.append((method, path, status))
    assert tried > 100
    assert not failures, "\n".join(map(str, failures))
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []


@pytest.mark.parametrize("value", NOT_IDS)
def test_ids_in_forms_and_query_strings(app, db, world, make, value):
    w = world
    citizen = citizen_client(app, w.a)
    anonymous = new_client(app)
    staff = staff_client(app, "bureau")
    course = make.course(w.venue, w.term, title="新課程")
    make.commit()
    before = fingerprint(db.session, exclude=("audit_entry",))
    cases = [
        (citizen, "POST", f"/courses/{course.code}/register", {"learner_id": value}, (400,)),
        (citizen, "POST", "/survey/answer", {"term_id": value, "overall": "5", "ease": "5"}, (404,)),
        (citizen, "POST", "/survey/dismiss", {"term_id": value}, (404,)),
        (citizen, "POST", f"/survey/terms/{w.term.id}", {"overall": value, "ease": "5"}, (400,)),
        (citizen, "POST", f"/payments/registrations/{w.reg_paid.id}/refund",
         {"password": PASSWORD, "reason": "x", "amount": value, "bank_code": "004",
          "branch_code": "0123", "account_number": "123456789012", "account_holder": "甲先生"}, (400,)),
        (anonymous, "GET", f"/courses/{w.lottery.code}/lottery?phase={value}", None, (404,)),
        (anonymous, "GET", f"/api/v1/public/courses/{w.lottery.code}/lottery?phase={value}", None, (404,)),
        (staff, "POST", "/admin/counter/register",
         {"citizen_id": value, "course_code": course.code}, (404,)),
    ]
    for client, method, path, data, expected in cases:
        resp = client.open(path, method=method, data=data)
        assert resp.status_code in expected, (method, path, resp.status_code)
    for field in ("venue", "learner"):
        form = {"venue": str(w.venue.id), "identity": "disabled", "learner": "",
                "proof": (io.BytesIO(PDF), "proof.pdf"), field: value}
        resp = citizen.post("/account/identities", content_type="multipart/form-data", data=form)
        assert resp.status_code == 400, field
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []


def test_back_office_list_pages_refuse_a_page_that_is_not_one(app, db, world):
    """``page_<View>`` and ``psize_<View>`` of every Flask-AppBuilder list: a number beyond
    the database's bigint, or "²", is a 400, not a failed query."""
    staff = staff_client(app, "bureau")
    lists = [r for r in app.url_map.iter_rules() if r.endpoint.endswith(".list")]
    assert len(lists) > 15
    for rule in lists:
        view = rule.endpoint.split(".")[0]
        for arg in (f"page_{view}", f"psize_{view}"):
            for value in ("9" * 25, "²", "-1"):
                status = staff.get(f"{rule.rule}?{arg}={value}").status_code
                assert status in (302, 400, 403), (rule.rule, arg, value, status)
        assert staff.get(f"{rule.rule}?page_{view}=0").status_code in (200, 302, 403), rule.rule
