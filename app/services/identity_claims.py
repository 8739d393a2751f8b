"""Identity claims (身分別) with an uploaded proof, and the clerk's decision on them.

A citizen claims an identity that needs proof (低收入戶, 中低收入戶, 身心障礙, 原住民; see
``identities.NEEDS_PROOF``) at one venue and uploads a document.  The claim counts for
discounts and eligibility only once a clerk of *that* venue verified it.

Proof files:

* accepted by their first bytes, not by the name or the browser's content type: PDF, JPEG
  or PNG only, at most 5 MB;
* stored under ``UPLOAD_DIR`` (never inside the web root) with a random name, the original
  name kept only for display;
* read back only through :func:`proof_for_citizen` (the owner) or :func:`proof_for_staff`
  (staff whose venue the claim belongs to).

Decisions (:func:`verify_claim`, :func:`reject_claim`) are checked against the venue and
recorded in the security trail.
"""
from __future__ import annotations

import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Citizen, IdentityClaim, Learner, Venue
from . import audit, clock
from .accounts import FieldError
from .audit import Actor
from .errors import Forbidden, IllegalTransition, NotFound
from .identities import NEEDS_PROOF
from .ids import parse_id

PROOF_MAX_BYTES = 5 * 1024 * 1024
#: Accepted proof types: MIME type -> stored extension.
PROOF_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
PROOF_SUBDIR = "identity-proofs"

#: ``venue_scope`` value for city-wide staff (Bureau Admin, Supervisor).
ALL_VENUES = "*"

STATUS_LABELS = {
    "claimed": _l("Waiting for review"),
    "verified": _l("Verified"),
    "rejected": _l("Not accepted"),
}
#: Allowed decisions: (from, to).  A clerk may correct an earlier decision.
TRANSITIONS = {("claimed", "verified"), ("claimed", "rejected"),
               ("verified", "rejected"), ("rejected", "verified")}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def sniff_proof_type(head: bytes) -> str | None:
    """The MIME type of a proof file from its magic bytes, or None if not accepted."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def upload_root() -> Path:
    """``UPLOAD_DIR``, refusing a directory the web server would publish."""
    root = Path(current_app.config["UPLOAD_DIR"]).resolve()
    static = Path(current_app.static_folder).resolve() if current_app.static_folder else None
    if static is not None and (root == static or static in root.parents):
        raise RuntimeError("UPLOAD_DIR must be outside the web root (the static folder).")
    return root


def _display_name(filename: str | None, ext: str) -> str:
    """The uploaded file's own name, cleaned for display and Content-Disposition."""
    base = os.path.basename((filename or "").replace("\\", "/"))
    base = "".join(c for c in unicodedata.normalize("NFC", base)
                   if unicodedata.category(c)[0] != "C").strip(" .")
    if not base:
        base = "proof" + ext
    stem, _dot, _old = base.rpartition(".")
    base = (stem or base)[:150] + ext  # the extension always matches the real type
    return base[:200]


def _store(data: bytes, ext: str) -> str:
    root = upload_root()
    folder = root / PROOF_SUBDIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    rel = f"{PROOF_SUBDIR}/{secrets.token_urlsafe(24)}{ext}"
    fd = os.open(root / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return rel


def _resolve(rel: str) -> Path:
    root = upload_root()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound(_l("The proof file is not available."))
    return path


def submit_claim(session: Session, citizen: Citizen, *, venue_id, identity: str,
                 stream: BinaryIO | None, filename: str | None, actor: Actor,
                 learner_id=None) -> IdentityClaim:
    """Record a claim with its proof.  Raises FieldError (venue, identity, learner, proof)."""
    venue_key = parse_id(venue_id)
    venue = session.get(Venue, venue_key) if venue_key else None
    if venue is None:
        raise FieldError("venue", _l("Choose the venue where the identity should count."))
    if identity not in NEEDS_PROOF:
        raise FieldError("identity", _l("Choose an identity from the list."))
    if learner_id in (None, ""):
        learner = citizen.self_learner
    else:
        learner_key = parse_id(learner_id)
        learner = session.get(Learner, learner_key) if learner_key else None
        if learner is None or learner.citizen_id != citizen.id:
            raise FieldError("learner", _l("Choose a learner on your account."))
    open_claim = session.execute(select(IdentityClaim.id).where(
        IdentityClaim.citizen_id == citizen.id, IdentityClaim.venue_id == venue.id,
        IdentityClaim.identity == identity,
        IdentityClaim.learner_id == (learner.id if learner is not None else None),
        IdentityClaim.status.in_(("claimed", "verified")))).first()
    if open_claim:
        raise FieldError("identity", _l("This identity is already claimed for this learner at this venue."))
    data = stream.read(PROOF_MAX_BYTES + 1) if stream is not None else b""
    if not data:
        raise FieldError("proof", _l("Choose the proof file to upload (PDF, JPEG or PNG)."))
    if len(data) > PROOF_MAX_BYTES:
        raise FieldError("proof", _l("The file is larger than 5 MB. Upload a smaller scan or photo."))
    mime = sniff_proof_type(data[:16])
    if mime is None:
        raise FieldError("proof", _l("Only PDF, JPEG or PNG files are accepted."))
    ext = PROOF_TYPES[mime]
    rel = _store(data, ext)
    try:
        claim = IdentityClaim(citizen_id=citizen.id, learner_id=learner.id if learner else None,
                              venue_id=venue.id, identity=identity, status="claimed",
                              proof_path=rel, proof_mime=mime,
                              proof_name=_display_name(filename, ext), claimed_at=clock.now())
        session.add(claim)
        session.flush()
        audit.record(session, "identity_claim_submitted", actor, target=f"identity_claim:{claim.id}",
                     detail={"venue_id": venue.id, "identity": identity, "mime": mime,
                             "size": len(data)})
    except Exception:
        (upload_root() / rel).unlink(missing_ok=True)
        raise
    return claim


def claims_for_citizen(session: Session, citizen: Citizen) -> list[IdentityClaim]:
    return list(session.execute(select(IdentityClaim).where(
        IdentityClaim.citizen_id == citizen.id).order_by(IdentityClaim.id.desc())).scalars())


@dataclass(frozen=True)
class ProofFile:
    path: Path
    mime: str
    name: str


def _proof(claim: IdentityClaim) -> ProofFile:
    if not claim.proof_path:
        raise NotFound(_l("The proof file is not available."))
    return ProofFile(_resolve(claim.proof_path), claim.proof_mime or "application/octet-stream",
                     claim.proof_name or "proof")


def proof_for_citizen(session: Session, citizen: Citizen, claim_id: int) -> ProofFile:
    """The citizen's own proof; another citizen's claim does not exist for them (404)."""
    claim = session.get(IdentityClaim, claim_id)
    if claim is None or claim.citizen_id != citizen.id:
        raise NotFound(_l("The proof file is not available."))
    return _proof(claim)


def _in_scope(claim: IdentityClaim, venue_scope) -> bool:
    if venue_scope == ALL_VENUES:
        return True
    return venue_scope is not None and claim.venue_id == venue_scope


def proof_for_staff(session: Session, claim_id: int, venue_scope, actor: Actor | None = None) -> ProofFile:
    """The proof for back-office staff.  ``venue_scope``: the staff member's venue id,
    :data:`ALL_VENUES` for city-wide roles, or None (no venue: nothing).  A claim of another
    venue is answered like a missing one (404).  With ``actor``, the viewing is recorded."""
    claim = session.get(IdentityClaim, claim_id)
    if claim is None or not _in_scope(claim, venue_scope):
        raise NotFound(_l("The proof file is not available."))
    proof = _proof(claim)
    if actor is not None:
        audit.record(session, "identity_proof_viewed", actor, target=f"identity_claim:{claim.id}",
                     detail={"venue_id": claim.venue_id, "citizen_id": claim.citizen_id})
    return proof


def _decide(session: Session, claim_id: int, to: str, venue_scope, actor: Actor,
            note: str = "") -> IdentityClaim:
    claim = session.get(IdentityClaim, claim_id, with_for_update=True)
    if claim is None:
        raise NotFound()
    if not _in_scope(claim, venue_scope):
        raise Forbidden(_l("This claim belongs to another venue."))
    if (claim.status, to) not in TRANSITIONS:
        raise IllegalTransition(_l("This claim is already %(status)s."), status=status_label(claim.status))
    before = claim.status
    claim.status = to
    claim.decided_at = clock.now()
    claim.decided_by = actor.name[:64]
    claim.note = (note or "").strip()[:200] or None
    audit.record(session, f"identity_claim_{to}", actor, target=f"identity_claim:{claim.id}",
                 detail={"from": before, "to": to, "venue_id": claim.venue_id,
                         "identity": claim.identity, "citizen_id": claim.citizen_id,
                         "note": claim.note or ""})
    session.flush()
    return claim


def verify_claim(session: Session, claim_id: int, venue_scope, actor: Actor, note: str = "") -> IdentityClaim:
    """A clerk of the claim's venue accepts the proof (the identity now counts)."""
    return _decide(session, claim_id, "verified", venue_scope, actor, note)


def reject_claim(session: Session, claim_id: int, venue_scope, actor: Actor, note: str = "") -> IdentityClaim:
    """A clerk of the claim's venue refuses the proof (or withdraws an earlier verification)."""
    return _decide(session, claim_id, "rejected", venue_scope, actor, note)
