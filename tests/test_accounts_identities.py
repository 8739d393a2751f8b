"""Identity claims with proof upload: type and size checks, storage outside the web root,
downloads only by the owner and by staff of the claim's venue, clerk decisions audited."""
from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import AuditEntry, IdentityClaim
from app.services import identity_claims, registration
from app.services.audit import Actor
from app.services.errors import Forbidden, IllegalTransition, NotFound
from tests.factories import PASSWORD
from tests.test_accounts import new_client, page_text

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


@pytest.fixture()
def client(app, db):
    return new_client(app)


@pytest.fixture(scope="module")
def admin_app(app):
    """The app with the identity-claims back office.  Uses the session app once the lead has
    wired ``register`` into register_admin_views; until then, a second app on the same DB."""
    if any(type(v).__name__ == "IdentityClaimView" for v in app.appbuilder.baseviews):
        return app
    from app import create_app
    from app.cli import sync_permissions
    from app.views.admin import identity_claims as claims_admin

    other = create_app({
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
        "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "SERVER_NAME": None,
        "REDIS_URL": "", "UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "NOTIFY_CONSOLE_FILE": app.config["NOTIFY_CONSOLE_FILE"],
        "RECONCILIATION_INBOX": app.config["RECONCILIATION_INBOX"]})
    with other.app_context():
        claims_admin.register(other.appbuilder)
        sync_permissions()
    return other


def upload(client, venue, data, filename, identity="low_income", learner="", lang="en"):
    return client.post(f"/account/identities?lang={lang}", content_type="multipart/form-data", data={
        "venue": str(venue.id), "identity": identity, "learner": learner,
        "proof": (io.BytesIO(data), filename)})


def citizen_client(app, make, email):
    citizen = make.citizen(email=email)
    make.commit()
    c = new_client(app)
    assert c.post("/account/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return citizen, c


def staff_client(app, username):
    c = new_client(app)
    resp = c.post("/login/", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, page_text(resp)[:500]
    return c


def proof_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"]) / identity_claims.PROOF_SUBDIR
    return sorted(folder.glob("*")) if folder.exists() else []


# ------------------------------------------------------------------ the citizen

@pytest.mark.parametrize("data,filename,mime", [
    (PDF, "低收入戶證明.pdf", "application/pdf"), (PNG, "scan.PNG", "image/png"),
    (JPEG, "photo.jpeg", "image/jpeg"), (PDF, "no-extension", "application/pdf"),
])
def test_upload_is_stored_outside_the_web_root_and_the_owner_can_download(app, db, make, data, filename, mime):
    venue = make.venue()
    citizen, client = citizen_client(app, make, "claim@example.tw")
    before = set(proof_files(app))
    resp = upload(client, venue, data, filename)
    assert resp.status_code == 302
    claim = db.session.execute(select(IdentityClaim)).scalar_one()
    assert (claim.citizen_id, claim.venue_id, claim.identity, claim.status, claim.proof_mime) == \
        (citizen.id, venue.id, "low_income", "claimed", mime)
    assert claim.learner_id == citizen.self_learner.id

    [stored] = set(proof_files(app)) - before
    static = Path(app.static_folder).resolve()
    assert static not in stored.resolve().parents
    assert Path(filename).stem not in stored.name and len(stored.stem) >= 32  # a random name
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert stored.read_bytes() == data

    page = page_text(client.get("/account/identities?lang=en"))
    assert "Waiting for review" in page and claim.proof_name in page
    got = client.get(f"/account/identities/{claim.id}/proof")
    assert got.status_code == 200 and got.data == data
    assert got.mimetype == mime
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in got.headers["Cache-Control"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "identity_claim_submitted")).scalar_one().target == f"identity_claim:{claim.id}"


@pytest.mark.parametrize("data,filename", [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "setup.exe"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "proof.pdf"),  # an .exe renamed
    (b"This is just text, not a PDF.\n", "proof.pdf"),
    (b"<html><script>alert(1)</script></html>", "proof.png"),
    (b"GIF89a\x01\x00\x01\x00", "proof.gif"),
    (b"PK\x03\x04" + b"\x00" * 100, "proof.docx"),
])
@pytest.mark.parametrize("lang,message", [("en", "Only PDF, JPEG or PNG files are accepted."),
                                          ("zh_Hant_TW", "僅接受 PDF、JPEG 或 PNG 檔案。")])
def test_wrong_file_types_are_refused(app, db, make, data, filename, lang, message):
    venue = make.venue()
    _citizen, client = citizen_client(app, make, "wrongtype@example.tw")
    before = set(proof_files(app))
    resp = upload(client, venue, data, filename, lang=lang)
    assert resp.status_code == 400
    html = page_text(resp)
    assert message in html and 'id="proof-error"' in html and 'href="#proof"' in html
    assert db.session.execute(select(IdentityClaim.id)).first() is None
    assert set(proof_files(app)) == before  # nothing written


def test_too_large_is_refused(app, db, make):
    venue = make.venue()
    _citizen, client = citizen_client(app, make, "large@example.tw")
    before = set(proof_files(app))
    big = PDF + b"0" * (identity_claims.PROOF_MAX_BYTES - len(PDF) + 1)
    resp = upload(client, venue, big, "big.pdf")
    assert resp.status_code == 400
    assert "The file is larger than 5 MB. Upload a smaller scan or photo." in page_text(resp)
    just_fits = PDF + b"0" * (identity_claims.PROOF_MAX_BYTES - len(PDF))
    assert upload(client, venue, just_fits, "fits.pdf").status_code == 302
    # beyond the request size limit: a clear 413 page, never a 500
    huge = PDF + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    assert upload(client, venue, huge, "huge.pdf", identity="disabled").status_code == 413
    assert len(set(proof_files(app)) - before) == 1


@pytest.mark.parametrize("form,field", [
    ({"identity": "senior"}, "identity"),  # automatic identities are never claimed
    ({"identity": "nonsense"}, "identity"),
    ({"venue": "999999"}, "venue"),
    ({"venue": "abc"}, "venue"),
    ({"learner": "999999"}, "learner"),
    ({"proof": None}, "proof"),
    ({"proof": (io.BytesIO(b""), "empty.pdf")}, "proof"),
])
def test_bad_claim_fields_are_400_on_their_field(app, db, make, form, field):
    venue = make.venue()
    _citizen, client = citizen_client(app, make, "badclaim@example.tw")
    data = {"venue": str(venue.id), "identity": "low_income", "learner": "",
            "proof": (io.BytesIO(PDF), "ok.pdf"), **form}
    data = {k: v for k, v in data.items() if v is not None}
    resp = client.post("/account/identities", content_type="multipart/form-data", data=data)
    assert resp.status_code == 400
    assert f'id="{field}-error"' in page_text(resp)
    assert db.session.execute(select(IdentityClaim.id)).first() is None


def test_a_second_open_claim_is_refused_but_a_family_learner_may_claim(app, db, make):
    venue = make.venue()
    citizen, client = citizen_client(app, make, "twice@example.tw")
    assert upload(client, venue, PDF, "a.pdf").status_code == 302
    again = upload(client, venue, PDF, "b.pdf")
    assert again.status_code == 400
    assert "This identity is already claimed for this learner at this venue." in page_text(again)
    client.post("/account/learners", data={"name": "王小華", "birth_date": "2016-09-01",
                                           "relation": "child"})
    db.session.expire_all()
    child = [l for l in citizen.learners if l.relation == "child"][0]
    assert upload(client, venue, PDF, "c.pdf", learner=str(child.id)).status_code == 302


def test_another_citizen_cannot_download(app, db, make):
    venue = make.venue()
    _owner, owner_client = citizen_client(app, make, "owner@example.tw")
    upload(owner_client, venue, PDF, "mine.pdf")
    claim_id = db.session.execute(select(IdentityClaim.id)).scalar_one()
    _other, other_client = citizen_client(app, make, "other@example.tw")
    assert other_client.get(f"/account/identities/{claim_id}/proof").status_code == 404
    assert other_client.get("/account/identities/999999/proof").status_code == 404
    anonymous = new_client(app).get(f"/account/identities/{claim_id}/proof")
    assert anonymous.status_code == 302 and "/account/login" in anonymous.headers["Location"]


# ------------------------------------------------------------------ the back office

@pytest.fixture()
def claim_at_venue(app, db, make):
    venue, other_venue = make.venue("DD", "大墩文化中心"), make.venue("TQ", "屯區藝文中心")
    citizen, client = citizen_client(app, make, "staffcase@example.tw")
    assert upload(client, venue, PDF, "證明.pdf").status_code == 302
    claim = db.session.execute(select(IdentityClaim)).scalar_one()
    make.staff("clerk_dd", "Venue Clerk", venue)
    make.staff("clerk_tq", "Venue Clerk", other_venue)
    make.staff("admin_tq", "Venue Admin", other_venue)
    make.staff("bureau", "Bureau Admin")
    return claim, venue, other_venue, citizen


def test_staff_of_the_venue_can_download_others_cannot(admin_app, db, claim_at_venue):
    claim, *_ = claim_at_venue
    url = f"/identityclaimview/proof/{claim.id}"
    own = staff_client(admin_app, "clerk_dd").get(url)
    assert own.status_code == 200 and own.data == PDF
    assert own.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in own.headers["Cache-Control"]
    for username in ("clerk_tq", "admin_tq"):
        assert staff_client(admin_app, username).get(url).status_code in (403, 404)
    assert staff_client(admin_app, "bureau").get(url).status_code == 200
    assert new_client(admin_app).get(url).status_code in (302, 401, 403)  # not logged in
    viewed = db.session.execute(select(AuditEntry.actor).where(
        AuditEntry.event == "identity_proof_viewed").order_by(AuditEntry.id)).scalars().all()
    assert viewed == ["clerk_dd", "bureau"]


def test_clerk_of_the_venue_verifies_with_an_audit_record(admin_app, db, claim_at_venue):
    claim, venue, _other, citizen = claim_at_venue
    outsider = staff_client(admin_app, "clerk_tq")
    assert outsider.get(f"/identityclaimview/show/{claim.id}").status_code in (403, 404)
    refused = outsider.post("/identityclaimview/action_post", data={"action": "verify", "rowid": [str(claim.id)]})
    assert refused.status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(IdentityClaim, claim.id).status == "claimed"

    clerk = staff_client(admin_app, "clerk_dd")
    listing = page_text(clerk.get("/identityclaimview/list/"))
    assert citizen.name in listing
    ok = clerk.post("/identityclaimview/action_post", data={"action": "verify", "rowid": [str(claim.id)]})
    assert ok.status_code == 302
    db.session.expire_all()
    decided = db.session.get(IdentityClaim, claim.id)
    assert (decided.status, decided.decided_by) == ("verified", "clerk_dd")
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.event == "identity_claim_verified")).scalar_one()
    assert (entry.actor, entry.target, entry.venue_id) == ("clerk_dd", f"identity_claim:{claim.id}", venue.id)
    # the verified identity now counts for the learner at that venue only
    learner = citizen.self_learner
    assert registration.verified_identities(db.session, learner, venue.id) == {"low_income"}
    assert registration.verified_identities(db.session, learner, _other.id) == set()

    assert clerk.post("/identityclaimview/action_post",
                      data={"action": "reject", "rowid": [str(claim.id)]}).status_code == 302
    db.session.expire_all()
    assert db.session.get(IdentityClaim, claim.id).status == "rejected"
    assert db.session.execute(select(AuditEntry.id).where(
        AuditEntry.event == "identity_claim_rejected")).scalar_one()


# ------------------------------------------------------------------ the service

def test_service_checks_venue_and_transitions(db, claim_at_venue):
    claim, venue, other_venue, _citizen = claim_at_venue
    clerk = Actor(type="staff", name="clerk_tq", venue_id=other_venue.id)
    with pytest.raises(Forbidden):
        identity_claims.verify_claim(db.session, claim.id, other_venue.id, clerk)
    with pytest.raises(Forbidden):
        identity_claims.verify_claim(db.session, claim.id, None, clerk)
    with pytest.raises(NotFound):
        identity_claims.proof_for_staff(db.session, claim.id, other_venue.id)
    with pytest.raises(NotFound):
        identity_claims.proof_for_staff(db.session, claim.id, None)
    assert identity_claims.proof_for_staff(db.session, claim.id, venue.id).path.read_bytes() == PDF
    assert identity_claims.proof_for_staff(db.session, claim.id, identity_claims.ALL_VENUES).mime == "application/pdf"

    mine = Actor(type="staff", name="clerk_dd", venue_id=venue.id)
    identity_claims.verify_claim(db.session, claim.id, venue.id, mine, note="看過正本")
    with pytest.raises(IllegalTransition):
        identity_claims.verify_claim(db.session, claim.id, venue.id, mine)
    assert claim.note == "看過正本"


def test_a_tampered_proof_path_never_leaves_the_upload_dir(db, claim_at_venue):
    claim, venue, *_ = claim_at_venue
    claim.proof_path = "../../../../etc/passwd"
    db.session.flush()
    with pytest.raises(NotFound):
        identity_claims.proof_for_staff(db.session, claim.id, venue.id)
    with pytest.raises(NotFound):
        identity_claims.proof_for_citizen(db.session, claim.citizen, claim.id)


def test_sniffing_by_magic_bytes():
    assert identity_claims.sniff_proof_type(PDF) == "application/pdf"
    assert identity_claims.sniff_proof_type(PNG) == "image/png"
    assert identity_claims.sniff_proof_type(JPEG) == "image/jpeg"
    for bad in (b"", b"MZ", b" %PDF-1.4", b"GIF89a", b"\x89PNG"):
        assert identity_claims.sniff_proof_type(bad) is None
