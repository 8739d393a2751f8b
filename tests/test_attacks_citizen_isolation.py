"""One citizen cannot read or change another's things.

Citizen B, logged in, tries every public URL that takes an id (found in ``app.url_map``)
with citizen A's ids — registrations in every state, slips (page, PDF, QR, barcodes), the
receipt, the refund, the identity claim's proof, the survey of A's term — by GET and by
POST, and the forms that take an id in the body (a learner, a term).  Each answer is 404
(or 403), shows none of A's data, and the database is unchanged (only the refusal's own
trail entry is written).  A new public URL with a parameter fails the test until it is
classified here.  Positive twin: A gets each of the same pages.

Then B's own pages, every public page and the open-data API are searched for A's personal
data (name unmasked, e-mail, phone, national ID), and B's session opens no back-office page.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.models import IdentityClaim, Registration, SurveyResponse
from app.services import accounts
from tests.attack_world import (
    PDF, PUBLIC_BLUEPRINTS, World, audit_events_since, changed, citizen_client, fingerprint,
    last_audit_id, new_client,
)
from tests.factories import PASSWORD

REFUSED = (403, 404)

#: Public routes whose parameter names a citizen's own thing (URLs in owned_urls()).
OWNED = {"registration.detail", "registration.withdraw", "payments.slip", "payments.receipt",
         "payments.refund", "payments.slip_pdf", "payments.slip_qr", "payments.slip_barcode",
         "account.identity_proof", "survey.page"}

#: Public routes whose parameters name nothing personal, or a secret the owner was sent.
NOT_OWNED = {
    "public.course": "a course code: the catalogue is public",
    "registration.admissions": "a course code: admission lists are public (masked names)",
    "registration.lottery": "a course code: lottery records are public (masked names)",
    "registration.lottery_json": "a course code: lottery records are public (masked names)",
    "registration.register": "a course code; the learner in the body is tried below",
    "public.language": "a language code",
    "account.verify_email": "an unguessable single-use token sent to the owner (tested in test_accounts)",
    "account.reset_password": "an unguessable single-use token sent to the owner (tested in test_accounts)",
}


@pytest.fixture()
def world(make, db, app):
    return World(make, db, app)


def owned_urls(w: World) -> dict[str, list[str]]:
    """Per endpoint with an id: URLs of A's things, each of which A may open."""
    regs = (w.reg_admitted, w.reg_paid, w.reg_refund, w.reg_applied)
    slips = (w.slip_admitted, w.slip_paid, w.slip_refund)
    return {
        "registration.detail": [f"/my/registrations/{r.id}" for r in regs],
        "registration.withdraw": [f"/my/registrations/{r.id}/withdraw" for r in (w.reg_admitted, w.reg_applied)],
        "payments.slip": [f"/payments/registrations/{r.id}/slip" for r in (w.reg_admitted,)],
        "payments.receipt": [f"/payments/registrations/{r.id}/receipt.pdf" for r in (w.reg_paid,)],
        "payments.refund": [f"/payments/registrations/{r.id}/refund" for r in (w.reg_paid, w.reg_refund)],
        "payments.slip_pdf": [f"/payments/slips/{s.id}.pdf" for s in slips],
        "payments.slip_qr": [f"/payments/slips/{s.id}/qr.svg" for s in slips],
        "payments.slip_barcode": [f"/payments/slips/{s.id}/barcode-{n}.svg" for s in slips for n in (1, 2, 3)],
        "account.identity_proof": [f"/account/identities/{w.claim.id}/proof"],
        "survey.page": [f"/survey/terms/{w.term.id}"],
    }


def personal_strings(w: World) -> list[str]:
    nid = accounts.cipher().decrypt(w.a.national_id_enc)
    return [w.a.name, w.child.name, w.a.email, w.a.phone, nid, w.refund.reason,
            w.slip_admitted.virtual_account, w.slip_admitted.barcode2]


def form_for(endpoint: str, w: World) -> dict:
    """A body that would succeed for the owner (so a refusal is the ownership check)."""
    return {
        "registration.withdraw": {"password": PASSWORD},
        "payments.refund": {"password": PASSWORD, "reason": "x", "bank_code": "004",
                            "branch_code": "0123", "account_number": "123456789012",
                            "account_holder": "乙小姐"},
        "survey.page": {"overall": "5", "ease": "5", "comment": "x"},
    }.get(endpoint, {})


def test_every_public_url_with_a_parameter_is_classified(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in PUBLIC_BLUEPRINTS or not rule.arguments:
            continue
        assert rule.endpoint in NOT_OWNED or rule.endpoint in OWNED, \
            f"unclassified public URL with a parameter: {rule.rule}"


def test_another_citizens_things_are_404_by_get_and_post(app, db, world):
    w = world
    urls = owned_urls(w)
    assert set(urls) == OWNED
    # Positive twin: the owner opens every one of them.
    owner = citizen_client(app, w.a)
    for endpoint, paths in urls.items():
        for path in paths:
            assert owner.get(path).status_code == 200, path
    stranger = citizen_client(app, w.b)
    secrets_of_a = personal_strings(w)
    before = fingerprint(db.session, exclude=("audit_entry",))
    mark = last_audit_id(db.session)
    methods = {r.endpoint: r.methods for r in app.url_map.iter_rules()}
    tried = 0
    for endpoint, paths in urls.items():
        for path in paths:
            for method in sorted(methods[endpoint] & {"GET", "POST"}):
                resp = stranger.open(path, method=method, data=form_for(endpoint, w))
                assert resp.status_code in REFUSED, (method, path, resp.status_code)
                body = resp.get_data(as_text=True)
                for secret in secrets_of_a:
                    assert secret not in body, (method, path, secret)
                tried += 1
    assert tried >= 30
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []
    assert set(audit_events_since(db.session, mark)) <= {"payment_access_refused"}


def _count(db, model, *where):
    db.session.expire_all()
    n = db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    db.session.commit()
    return n


def test_another_citizens_ids_in_a_form_body_are_refused(app, db, world, make):
    w = world
    stranger = citizen_client(app, w.b)
    course = make.course(w.venue, w.term, title="兒童課程")
    make.commit()
    before = fingerprint(db.session, exclude=("audit_entry",))
    # register A's child for a course
    resp = stranger.post(f"/courses/{course.code}/register", data={"learner_id": str(w.child.id)})
    assert resp.status_code in (400, 403, 404) and w.child.name not in resp.get_data(as_text=True)
    assert _count(db, Registration, Registration.course_id == course.id) == 0
    # claim an identity for A's child
    resp = stranger.post("/account/identities", content_type="multipart/form-data", data={
        "venue": str(w.venue.id), "identity": "disabled", "learner": str(w.child.id),
        "proof": (io.BytesIO(PDF), "proof.pdf")})
    assert resp.status_code == 400 and w.child.name not in resp.get_data(as_text=True)
    assert _count(db, IdentityClaim, IdentityClaim.citizen_id == w.b.id) == 0
    # answer or dismiss the survey of a term B took no part in (A's term)
    for path in ("/survey/answer", "/survey/dismiss"):
        resp = stranger.post(path, data={"term_id": str(w.term.id), "overall": "1", "ease": "1"},
                             headers={"Accept": "application/json"})
        assert resp.status_code in REFUSED, path
    assert _count(db, SurveyResponse) == 0
    assert changed(before, fingerprint(db.session, exclude=("audit_entry",))) == []
    # Positive twin: B registers their own self for the same course.
    assert stranger.post(f"/courses/{course.code}/register").status_code == 302
    assert _count(db, Registration, Registration.course_id == course.id,
                  Registration.citizen_id == w.b.id) == 1


def test_no_page_shows_another_citizens_personal_data(app, db, world):
    """B's own pages, every public page without a parameter, A's courses' public pages and
    the open-data API: A's name appears only masked, nothing else of A's at all."""
    w = world
    stranger = citizen_client(app, w.b)
    anonymous = new_client(app)
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in PUBLIC_BLUEPRINTS and "GET" in rule.methods \
                and not rule.arguments:
            paths.append(rule.rule)
    for course in (w.course, w.lottery, w.reg_paid.course, w.reg_refund.course):
        paths += [f"/courses/{course.code}", f"/courses/{course.code}/admissions",
                  f"/courses/{course.code}/lottery", f"/api/v1/public/courses/{course.code}",
                  f"/api/v1/public/courses/{course.code}/admissions",
                  f"/api/v1/public/courses/{course.code}/lottery"]
    paths += ["/api/v1/public/courses", f"/my/registrations/{w.reg_b.id}"]
    assert "/my/registrations" in paths and "/account/learners" in paths
    secrets_of_a = personal_strings(w)
    seen_masked = False
    for client in (stranger, anonymous):
        for path in paths:
            resp = client.get(path)
            assert resp.status_code in (200, 302, 404), (path, resp.status_code)
            body = resp.get_data(as_text=True)
            for secret in secrets_of_a:
                assert secret not in body, (path, secret)
            seen_masked |= "甲○生" in body
    assert seen_masked, "the admission list should show A masked (a sanity check of the pages)"


def test_a_citizen_session_opens_no_back_office_page(app, db, world):
    stranger = citizen_client(app, world.b)
    opened = []
    for rule in app.url_map.iter_rules():
        bp = rule.endpoint.split(".")[0]
        if "GET" not in rule.methods or bp in PUBLIC_BLUEPRINTS or bp in (
                "static", "appbuilder", "PublicApi", "AuthDBView", "LocaleView", "UtilView",
                "SwaggerView", "OpenApi", "BackOfficeIndexView"):  # the last: a static welcome page
            continue
        values = {arg: "1" for arg in rule.arguments}
        values.update({k: "x" for k in ("name", "filename", "group_by", "fmt")
                       if k in rule.arguments})
        if "version" in rule.arguments:
            values["version"] = "v1"
        path = rule.build(values, append_unknown=False)[1]
        resp = stranger.get(path)
        if resp.status_code == 200:
            opened.append(path)
        else:
            assert resp.status_code in (302, 401, 403, 404), (path, resp.status_code)
    assert opened == [], f"back-office pages open to a citizen's session: {opened}"
